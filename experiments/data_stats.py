r"""Prints a dataset's counts as JSON: users, items, interactions, split sizes, length quantiles.

  python -m experiments.data_stats --dataset=ml1m [--data_dir=../shared/data] \
      [--window_len=200 --window_targets=50 --window_batch=64]

`users`, `items`, `interactions` are the counts as read (what PROTOCOLS.md tabulates); `sequences`
holds the counts after the loader's rules (e.g. KuaiRand users with < 3 rows dropped) and the
leave-one-out split sizes: `train_targets` (every position before the validation item),
`train_examples` (sliding-window targets with at least `--min_history` items before them), `valid`,
`test` (one per user). With `--window_targets=m` also `windows`: how full the multi-target training
windows of `--window_len` items are (valid targets per window, and per random batch of `--window_batch`
windows: mean, std, max over 20,000 batches), which sets `model.target_capacity` (the smallest capacity
that no sampled batch exceeded is `max_batch_fill`).
"""

from __future__ import annotations

import json

import numpy as np
from absl import app, flags

from experiments import common_flags

from onerec_jax.input.config import DataConfig
from onerec_jax.input.datasets import load_dataset
from onerec_jax.input import windows
from onerec_jax.input.sequences import leave_one_out

_DATASET = common_flags.DATASET
_DATA_DIR = common_flags.DATA_DIR
_MIN_HISTORY = flags.DEFINE_integer("min_history", 1, "fewest items before a training target")
_WINDOW_LEN = flags.DEFINE_integer("window_len", 20, "multi-target window length (model.short_len)")
_WINDOW_TARGETS = flags.DEFINE_integer("window_targets", 0, "targets per window (model.targets_per_window; 0 = skip)")
_WINDOW_BATCH = flags.DEFINE_integer("window_batch", 128, "windows per training batch (train.batch_size)")


def window_fill(data, window_len: int, targets: int, batch: int, min_history: int = 1, batches: int = 20000) -> dict:
  """How full the multi-target windows are: valid targets per window and per random batch (seeded)."""
  rows, ends = windows.train_windows(data, window_len, targets, min_history)
  valid = windows.gather_windows(data, rows, ends, window_len, targets, min_history)["mask"].sum(1)
  rng = np.random.default_rng(0)
  sums = np.array([valid[rng.choice(len(valid), min(batch, len(valid)), replace=False)].sum() for _ in range(batches)])
  slots = min(batch, len(valid)) * targets
  return {
    "window_len": window_len,
    "targets_per_window": targets,
    "windows": int(len(valid)),
    "valid_per_window": float(valid.mean()),
    "batch": batch,
    "batch_valid_mean": float(sums.mean()),
    "batch_valid_std": float(sums.std()),
    "batch_valid_max": int(sums.max()),
    "batch_slots": int(slots),
    "max_batch_fill": float(sums.max() / slots),
  }


def data_stats(
  dataset: str, data_dir: str = "", min_history: int = 1, window: tuple[int, int, int] | None = None
) -> dict:
  """The counts of one dataset (see the module docstring); `window` = (length, targets, batch) adds the
  multi-target window fill."""
  config = DataConfig(dataset=dataset, data_dir=data_dir, min_history=min_history)
  config.validate()
  loaded = load_dataset(config)
  data, stats = loaded.data, loaded.stats
  lengths = data.lengths
  quantiles = (0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)
  result = {
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
  if window:
    result["windows"] = window_fill(data, *window, min_history=min_history)
  return result


def main(argv):
  del argv
  if not _DATASET.value:
    raise app.UsageError("--dataset is required")
  window = (_WINDOW_LEN.value, _WINDOW_TARGETS.value, _WINDOW_BATCH.value) if _WINDOW_TARGETS.value else None
  print(json.dumps(data_stats(_DATASET.value, _DATA_DIR.value or "", _MIN_HISTORY.value, window), indent=1))


if __name__ == "__main__":
  app.run(main)
