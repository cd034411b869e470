"""TFDS builders write array_record files without TensorFlow and read back the plain loader's data.

Skipped when tensorflow-datasets is not installed (it is the optional extra `tfds`).
"""

import os

import numpy as np
import pytest

pytest.importorskip("tensorflow_datasets")
pytest.importorskip("array_record")

from data import tfds_builders  # noqa: E402
from onerec_jax.input.movielens import load_ml100k  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "original")


def test_ml100k_round_trip(tmp_path):
  tfds_builders.prepare("ml100k", str(tmp_path), manual_dir=FIXTURES)
  files = [f for _, _, fs in os.walk(tmp_path) for f in fs if ".array_record-" in f]
  assert len(files) == 2, files  # sequences and items
  back = tfds_builders.load_tfds_sequences("ml100k", str(tmp_path))
  want = load_ml100k(FIXTURES).data
  for field in ("items", "lengths", "feedback", "positive", "user_ids", "user_static", "item_category",
                "item_author", "item_content"):
    np.testing.assert_array_equal(getattr(back, field), getattr(want, field), err_msg=field)
  assert (back.num_categories, back.num_authors, back.static_vocab_sizes) == (
      want.num_categories, want.num_authors, want.static_vocab_sizes)


def test_every_real_dataset_has_a_builder_module():
  import importlib
  for name in ("ml1m", "ml100k", "amazon_beauty", "kuairand_pure"):
    module = importlib.import_module(f"data.{name}.{name}_dataset_builder")
    assert module.Builder.DATASET == name
