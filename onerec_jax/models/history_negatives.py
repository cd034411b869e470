"""The user's own recent items as negatives of each training target (ModelConfig.history_negatives).

On a catalogue where users do not take the same item twice (Amazon Beauty: no user's sequence repeats
an item), a generative model still ranks the items of the input window high: they are the nearest
semantic IDs to its context (the Beauty recipe fills 7.2% of its test top-10 slots with items of the
user's own history: the evaluator's history_share@K, BENCHMARKS.md). The history unlikelihood
loss (losses.history_unlikelihood) decodes, beside each target, the k items right before it and pushes
their probability down, so the model learns the regularity instead of the evaluation filtering it out.

Shapes: b rows of the batch, m targets per row (1 for the report's one-target batches), k negatives per
target, l semantic-ID levels, S the short window's length.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from onerec_jax.models.target_rows import decoded_rows


def history_negative_sids(batch, k: int) -> tuple[jax.Array, jax.Array]:
  """The k items before each target, most recent first, as semantic IDs.

  Args:
    batch: a training OneRecBatch: short window [b, S] (right-aligned before the target, or in multi-target
      batches the window whose column S - m + i is the last item before target i) and target_sid [b, l]
      or [b, m, l] (with target_mask [b, m]).
    k: negatives per target.

  Returns:
    sids [b, m, k, l] int32 and valid [b, m, k] bool: the slot holds an item (not padding, not before the
    window), the target is supervised, and the item is not the target itself (a repeat is no negative).
  """
  items, sids, target = (jnp.asarray(a) for a in (batch.short.items, batch.short.sids, batch.target_sid))
  b, s = items.shape
  if target.ndim == 2:  # one target per row: the window ends right before it
    target, target_valid = target[:, None, :], jnp.ones((b, 1), bool)
  else:
    target_valid = batch.target_mask
  m = target.shape[1]
  # Target i's last input is column s - m + i; its o-th most recent item is o columns before that.
  cols = s - m + jnp.arange(m)[:, None] - jnp.arange(k)[None, :]  # [m, k]
  inside = cols >= 0
  safe = jnp.maximum(cols, 0)
  neg_items = items[:, safe]  # [b, m, k]
  neg_sids = sids[:, safe]  # [b, m, k, l]
  same = jnp.all(neg_sids == target[:, :, None, :], axis=-1)
  valid = inside[None] & (neg_items >= 0) & jnp.asarray(target_valid)[:, :, None] & ~same
  return neg_sids.astype(jnp.int32), valid


def decoded_negatives(batch, k: int, target_capacity: float = 0.0) -> tuple[jax.Array, jax.Array]:
  """The negatives OneRec.__call__ decodes after the n target rows, in its row order.

  Returns:
    sids [k * n, l] int32 (block o: each decoded target's o-th most recent earlier item) and valid
    [k * n] bool; n = b * m, or with a target capacity the rows `target_rows.decoded_rows` picks.
  """
  sids, valid = history_negative_sids(batch, k)  # [b, m, k, l], [b, m, k]
  b, m, _, l = sids.shape
  sids, valid = sids.reshape(b * m, k, l), valid.reshape(b * m, k)
  if target_capacity:
    rows, _ = decoded_rows(batch.target_mask, target_capacity)
    sids, valid = sids[rows], valid[rows]
  return sids.transpose(1, 0, 2).reshape(k * sids.shape[0], l), valid.T.reshape(-1)
