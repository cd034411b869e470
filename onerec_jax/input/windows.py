"""Fixed-length windows over a SequenceDataset for ID models trained on every position (SASRec).

A window is (user row, end): inputs are the `t` items before position `end + 1`, right-aligned (latest
last, -1 padding in front), targets are the same positions shifted by one, so target column j is the
item at position end - t + 1 + j and its input history is columns <= j. Training windows cover each
training target (positions min_history .. len - 3, i.e. before the validation item) exactly once: the
window ending at `end` supervises the targets in (end - stride, end]. stride = t cuts a history into
non-overlapping chunks (SASRec); stride = 1 gives one window per target with its full t-item history
(TIGER's sliding window). `latest_only` keeps one window per user, the one ending at the last training
target (HSTU's training set: one sequence per user, its most recent items; older targets unused).
Shape legend: m windows, b batch, t window length.
"""

from __future__ import annotations

import numpy as np

from onerec_jax.input.sequences import SequenceDataset


def train_windows(
  data: SequenceDataset, max_len: int, stride: int, min_history: int = 1, latest_only: bool = False
) -> tuple[np.ndarray, np.ndarray]:
  """(rows [m] int32, ends [m] int32) of the training windows, in (user, end) order.

  Args:
    data: the sequences (each user's last two items are held out).
    max_len: window length t.
    stride: 1 <= stride <= t; see the module docstring.
    min_history: fewest items before a supervised target (>= 1).
    latest_only: at most one window per user, the latest (see the module docstring).
  """
  if not 1 <= stride <= max_len:
    raise ValueError(f"window stride must be in [1, max_len={max_len}], got {stride}")
  if min_history < 1:
    raise ValueError(f"min_history must be >= 1, got {min_history}")
  last = data.lengths.astype(np.int64) - 3  # last training target position
  span = np.maximum(last - min_history + 1, 0)  # supervised targets per user
  counts = -(-span // stride)  # ceil
  if latest_only:
    counts = np.minimum(counts, 1)
  rows = np.repeat(np.arange(data.num_users, dtype=np.int32), counts)
  k = np.arange(rows.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
  ends = (last[rows] - k * stride).astype(np.int32)
  return rows, ends


def gather_windows(
  data: SequenceDataset, rows: np.ndarray, ends: np.ndarray, max_len: int, stride: int, min_history: int = 1
) -> dict[str, np.ndarray]:
  """The training batch of windows (rows [b], ends [b]).

  Returns:
    {'inputs': [b, t] int32 (-1 padding), 'targets': [b, t] int32 (-1 where not supervised),
     'mask': [b, t] bool supervised targets}.
  """
  rows = np.asarray(rows, np.int64)
  ends = np.asarray(ends, np.int64)
  target_pos = ends[:, None] - max_len + 1 + np.arange(max_len)[None, :]  # [b, t]
  input_pos = target_pos - 1
  inputs = np.where(input_pos >= 0, data.items[rows[:, None], np.maximum(input_pos, 0)], -1)
  mask = (target_pos > ends[:, None] - stride) & (target_pos >= min_history)
  targets = np.where(mask, data.items[rows[:, None], np.maximum(target_pos, 0)], -1)
  return {"inputs": inputs.astype(np.int32), "targets": targets.astype(np.int32), "mask": mask}


def history_windows(data: SequenceDataset, rows: np.ndarray, target_pos: np.ndarray, max_len: int) -> np.ndarray:
  """[b, t] int32 the `t` items before each target position, right-aligned, -1 padded."""
  rows = np.asarray(rows, np.int64)
  pos = np.asarray(target_pos, np.int64)[:, None] - max_len + np.arange(max_len)[None, :]
  return np.where(pos >= 0, data.items[rows[:, None], np.maximum(pos, 0)], -1).astype(np.int32)


def excluded_items(
  data: SequenceDataset, rows: np.ndarray, target_pos: np.ndarray, exclude: str, window: int
) -> np.ndarray | None:
  """The items a protocol drops from each user's ranking (the same rule for every model family):
  None for 'none', every item before the target for 'all' ([b, n]), the `window` items before it for
  'window' ([b, window], HSTU: its 200-item history whatever window the model reads); -1 padded."""
  if exclude == "all":
    return history_before(data, rows, target_pos)
  if exclude == "window":
    return history_windows(data, rows, target_pos, window)
  if exclude != "none":
    raise ValueError(f"exclude must be 'none', 'window' or 'all', got {exclude!r}")
  return None


def history_before(data: SequenceDataset, rows: np.ndarray, target_pos: np.ndarray) -> np.ndarray:
  """[b, n] int32 every item before each target position (left-aligned, -1 padded): for exclusion."""
  rows = np.asarray(rows, np.int64)
  n = data.items.shape[1]
  before = np.arange(n)[None, :] < np.asarray(target_pos)[:, None]
  return np.where(before, data.items[rows], -1).astype(np.int32)
