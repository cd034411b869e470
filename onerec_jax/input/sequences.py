"""User interaction sequences in time order, with item side information and leave-one-out splits.

Every dataset (the simulator, and the real ones) is turned into this one container; the feature builder
and the evaluation only read it. Shape legend: u users, n longest history, f feedback values, i items.
"""

from __future__ import annotations

import dataclasses

import numpy as np

FEEDBACK_NAMES = ("long_view", "like", "play_fraction", "log_duration")


@dataclasses.dataclass
class SequenceDataset:
  """Padded per-user histories and item side information (numpy, host memory).

  Attributes:
    items: [u, n] int32 item index in time order, -1 after the history ends.
    lengths: [u] int32 history lengths.
    feedback: [u, n] + [f] float32 continuous feedback per interaction (FEEDBACK_NAMES order).
    positive: [u, n] bool high-engagement interactions (the positive-feedback pathway's input).
    user_ids: [u] int64 original user ids.
    user_static: [u, num_static] int32 static user features.
    static_vocab_sizes: vocabulary of each static feature.
    item_category: [i] int32.
    item_author: [i] int32.
    item_content: [i, dc] float32 content vectors (what the tokenizer quantises).
    num_categories, num_authors: vocabularies.
    name: dataset name, for messages.
  """

  items: np.ndarray
  lengths: np.ndarray
  feedback: np.ndarray
  positive: np.ndarray
  user_ids: np.ndarray
  user_static: np.ndarray
  static_vocab_sizes: tuple[int, ...]
  item_category: np.ndarray
  item_author: np.ndarray
  item_content: np.ndarray
  num_categories: int
  num_authors: int
  name: str = "dataset"

  @property
  def num_users(self) -> int:
    return int(self.items.shape[0])

  @property
  def num_items(self) -> int:
    return int(self.item_category.shape[0])

  def validate(self) -> None:
    """Checks shapes and ranges; raises ValueError naming the field."""
    u, n = self.items.shape
    for name, arr, shape in (
      ("lengths", self.lengths, (u,)),
      ("positive", self.positive, (u, n)),
      ("user_ids", self.user_ids, (u,)),
      ("feedback", self.feedback[..., 0], (u, n)),
    ):
      if arr.shape != shape:
        raise ValueError(f"{self.name}: {name} has shape {arr.shape}, expected {shape}")
    if (self.lengths < 3).any():
      bad = int(np.argmax(self.lengths < 3))
      raise ValueError(
        f"{self.name}: user row {bad} (id {self.user_ids[bad]}) has {self.lengths[bad]} "
        "interactions; leave-one-out needs at least 3"
      )
    valid = np.arange(n)[None, :] < self.lengths[:, None]
    if (self.items[valid] < 0).any() or (self.items[valid] >= self.num_items).any():
      raise ValueError(f"{self.name}: items outside [0, {self.num_items}) inside a history")
    if (self.items[~valid] != -1).any():
      raise ValueError(f"{self.name}: padding after a history must be -1")

  def item_popularity(self, upto: np.ndarray | None = None) -> np.ndarray:
    """[i] interaction counts over positions < upto[u] (default: the training part, len - 2)."""
    upto = self.lengths - 2 if upto is None else upto
    mask = np.arange(self.items.shape[1])[None, :] < upto[:, None]
    return np.bincount(self.items[mask], minlength=self.num_items)


@dataclasses.dataclass
class Examples:
  """Next-item examples: predict items[user_row, target_pos] from the interactions before it."""

  user_rows: np.ndarray  # [m] int32
  target_pos: np.ndarray  # [m] int32

  def __len__(self) -> int:
    return int(self.user_rows.shape[0])


def leave_one_out(data: SequenceDataset, split: str, min_history: int = 1) -> Examples:
  """Leave-one-out examples: 'test' = last item, 'valid' = second to last, 'train' = every earlier target.

  Args:
    data: the sequences.
    split: 'train' (sliding window: each position p in [min_history, len - 3]), 'valid' or 'test'.
    min_history: fewest interactions before a training target.

  Returns:
    Examples, in (user, position) order.
  """
  if split == "test":
    return Examples(np.arange(data.num_users, dtype=np.int32), (data.lengths - 1).astype(np.int32))
  if split == "valid":
    return Examples(np.arange(data.num_users, dtype=np.int32), (data.lengths - 2).astype(np.int32))
  if split != "train":
    raise ValueError(f"split must be train|valid|test, got {split!r}")
  counts = np.maximum(data.lengths - 2 - min_history, 0)
  rows = np.repeat(np.arange(data.num_users, dtype=np.int32), counts)
  starts = np.repeat(np.cumsum(counts) - counts, counts)
  pos = (np.arange(rows.shape[0]) - starts + min_history).astype(np.int32)
  return Examples(rows, pos)
