r"""Prints a dataset's counts as JSON: users, items, interactions, split sizes, length quantiles.

  python -m experiments.data_stats --dataset=ml1m [--data_dir=../shared/data]

`users`, `items`, `interactions` are the counts as read (what PROTOCOLS.md tabulates); `sequences`
holds the counts after the loader's rules (e.g. KuaiRand users with < 3 rows dropped) and the
leave-one-out split sizes: `train_targets` (every position before the validation item),
`train_examples` (sliding-window targets with at least `--min_history` items before them), `valid`,
`test` (one per user).
"""

from __future__ import annotations

import json

import numpy as np
from absl import app, flags

from experiments import common_flags

from onerec_jax.input.config import DataConfig
from onerec_jax.input.datasets import load_dataset
from onerec_jax.input.sequences import leave_one_out

_DATASET = common_flags.DATASET
_DATA_DIR = common_flags.DATA_DIR
_MIN_HISTORY = flags.DEFINE_integer("min_history", 1, "fewest items before a training target")


def data_stats(dataset: str, data_dir: str = "", min_history: int = 1) -> dict:
  """The counts of one dataset (see the module docstring)."""
  config = DataConfig(dataset=dataset, data_dir=data_dir, min_history=min_history)
  config.validate()
  loaded = load_dataset(config)
  data, stats = loaded.data, loaded.stats
  lengths = data.lengths
  quantiles = (0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)
  return {
    "dataset": dataset,
    "source": stats.source,
    "users": stats.raw_users,
    "items": stats.raw_items,
    "interactions": stats.raw_interactions,
    "rules": stats.rules,
    "sequences": {
      "users": data.num_users,
      "items": data.num_items,
      "interactions": int(lengths.sum()),
      "train_targets": int((lengths - 2).sum()),
      "train_examples": len(leave_one_out(data, "train", min_history)),
      "valid": len(leave_one_out(data, "valid")),
      "test": len(leave_one_out(data, "test")),
      "length_mean": float(lengths.mean()),
      "length_quantiles": {str(q): float(np.quantile(lengths, q)) for q in quantiles},
      "item_content_dim": int(data.item_content.shape[1]),
      "num_categories": data.num_categories,
      "num_authors": data.num_authors,
      "positive_share": float(data.positive[data.items >= 0].mean()),
    },
  }


def main(argv):
  del argv
  if not _DATASET.value:
    raise app.UsageError("--dataset is required")
  print(json.dumps(data_stats(_DATASET.value, _DATA_DIR.value or "", _MIN_HISTORY.value), indent=1))


if __name__ == "__main__":
  app.run(main)
