"""Reads a dataset prepared by the TFDS builders (data/tfds_builders.py) back into a SequenceDataset.

`--config.data.tfds_dir=DIR` makes `load_sequences` read the array_record files under
DIR/<dataset>/{sequences,items}/<version>/ (written by `python -m data.tfds_builders --dataset=NAME
--tfds_dir=DIR`) through TFDS' random-access data source (no TensorFlow) instead of parsing the raw
files. The builder class is not needed to read: `tfds.builder_from_directory` rebuilds the features and
the metadata (category/author counts, static vocabularies, the loader's counted rules) from the files.
Needs the optional `tfds` extra. Shape legend: u users, n longest history, f feedback values.
"""

from __future__ import annotations

import os

import numpy as np

from onerec_jax.input.sequences import FEEDBACK_NAMES, SequenceDataset

VERSION = "1.0.0"  # of the TFDS builders' output (data/tfds_builders.py writes this version)


def dataset_dir(name: str, tfds_dir: str, config: str) -> str:
  """DIR/<name>/<config>/<VERSION>: where the builder config `config` of dataset `name` is written."""
  return os.path.join(tfds_dir, name, config, VERSION)


def load_tfds_sequences(name: str, tfds_dir: str) -> SequenceDataset:
  """The prepared dataset `name` under `tfds_dir` as the SequenceDataset the plain loader returns.

  Raises:
    FileNotFoundError: naming the missing folder and the command that writes it.
    ImportError: when tensorflow-datasets is not installed.
  """
  try:
    import tensorflow_datasets as tfds
  except ImportError as e:
    raise ImportError("data.tfds_dir needs tensorflow-datasets: pip install -e '.[tfds]'") from e
  sources = {}
  for config in ("sequences", "items"):
    path = dataset_dir(name, tfds_dir, config)
    if not os.path.exists(os.path.join(path, "dataset_info.json")):
      raise FileNotFoundError(
        f"no prepared TFDS dataset at {path}; write it with `python -m data.tfds_builders "
        f"--dataset={name} --tfds_dir={tfds_dir} --manual_dir=DATA_DIR`"
      )
    sources[config] = tfds.builder_from_directory(path)
  seq_b, item_b = sources["sequences"], sources["items"]
  users, items = seq_b.as_data_source()["train"], item_b.as_data_source()["train"]
  user_rows = sorted((users[j] for j in range(len(users))), key=lambda e: e["user_id"])
  item_rows = sorted((items[j] for j in range(len(items))), key=lambda e: e["item"])
  if not user_rows or not item_rows:
    raise ValueError(
      f"the TFDS dataset {name} under {tfds_dir} has {len(user_rows)} users and {len(item_rows)} items; rebuild it"
    )
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
    items=out,
    lengths=lengths,
    feedback=feedback,
    positive=positive,
    user_ids=np.array([e["user_id"] for e in user_rows], np.int64),
    user_static=np.stack([e["static"] for e in user_rows]).astype(np.int32),
    static_vocab_sizes=tuple(meta["static_vocab_sizes"]),
    item_category=np.array([e["category"] for e in item_rows], np.int32),
    item_author=np.array([e["author"] for e in item_rows], np.int32),
    item_content=np.stack([e["content"] for e in item_rows]).astype(np.float32),
    num_categories=int(meta["num_categories"]),
    num_authors=int(meta["num_authors"]),
    name=name,
  )
  data.validate()
  return data
