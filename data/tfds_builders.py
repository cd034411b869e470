"""TFDS builders (tensorflow-datasets 4.9.10, array_record files, no TensorFlow) for the real datasets.

The builders are derived from the dataset registry (onerec_jax/input/datasets.py): one per file-based
DatasetSpec (ml1m, ml100k, amazon_beauty, kuairand_pure, and any other `amazon_<category>` on demand), so
a dataset added to the registry has a builder with nothing to add here.

Each builder reads the raw files from its manual dir (the data directory holding `ml-1m/`,
`amazon-beauty/`, ...; default $ONEREC_DATA_DIR) through the plain loaders of `onerec_jax.input`
(same parsing, rules and splits) and writes two configs:
  `<name>/sequences`: one example per user: user_id int64, items [n] int32 (dense item index, time
                      order), feedback [n, 4] float32 (FEEDBACK_NAMES), positive [n] bool, static [s] int32;
  `<name>/items`:     one example per item: item int32, category int32, author int32, content [dc] float32.
`onerec_jax.input.tfds_source.load_tfds_sequences(name, tfds_dir)` reads both back (TFDS' array_record
data source, random access, no TF) into the same SequenceDataset the plain loader returns; training and
evaluation read them with `--config.data.tfds_dir=DIR`. The plain loaders stay the default path: TFDS is
the `tfds` extra (also part of `test`, so CI runs these builders).

  python -m data.tfds_builders --dataset=ml1m --tfds_dir=/tmp/tfds [--manual_dir=../shared/data]
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow_datasets as tfds

from onerec_jax.input.config import DataConfig
from onerec_jax.input.datasets import get_spec, is_known_dataset, load_dataset, specs
from onerec_jax.input.sequences import FEEDBACK_NAMES

from onerec_jax.input.tfds_source import VERSION, load_tfds_sequences  # noqa: F401 (re-exported)

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
  BUILDER_CONFIGS = [
    tfds.core.BuilderConfig(name="sequences", description="one example per user"),
    tfds.core.BuilderConfig(name="items", description="one example per item"),
  ]
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
    "Point --manual_dir at the data directory holding the dataset folder "
    "(see data/README.md and the loader's module docstring)."
  )

  def _info(self) -> tfds.core.DatasetInfo:
    if self.builder_config.name == "sequences":
      features = tfds.features.FeaturesDict(
        {
          "user_id": np.int64,
          "items": tfds.features.Tensor(shape=(None,), dtype=np.int32),
          "feedback": tfds.features.Tensor(shape=(None, len(FEEDBACK_NAMES)), dtype=np.float32),
          "positive": tfds.features.Tensor(shape=(None,), dtype=np.bool_),
          "static": tfds.features.Tensor(shape=(None,), dtype=np.int32),
        }
      )
    else:
      features = tfds.features.FeaturesDict(
        {
          "item": np.int32,
          "category": np.int32,
          "author": np.int32,
          "content": tfds.features.Tensor(shape=(None,), dtype=np.float32),
        }
      )
    return tfds.core.DatasetInfo(
      builder=self, features=features, description=self.__doc__, metadata=tfds.core.MetadataDict()
    )

  def _split_generators(self, dl_manager):
    manual = dl_manager.manual_dir or os.environ.get("ONEREC_DATA_DIR", "")
    return {"train": self._generate_examples(str(manual))}

  def _generate_examples(self, manual_dir: str):
    loaded = _loaded(self.DATASET, manual_dir)
    data = loaded.data
    if self.builder_config.name == "sequences":
      for r in range(data.num_users):
        n = int(data.lengths[r])
        yield (
          r,
          {
            "user_id": int(data.user_ids[r]),
            "items": data.items[r, :n],
            "feedback": data.feedback[r, :n],
            "positive": data.positive[r, :n],
            "static": data.user_static[r],
          },
        )
    else:
      for i in range(data.num_items):
        yield (
          i,
          {
            "item": i,
            "category": int(data.item_category[i]),
            "author": int(data.item_author[i]),
            "content": data.item_content[i],
          },
        )
    self.info.metadata.update(
      num_categories=data.num_categories,
      num_authors=data.num_authors,
      static_vocab_sizes=list(data.static_vocab_sizes),
      stats=loaded.stats.as_dict(),
    )


def _class_name(name: str) -> str:
  """ml100k -> Ml100k, amazon_beauty -> AmazonBeauty (TFDS' own name is set to the dataset name)."""
  return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _make_builder(name: str) -> type:
  """The builder class of registry dataset `name` (a subclass of _SequencesBuilder, registered with TFDS)."""
  spec = get_spec(name)
  if not spec.reads_files:
    raise ValueError(f"dataset {name!r} is not read from files ({spec.description}); it has no TFDS builder")
  doc = f"{spec.description or name} ({spec.load.__module__})."
  cls = type(
    _class_name(name), (_SequencesBuilder,), {"name": name, "DATASET": name, "__doc__": doc, "__module__": __name__}
  )
  globals()[cls.__name__] = cls
  return cls


def _registry_datasets() -> list[str]:
  """Every file-based dataset of the registry: the plain names, and what a pattern lists without a data dir."""
  names = []
  for spec in specs():
    if not spec.reads_files:
      continue
    if not spec.is_pattern:
      names.append(spec.name)
    elif spec.list_names is not None:
      names.extend(spec.list_names(""))
  return names


# One builder per dataset of the registry (onerec_jax.input.datasets); other names a pattern accepts
# (amazon_<category>) get theirs from `builder` on first use.
BUILDERS = {name: _make_builder(name) for name in _registry_datasets()}


def builder(name: str, tfds_dir: str, config: str, manual_dir: str = "") -> tfds.core.DatasetBuilder:
  """The builder of dataset `name` (an onerec_jax name) and config 'sequences' | 'items'."""
  if name not in BUILDERS:
    if not is_known_dataset(name):
      raise ValueError(
        f"no TFDS builder for {name!r}; have {sorted(BUILDERS)} (or another name a pattern "
        "of onerec_jax.input.datasets accepts)"
      )
    BUILDERS[name] = _make_builder(name)
  cls = BUILDERS[name]
  return cls(config=config, data_dir=tfds_dir, file_format="array_record")


def prepare(name: str, tfds_dir: str, manual_dir: str = "") -> None:
  """Writes both configs of `name` as array_record files under tfds_dir (no-op when already there)."""
  manual_dir = manual_dir or os.environ.get("ONEREC_DATA_DIR", "")
  for config in ("sequences", "items"):
    b = builder(name, tfds_dir, config)
    b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))


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
