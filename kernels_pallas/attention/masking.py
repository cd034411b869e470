"""Tile-level masks and loop bounds shared by the GPU and TPU flash-attention kernels.

Positions are absolute within the (padded) sequences; `causal_offset` is `s - t` of the unpadded
lengths (queries sit at positions `i + causal_offset`), or None for no causal mask.
"""

import jax
import jax.numpy as jnp

# Finite stand-in for -inf (see reference.MASK_VALUE); masked probabilities are also zeroed
# explicitly so a fully masked tile never contributes exp(0) = 1.
MASK_VALUE = -0.7 * float(jnp.finfo(jnp.float32).max)
# Log-sum-exp stored for a row with no visible key: exp(logit - BIG) underflows to 0.
EMPTY_ROW_LSE = 0.7 * float(jnp.finfo(jnp.float32).max)
LOG2E = 1.4426950408889634


def tile_mask(q_ids, kv_ids, q_start, kv_start, causal_offset):
  """Visibility of a `[bq, bkv]` tile.

  Args:
    q_ids: int32 `[bq, 1]` segment ids of the tile's queries (a column: TPU-friendly layout).
    kv_ids: int32 `[1, bkv]` segment ids of the tile's keys (0 = padding).
    q_start: index of the tile's first query (traced scalar ok).
    kv_start: index of the tile's first key.
    causal_offset: static int or None.

  Returns:
    bool `[bq, bkv]`.
  """
  mask = (q_ids == kv_ids) & (kv_ids != 0)
  if causal_offset is not None:
    bq, bkv = q_ids.shape[0], kv_ids.shape[1]
    q_pos = q_start + causal_offset + jax.lax.broadcasted_iota(jnp.int32, (bq, bkv), 0)
    kv_pos = kv_start + jax.lax.broadcasted_iota(jnp.int32, (bq, bkv), 1)
    mask = mask & (kv_pos <= q_pos)
  return mask


def kv_block_range(q_block, block_q, block_kv, num_kv_blocks, causal_offset):
  """[lo, hi) of key blocks a query block can see (skips blocks above the causal diagonal)."""
  if causal_offset is None:
    return 0, num_kv_blocks
  last_visible = (q_block + 1) * block_q - 1 + causal_offset  # last key of the block's last query
  hi = jnp.clip((last_visible + block_kv) // block_kv, 0, num_kv_blocks)
  return 0, hi


def q_block_range(kv_block, block_kv, block_q, num_q_blocks, causal_offset):
  """[lo, hi) of query blocks that can see a key block (skips blocks below the diagonal)."""
  if causal_offset is None:
    return 0, num_q_blocks
  first_query = kv_block * block_kv - causal_offset  # first query that sees the block's first key
  lo = jnp.clip(first_query // block_q, 0, num_q_blocks)
  return lo, num_q_blocks
