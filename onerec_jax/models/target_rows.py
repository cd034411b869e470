"""Which decoder rows a multi-target batch decodes (ModelConfig.target_capacity).

A multi-target batch has b windows x m target slots, but short histories leave most slots empty (Amazon
Beauty: 4.9 valid targets in a window of 10 slots), and the decoder costs the same for an empty slot as
for a real one. With `target_capacity = c > 0` the decoder runs on n = ceil(c * b * m) rows only: the
valid slots first, in row order (window r's slot i is row r * m + i), then empty ones as padding. A
batch with more than n valid targets decodes the first n and counts the rest as dropped (the loss
reports it as `dropped_targets`, as the MoE reports its dropped fraction); a capacity of 1 drops
nothing and computes exactly the loss of the full b * m rows.

The selection is over the whole batch: on a mesh that shards the batch, XLA gathers the selected rows'
encoder keys and values across devices, so the option is meant for single-device (CPU) runs, where
the decoder's padding rows are the cost it removes (1.27x the training rate on Beauty, BENCHMARKS.md).
SASRec's full softmax uses the same selection over its [b, t] positions (SasrecConfig.target_capacity),
where the [positions, items] logits are the cost.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def num_decoded_rows(num_windows: int, targets_per_window: int, capacity: float) -> int:
  """n = ceil(capacity * b * m) rows, at most b * m (capacity 0 = every row)."""
  total = num_windows * targets_per_window
  return total if capacity <= 0 else min(total, max(1, math.ceil(capacity * total)))


def decoded_rows(target_mask: jax.Array, capacity: float) -> tuple[jax.Array, jax.Array]:
  """The rows to decode and which of them hold a target.

  Args:
    target_mask: [b, m] bool valid target slots.
    capacity: ModelConfig.target_capacity (> 0).

  Returns:
    rows [n] int32 indices into the flattened b * m slots (valid ones first, in row order), valid [n]
    bool (the row holds a target; False for padding rows).
  """
  b, m = target_mask.shape
  n = num_decoded_rows(b, m, capacity)
  flat = jnp.asarray(target_mask).reshape(-1)
  rows = jnp.argsort(~flat, stable=True)[:n].astype(jnp.int32)
  return rows, flat[rows]
