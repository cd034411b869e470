"""Impressions with multi-objective feedback labels, split in time: what the reward model learns from.

Every interaction of a dataset is an impression (KuaiRand logs every exposure, clicked or not). Labels:
  * KuaiRand: its logged signals (is_click, long_view, is_like, is_follow, is_comment, is_forward,
    is_hate; LoadedDataset.columns 'label/<name>');
  * any other dataset (the simulator): its feedback kinds, long_view and like (feedback > 0).
Split: with a 'date' column (KuaiRand) by day: the last day is test, the day before valid, the earlier
days train; otherwise per user in time: the last tenth of each user's impressions (at least one) is test,
the tenth before it valid. The model always sees every impression before the candidate as history
(feedback already observed when the candidate is scored), whatever its split.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from onerec_jax.input.batches import RewardBatch
from onerec_jax.input.sequences import FEEDBACK_NAMES, SequenceDataset

SPLITS = {"train": 0, "valid": 1, "test": 2}


@dataclasses.dataclass
class ImpressionData:
  """A dataset's impressions: labels [u, n, o] and split [u, n] (0 train, 1 valid, 2 test, -1 padding)."""

  data: SequenceDataset
  labels: np.ndarray
  objectives: tuple[str, ...]
  split: np.ndarray
  split_rule: str

  def positions(self, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(user rows, positions) of the impressions of a split, in user then time order."""
    rows, pos = np.nonzero(self.split == SPLITS[split])
    return rows.astype(np.int32), pos.astype(np.int32)


def impression_data(loaded, objectives: tuple[str, ...] = ()) -> ImpressionData:
  """Labels and the time split of a LoadedDataset (onerec_jax.input.datasets.load_dataset)."""
  data = loaded.data
  valid = data.items >= 0
  columns = getattr(loaded, "columns", {}) or {}
  available = {name[len("label/") :]: values for name, values in columns.items() if name.startswith("label/")}
  if not available:
    f = {name: j for j, name in enumerate(FEEDBACK_NAMES)}
    available = {name: (data.feedback[..., f[name]] > 0).astype(np.float32) for name in ("long_view", "like")}
  names = tuple(objectives) or tuple(available)
  unknown = [o for o in names if o not in available]
  if unknown:
    raise ValueError(f"reward.objectives {unknown} are not labels of dataset {data.name!r}; it has {list(available)}")
  labels = np.stack([np.where(valid, available[o], 0) for o in names], axis=-1).astype(np.float32)
  split = np.full(data.items.shape, -1, np.int8)
  if "date" in columns:
    dates = np.unique(columns["date"][valid])
    if len(dates) < 3:
      raise ValueError(f"dataset {data.name!r}: the day split needs 3 or more days, got {dates.tolist()}")
    day = columns["date"]
    split[valid] = 0
    split[valid & (day == dates[-2])] = 1
    split[valid & (day == dates[-1])] = 2
    rule = f"by day: train {dates[0]}..{dates[-3]}, valid {dates[-2]}, test {dates[-1]}"
  else:
    lengths = data.lengths[:, None]
    tenth = np.maximum(1, np.round(0.1 * lengths)).astype(np.int64)
    col = np.arange(data.items.shape[1])[None, :]
    split[valid] = 0
    split[valid & (col >= lengths - 2 * tenth)] = 1
    split[valid & (col >= lengths - tenth)] = 2
    rule = "per user in time: the last tenth test, the tenth before it valid"
  return ImpressionData(data, labels, names, split, rule)


def reward_batch(
  imp: ImpressionData, rows: np.ndarray, pos: np.ndarray, history_len: int, preference: np.ndarray | None = None
) -> RewardBatch:
  """Impressions (rows [b], positions [b]) with their last `history_len` earlier impressions."""
  data = imp.data
  rows, pos = np.asarray(rows, np.int64), np.asarray(pos, np.int64)
  hist = pos[:, None] - history_len + np.arange(history_len)[None, :]  # [b, h]
  ok = hist >= 0
  hist = np.maximum(hist, 0)
  items = np.where(ok, data.items[rows[:, None], hist], -1).astype(np.int32)
  safe = np.maximum(items, 0)
  item = data.items[rows, pos].astype(np.int32)
  return RewardBatch(
    user_id=data.user_ids[rows].astype(np.int64).astype(np.int32),
    static=data.user_static[rows].astype(np.int32),
    history_items=items,
    history_category=np.where(ok, data.item_category[safe], 0).astype(np.int32),
    history_author=np.where(ok, data.item_author[safe], 0).astype(np.int32),
    history_labels=np.where(ok[..., None], imp.labels[rows[:, None], hist], 0).astype(np.float32),
    item=item,
    category=data.item_category[item].astype(np.int32),
    author=data.item_author[item].astype(np.int32),
    labels=imp.labels[rows, pos],
    preference=None if preference is None else preference[rows, pos],
  )
