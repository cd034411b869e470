"""TFDS builders write array_record files without TensorFlow; `data.tfds_dir` reads them back into the
plain loader's data, on fixtures in the original formats and on the shared ML-100K copy.

tensorflow-datasets is part of the `test` extra, so these run (not skip) in CI.
"""

import os

import numpy as np
import pytest

from data import tfds_builders
from onerec_jax.input.config import DataConfig
from onerec_jax.input import datasets
from onerec_jax.input.amazon import load_amazon
from onerec_jax.input.datasets import load_sequences
from onerec_jax.input.movielens import load_ml100k
from onerec_jax.input.tfds_source import load_tfds_sequences

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "original")
SHARED_FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "shared")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIELDS = (
  "items",
  "lengths",
  "feedback",
  "positive",
  "user_ids",
  "user_static",
  "item_category",
  "item_author",
  "item_content",
)


def _assert_same(back, want):
  for field in FIELDS:
    np.testing.assert_array_equal(getattr(back, field), getattr(want, field), err_msg=field)
  assert (back.num_categories, back.num_authors, back.static_vocab_sizes) == (
    want.num_categories,
    want.num_authors,
    want.static_vocab_sizes,
  )


def test_ml100k_round_trip(tmp_path):
  tfds_builders.prepare("ml100k", str(tmp_path), manual_dir=FIXTURES)
  files = [f for _, _, fs in os.walk(tmp_path) for f in fs if ".array_record-" in f]
  assert len(files) == 2, files  # sequences and items
  want = load_ml100k(FIXTURES).data
  _assert_same(load_tfds_sequences("ml100k", str(tmp_path)), want)
  # The training/evaluation path: DataConfig.tfds_dir reads the files, not the raw data (no data_dir).
  data, sim = load_sequences(DataConfig(dataset="ml100k", data_dir="/nonexistent", tfds_dir=str(tmp_path)))
  assert sim is None
  _assert_same(data, want)


def test_missing_tfds_dir_names_the_folder_and_the_command(tmp_path):
  with pytest.raises(
    FileNotFoundError,
    match=r"no prepared TFDS dataset at .*ml1m/sequences/1\.0\.0.*"
    r"python -m data.tfds_builders --dataset=ml1m",
  ):
    load_sequences(DataConfig(dataset="ml1m", tfds_dir=str(tmp_path)))


@pytest.mark.integration
def test_shared_ml100k_through_tfds_equals_plain_loader(tmp_path):
  root = os.environ.get("ONEREC_DATA_DIR") or os.path.join(REPO, "..", "shared", "data")
  if not os.path.isdir(os.path.join(root, "ml-100k")):
    message = f"{os.path.join(root, 'ml-100k')} is missing (set ONEREC_DATA_DIR to the shared data directory)"
    if os.environ.get("CI"):
      pytest.fail(message)
    pytest.skip(message)
  tfds_builders.prepare("ml100k", str(tmp_path), manual_dir=root)
  data, _ = load_sequences(DataConfig(dataset="ml100k", tfds_dir=str(tmp_path)))
  assert (data.num_users, data.num_items, int(data.lengths.sum())) == (943, 1682, 100_000)
  _assert_same(data, load_ml100k(root).data)


def test_every_real_dataset_has_a_builder_module():
  import importlib

  for name in ("ml1m", "ml100k", "amazon_beauty", "kuairand_pure"):
    module = importlib.import_module(f"data.{name}.{name}_dataset_builder")
    assert module.Builder.DATASET == name


def test_builders_are_derived_from_the_registry(tmp_path):
  file_based = [s.name for s in datasets.specs() if s.reads_files and not s.is_pattern] + ["amazon_beauty"]
  assert sorted(tfds_builders.BUILDERS) == sorted(file_based)
  for name, cls in tfds_builders.BUILDERS.items():
    assert cls.name == cls.DATASET == name
  with pytest.raises(ValueError, match="no TFDS builder for 'movielens'"):
    tfds_builders.builder("movielens", str(tmp_path), "sequences")
  # Any other name a pattern accepts gets its builder on first use: a short-named Amazon folder.
  tfds_builders.prepare("amazon_sports", str(tmp_path), manual_dir=SHARED_FIXTURES)
  assert tfds_builders.BUILDERS["amazon_sports"].name == "amazon_sports"
  _assert_same(load_tfds_sequences("amazon_sports", str(tmp_path)), load_amazon(SHARED_FIXTURES, "sports").data)
