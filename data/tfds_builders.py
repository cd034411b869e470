"""TFDS builders (tensorflow-datasets 4.9.10, array_record files, no TensorFlow) for the real datasets.

Each builder reads the raw files from its manual dir (the data directory holding `ml-1m/`,
`amazon-beauty/`, ...; default $ONEREC_DATA_DIR) through the plain loaders of `onerec_jax.input`
(same parsing, rules and splits) and writes two configs:
  `<name>/sequences`: one example per user: user_id int64, items [n] int32 (dense item index, time
                      order), feedback [n, 4] float32 (FEEDBACK_NAMES), positive [n] bool, static [s] int32;
  `<name>/items`:     one example per item: item int32, category int32, author int32, content [dc] float32.
`load_tfds_sequences(name, data_dir)` reads both back (ArrayRecordDataSource, random access, no TF) into
the same SequenceDataset the plain loader returns. The plain loaders stay the default path: TFDS is
optional (`pip install -e .[tfds]`).

  python -m data.tfds_builders --dataset=ml1m --tfds_dir=/tmp/tfds [--manual_dir=../shared/data]
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow_datasets as tfds

from onerec_jax.input.config import DataConfig
from onerec_jax.input.datasets import load_dataset
from onerec_jax.input.sequences import FEEDBACK_NAMES, SequenceDataset

VERSION = "1.0.0"
_CACHE: dict = {}


def _loaded(name: str, manual_dir: str):
  key = (name, os.path.abspath(manual_dir))
  if key not in _CACHE:
    _CACHE[key] = load_dataset(DataConfig(dataset=name, data_dir=manual_dir))
  return _CACHE[key]


class _SequencesBuilder(tfds.core.GeneratorBasedBuilder):
  """Base of the per-dataset builders; subclasses set DATASET (the onerec_jax dataset name)."""

  VERSION = tfds.core.Version(VERSION)
  DATASET = ""
  BUILDER_CONFIGS = [tfds.core.BuilderConfig(name="sequences", description="one example per user"),
                     tfds.core.BuilderConfig(name="items", description="one example per item")]
  MANUAL_DOWNLOAD_INSTRUCTIONS = ("Point --manual_dir at the data directory holding the dataset folder "
                                  "(see data/README.md and the loader's module docstring).")

  def _info(self) -> tfds.core.DatasetInfo:
    if self.builder_config.name == "sequences":
      features = tfds.features.FeaturesDict({
          "user_id": np.int64,
          "items": tfds.features.Tensor(shape=(None,), dtype=np.int32),
          "feedback": tfds.features.Tensor(shape=(None, len(FEEDBACK_NAMES)), dtype=np.float32),
          "positive": tfds.features.Tensor(shape=(None,), dtype=np.bool_),
          "static": tfds.features.Tensor(shape=(None,), dtype=np.int32),
      })
    else:
      features = tfds.features.FeaturesDict({
          "item": np.int32, "category": np.int32, "author": np.int32,
          "content": tfds.features.Tensor(shape=(None,), dtype=np.float32),
      })
    return tfds.core.DatasetInfo(builder=self, features=features, description=self.__doc__,
                                 metadata=tfds.core.MetadataDict())

  def _split_generators(self, dl_manager):
    manual = dl_manager.manual_dir or os.environ.get("ONEREC_DATA_DIR", "")
    return {"train": self._generate_examples(str(manual))}

  def _generate_examples(self, manual_dir: str):
    loaded = _loaded(self.DATASET, manual_dir)
    data = loaded.data
    if self.builder_config.name == "sequences":
      for r in range(data.num_users):
        n = int(data.lengths[r])
        yield r, {"user_id": int(data.user_ids[r]), "items": data.items[r, :n], "feedback": data.feedback[r, :n],
                  "positive": data.positive[r, :n], "static": data.user_static[r]}
    else:
      for i in range(data.num_items):
        yield i, {"item": i, "category": int(data.item_category[i]), "author": int(data.item_author[i]),
                  "content": data.item_content[i]}
    self.info.metadata.update(
        num_categories=data.num_categories, num_authors=data.num_authors,
        static_vocab_sizes=list(data.static_vocab_sizes), stats=loaded.stats.as_dict())


class Ml1m(_SequencesBuilder):
  """MovieLens-1M (onerec_jax/input/movielens.py)."""
  DATASET = "ml1m"


class Ml100k(_SequencesBuilder):
  """MovieLens-100K (onerec_jax/input/movielens.py)."""
  DATASET = "ml100k"


class AmazonBeauty(_SequencesBuilder):
  """Amazon Beauty 5-core (onerec_jax/input/amazon.py)."""
  DATASET = "amazon_beauty"


class KuairandPure(_SequencesBuilder):
  """KuaiRand-Pure (onerec_jax/input/kuairand.py)."""
  DATASET = "kuairand_pure"


BUILDERS = {b.DATASET: b for b in (Ml1m, Ml100k, AmazonBeauty, KuairandPure)}


def builder(name: str, tfds_dir: str, config: str, manual_dir: str = "") -> tfds.core.DatasetBuilder:
  """The builder of dataset `name` (an onerec_jax name) and config 'sequences' | 'items'."""
  if name not in BUILDERS:
    raise ValueError(f"no TFDS builder for {name!r}; have {sorted(BUILDERS)}")
  cls = BUILDERS[name]
  return cls(config=config, data_dir=tfds_dir, file_format="array_record")


def prepare(name: str, tfds_dir: str, manual_dir: str = "") -> None:
  """Writes both configs of `name` as array_record files under tfds_dir (no-op when already there)."""
  manual_dir = manual_dir or os.environ.get("ONEREC_DATA_DIR", "")
  for config in ("sequences", "items"):
    b = builder(name, tfds_dir, config)
    b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))


def load_tfds_sequences(name: str, tfds_dir: str) -> SequenceDataset:
  """Reads a prepared dataset back into a SequenceDataset equal to the plain loader's."""
  seq_b, item_b = builder(name, tfds_dir, "sequences"), builder(name, tfds_dir, "items")
  users = seq_b.as_data_source()["train"]
  items = item_b.as_data_source()["train"]
  user_rows = sorted((users[j] for j in range(len(users))), key=lambda e: e["user_id"])
  item_rows = sorted((items[j] for j in range(len(items))), key=lambda e: e["item"])
  u, n = len(user_rows), max(len(e["items"]) for e in user_rows)
  out = np.full((u, n), -1, np.int32)
  feedback = np.zeros((u, n, len(FEEDBACK_NAMES)), np.float32)
  positive = np.zeros((u, n), bool)
  lengths = np.zeros(u, np.int32)
  for r, e in enumerate(user_rows):
    m = len(e["items"])
    lengths[r], out[r, :m], feedback[r, :m], positive[r, :m] = m, e["items"], e["feedback"], e["positive"]
  meta = seq_b.info.metadata
  data = SequenceDataset(
      items=out, lengths=lengths, feedback=feedback, positive=positive,
      user_ids=np.array([e["user_id"] for e in user_rows], np.int64),
      user_static=np.stack([e["static"] for e in user_rows]).astype(np.int32),
      static_vocab_sizes=tuple(meta["static_vocab_sizes"]),
      item_category=np.array([e["category"] for e in item_rows], np.int32),
      item_author=np.array([e["author"] for e in item_rows], np.int32),
      item_content=np.stack([e["content"] for e in item_rows]).astype(np.float32),
      num_categories=int(meta["num_categories"]), num_authors=int(meta["num_authors"]), name=name)
  data.validate()
  return data


if __name__ == "__main__":
  from absl import app, flags

  _DATASET = flags.DEFINE_string("dataset", None, "onerec_jax dataset name with a builder")
  _TFDS_DIR = flags.DEFINE_string("tfds_dir", None, "where the array_record files go")
  _MANUAL = flags.DEFINE_string("manual_dir", "", "data directory (default $ONEREC_DATA_DIR)")

  def main(argv):
    del argv
    prepare(_DATASET.value, _TFDS_DIR.value, _MANUAL.value)
    print(load_tfds_sequences(_DATASET.value, _TFDS_DIR.value).items.shape)

  app.run(main)
