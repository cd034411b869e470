"""Dataset name -> SequenceDataset. The one place the rest of the library asks for data.

Names: `synthetic` (the built-in simulator), `ml1m`, `ml100k`, `kuairand_pure`, and `amazon_<category>`
for any folder `amazon-<category>` in the data directory (`amazon_beauty` is always listed). Real data
is read from `DataConfig.data_dir`, else $ONEREC_DATA_DIR; each loader's module docstring lists the
files it reads (shared copies and the original public formats) and the rules it applies.
"""

from __future__ import annotations

import os

from onerec_jax.input import interactions
from onerec_jax.input.interactions import LoadedDataset, LoadStats
from onerec_jax.input.sequences import SequenceDataset
from onerec_jax.input.simulator import Simulator
from onerec_jax.input.synthetic import sequences_from_simulator

REAL_DATASETS = ("ml1m", "ml100k", "amazon_beauty", "kuairand_pure")
AMAZON_PREFIX = "amazon_"


def _amazon_in_data_dir() -> tuple[str, ...]:
  root = os.environ.get(interactions.ENV_DATA_DIR, "")
  if not root or not os.path.isdir(root):
    return ()
  return tuple(sorted(AMAZON_PREFIX + d[len("amazon-"):].lower().replace("-", "_")
                      for d in os.listdir(root) if d.lower().startswith("amazon-")))


def dataset_names() -> tuple[str, ...]:
  """Names accepted by `load_sequences` (and `--config.data.dataset`); any `amazon_<category>` also is."""
  names = ("synthetic",) + REAL_DATASETS + _amazon_in_data_dir()
  return tuple(dict.fromkeys(names))


def is_known_dataset(name: str) -> bool:
  """Whether `name` is a dataset this module can load (given its files)."""
  return name in dataset_names() or (name.startswith(AMAZON_PREFIX) and len(name) > len(AMAZON_PREFIX))


def load_dataset(config) -> LoadedDataset:
  """A real dataset of a DataConfig, with the counts of how it was read (LoadStats).

  Args:
    config: onerec_jax.input.config.DataConfig (dataset, data_dir).

  Raises:
    ValueError for an unknown name; interactions.DataError for missing or malformed files.
  """
  name = config.dataset
  if name == "synthetic":
    data = sequences_from_simulator(Simulator(config.simulator))
    n = int(data.lengths.sum())
    return LoadedDataset(data, LoadStats("simulator", data.num_users, data.num_items, n, {}))
  if not is_known_dataset(name):
    raise ValueError(f"data.dataset={name!r} is unknown; known: {dataset_names()} (or amazon_<category>)")
  root = interactions.data_root(config.data_dir)
  if name == "ml1m":
    from onerec_jax.input.movielens import load_ml1m
    return load_ml1m(root)
  if name == "ml100k":
    from onerec_jax.input.movielens import load_ml100k
    return load_ml100k(root)
  if name == "kuairand_pure":
    from onerec_jax.input.kuairand import load_kuairand_pure
    return load_kuairand_pure(root)
  from onerec_jax.input.amazon import load_amazon
  return load_amazon(root, name[len(AMAZON_PREFIX):])


def load_sequences(config) -> tuple[SequenceDataset, Simulator | None]:
  """The dataset of a DataConfig as sequences, and the simulator when it is the built-in world.

  Args:
    config: onerec_jax.input.config.DataConfig (dataset, data_dir, simulator, ...); with `tfds_dir` set,
      a real dataset is read from the TFDS builders' array_record files (onerec_jax.input.tfds_source).
  """
  if config.dataset == "synthetic":
    sim = Simulator(config.simulator)
    return sequences_from_simulator(sim), sim
  if config.tfds_dir:
    from onerec_jax.input.tfds_source import load_tfds_sequences  # late: tensorflow-datasets is optional
    return load_tfds_sequences(config.dataset, config.tfds_dir), None
  return load_dataset(config).data, None
