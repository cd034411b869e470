"""Turns (user, target position) examples into the encoder's multi-scale feature batch.

The pathways (PAPER.md section 2), all taken strictly before the target position:
  short:    the last `short_len` interactions;
  positive: the last `positive_len` positive (high-engagement) interactions;
  lifelong: `lifelong_compression='last'`: the last `lifelong_len` interactions; 'hkmeans' (the report):
            the last `lifelong_history` interactions compressed by hierarchical k-means over the item
            vectors into at most `lifelong_len` representatives (onerec_jax.input.lifelong); either way
            then compressed by the model's QFormer.
Vectorised numpy gathers; padding is item -1 with zero features. Shape legend: b batch, n pathway
length, l semantic-ID levels, f feedback values.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from onerec_jax.input.batches import OneRecBatch, Pathway
from onerec_jax.input.sequences import Examples, SequenceDataset


@dataclasses.dataclass
class FeatureBuilder:
  """Builds batches for one dataset and one semantic-ID table.

  Attributes:
    data: the sequences.
    item_sids: [i, l] int32 semantic ID of every item.
    short_len, positive_len, lifelong_len: pathway lengths (tokens).
  """

  data: SequenceDataset
  item_sids: np.ndarray
  short_len: int
  positive_len: int
  lifelong_len: int
  lifelong_compression: str = "last"  # 'last' | 'hkmeans'
  lifelong_history: int = 0  # hkmeans: interactions compressed (0 = the whole history before the target)
  lifelong_leaf_size: int = 8  # hkmeans: clusters stop splitting at this many interactions

  def __post_init__(self):
    if self.item_sids.shape[0] != self.data.num_items:
      raise ValueError(
        f"semantic-ID table has {self.item_sids.shape[0]} items, dataset {self.data.name} has {self.data.num_items}"
      )
    # Positions of positive interactions per user, left-aligned: [u, n], -1 padded, and counts before p.
    pos = self.data.positive & (self.data.items >= 0)
    order = np.argsort(~pos, axis=1, kind="stable")
    self._positive_positions = np.where(np.take_along_axis(pos, order, 1), order, -1).astype(np.int32)
    self._positives_before = np.concatenate(
      [np.zeros((pos.shape[0], 1), np.int32), np.cumsum(pos, axis=1, dtype=np.int32)], axis=1
    )

  def _gather(self, rows: np.ndarray, positions: np.ndarray) -> Pathway:
    """positions [b, n] (-1 = padding) -> the pathway's arrays."""
    valid = positions >= 0
    p = np.where(valid, positions, 0)
    r = rows[:, None]
    items = np.where(valid, self.data.items[r, p], -1).astype(np.int32)
    safe = np.maximum(items, 0)
    return Pathway(
      items=items,
      sids=np.where(valid[..., None], self.item_sids[safe], 0).astype(np.int32),
      category=np.where(valid, self.data.item_category[safe], 0).astype(np.int32),
      author=np.where(valid, self.data.item_author[safe], 0).astype(np.int32),
      feedback=np.where(valid[..., None], self.data.feedback[r, p], 0).astype(np.float32),
    )

  def _compressed_lifelong(self, rows: np.ndarray, target_pos: np.ndarray) -> Pathway:
    """The report's lifelong pathway: representatives of each history (strictly before the target)."""
    from onerec_jax.input.lifelong import representatives

    r = self.lifelong_len
    positions = np.full((len(rows), r), -1, np.int64)
    feedback = np.zeros((len(rows), r, self.data.feedback.shape[-1]), np.float32)
    for b, (row, end) in enumerate(zip(rows, target_pos)):
      start = max(0, end - self.lifelong_history) if self.lifelong_history else 0
      if end <= start:
        continue
      items = self.data.items[row, start:end]
      picked, means = representatives(
        self.data.item_content[items],
        self.data.feedback[row, start:end],
        max_representatives=r,
        leaf_size=self.lifelong_leaf_size,
        seed=int(row),
      )
      positions[b, -len(picked) :] = start + picked  # right-aligned like the other pathways
      feedback[b, -len(picked) :] = means
    return self._gather(rows, positions).replace(feedback=feedback)  # continuous features: cluster means

  def _last(self, rows: np.ndarray, target_pos: np.ndarray, length: int) -> Pathway:
    positions = target_pos[:, None] - length + np.arange(length)[None, :]
    return self._gather(rows, np.where(positions >= 0, positions, -1))

  def history_before(
    self, rows: np.ndarray, target_pos: np.ndarray, short_end: np.ndarray | None = None
  ) -> OneRecBatch:
    """Features of users `rows` [b] at positions `target_pos` [b] (no target): what inference reads.

    `short_end` [b] (default target_pos): the short pathway ends before this position instead; the
    multi-target window reaches past the context pathways' cut (see `window_batch`).
    """
    rows = np.asarray(rows, np.int32)
    target_pos = np.asarray(target_pos, np.int32)
    short_end = target_pos if short_end is None else np.asarray(short_end, np.int32)
    lifelong = positive = None
    if self.lifelong_len and self.lifelong_compression == "hkmeans":
      lifelong = self._compressed_lifelong(rows, target_pos)
    elif self.lifelong_len:
      lifelong = self._last(rows, target_pos, self.lifelong_len)
    if self.positive_len:
      count = self._positives_before[rows, target_pos]  # positives strictly before the target
      idx = count[:, None] - self.positive_len + np.arange(self.positive_len)[None, :]
      positive = self._gather(rows, np.where(idx >= 0, self._positive_positions[rows[:, None], np.maximum(idx, 0)], -1))
    return OneRecBatch(
      user_id=self.data.user_ids[rows].astype(np.int64).astype(np.int32),
      static=self.data.user_static[rows].astype(np.int32),
      short=self._last(rows, short_end, self.short_len),
      positive=positive,
      lifelong=lifelong,
    )

  def batch(self, examples: Examples, indices: np.ndarray | None = None) -> tuple[OneRecBatch, np.ndarray]:
    """(features with target_sid [b, l], target_item [b]) for examples[indices] (one target each)."""
    rows = examples.user_rows if indices is None else examples.user_rows[indices]
    pos = examples.target_pos if indices is None else examples.target_pos[indices]
    target = self.data.items[rows, pos].astype(np.int32)
    return self.history_before(rows, pos).replace(target_sid=self.item_sids[target].astype(np.int32)), target

  def window_batch(
    self, rows: np.ndarray, ends: np.ndarray, num_targets: int, min_history: int = 1
  ) -> tuple[OneRecBatch, np.ndarray]:
    """Multi-target training batch (ModelConfig.targets_per_window = m): one window per row.

    The short pathway is the `short_len` interactions before position `ends` (the last target); its last
    m columns are followed by the targets at positions ends - m + 1 .. ends. The positive and lifelong
    pathways are taken before the first of them, so no pathway holds a target or anything after it.

    Args:
      rows: [b] user rows; ends: [b] position of each window's last target.
      num_targets: m.
      min_history: targets at positions < min_history are masked out.

    Returns:
      (features with short = the window, target_sid [b, m, l] and target_mask [b, m] bool,
       target_item [b, m] int32, -1 where masked).
    """
    rows = np.asarray(rows, np.int32)
    ends = np.asarray(ends, np.int32)
    first = ends - num_targets + 1
    # Context pathways before the first target; the window: everything before the last target.
    context = self.history_before(rows, np.maximum(first, 0), short_end=ends)
    positions = first[:, None] + np.arange(num_targets)[None, :]  # [b, m]
    mask = positions >= max(min_history, 1)
    target = np.where(mask, self.data.items[rows[:, None], np.maximum(positions, 0)], -1).astype(np.int32)
    batch = context.replace(
      target_sid=np.where(mask[..., None], self.item_sids[np.maximum(target, 0)], 0).astype(np.int32), target_mask=mask
    )
    return batch, target
