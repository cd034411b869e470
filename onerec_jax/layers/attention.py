"""Multi-head attention: projections around the fused `kernels_pallas.attention` op.

Shape legend: b batch, s query length, t key length, d model width, h heads, k head width.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

import kernels_pallas
from onerec_jax.sharding.rules import logical_init, with_logical_constraint


def _dense_init(*names: str):
  return logical_init(nnx.initializers.lecun_normal(), names)


class MultiHeadAttention(nnx.Module):
  """Self- or cross-attention with separate q/k/v/o projections (no bias).

  Keys and values can be projected once (`project_kv`) and reused across calls: the decoder does this
  for cross-attention so that the encoder output is projected once per request, not once per beam step.
  """

  def __init__(
    self, d_model: int, num_heads: int, head_dim: int, *, impl: str = "auto", dtype=jnp.float32, rngs: nnx.Rngs
  ):
    self.num_heads, self.head_dim, self.impl, self.dtype = num_heads, head_dim, impl, dtype
    shape = (d_model, num_heads, head_dim)
    self.q = nnx.Param(_dense_init("embed", "heads", "kv")(rngs.params(), shape, jnp.float32))
    self.k = nnx.Param(_dense_init("embed", "heads", "kv")(rngs.params(), shape, jnp.float32))
    self.v = nnx.Param(_dense_init("embed", "heads", "kv")(rngs.params(), shape, jnp.float32))
    self.o = nnx.Param(_dense_init("heads", "kv", "embed")(rngs.params(), (num_heads, head_dim, d_model), jnp.float32))

  def project_kv(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """x [b, t, d] -> keys, values [b, t, h, k]."""
    x = x.astype(self.dtype)
    k = jnp.einsum("btd,dhk->bthk", x, self.k[...].astype(self.dtype))
    v = jnp.einsum("btd,dhk->bthk", x, self.v[...].astype(self.dtype))
    return k, v

  def __call__(
    self,
    x: jax.Array,
    *,
    kv: jax.Array | None = None,
    kv_cache: tuple[jax.Array, jax.Array] | None = None,
    q_segment_ids: jax.Array | None = None,
    kv_segment_ids: jax.Array | None = None,
    causal: bool = False,
    kv_limit: jax.Array | None = None,
  ) -> jax.Array:
    """Attends from x to kv (self-attention when both kv and kv_cache are None).

    Args:
      x: queries' input [b, s, d].
      kv: keys' input [b, t, d] for cross-attention.
      kv_cache: precomputed (keys, values) [b, t, h, k] from `project_kv`; b may divide x's batch
        evenly when the same keys serve several query groups (beams): then the query groups are folded
        into the query length, which is exact for non-causal attention.
      q_segment_ids: [b, s] int32, 0 = padding; None = all valid.
      kv_segment_ids: [b, t] int32, 0 = padding; None = all valid. Given alone, either is a padding
        mask on its side (see kernels_pallas.attention).
      causal: mask keys after the query position.
      kv_limit: [b, s] int32, optional: query i sees only keys with index < kv_limit[i] (a per-query
        prefix of the keys). The multi-target decoder uses it so that the target at window column j
        cross-attends only to the encoder tokens of its own past. This path is plain XLA attention with
        an explicit mask (the fused op has no per-query prefix mask).

    Returns:
      [b, s, d] in self.dtype.
    """
    x = x.astype(self.dtype)
    q = jnp.einsum("bsd,dhk->bshk", x, self.q[...].astype(self.dtype))
    if kv_cache is not None:
      k, v = kv_cache
    else:
      k, v = self.project_kv(x if kv is None else kv)
    b, s = q.shape[:2]
    groups = b // k.shape[0]
    if groups * k.shape[0] != b:
      raise ValueError(f"query batch {b} is not a multiple of the key batch {k.shape[0]}")
    if groups > 1:  # fold beams into the query length: [b*g, s] -> [b, g*s]
      if causal:
        raise ValueError("shared keys across query groups only works for non-causal attention")
      q = q.reshape(k.shape[0], groups * s, *q.shape[2:])
      if q_segment_ids is not None:
        q_segment_ids = q_segment_ids.reshape(k.shape[0], groups * s)
      if kv_limit is not None:
        kv_limit = kv_limit.reshape(k.shape[0], groups * s)
    q = with_logical_constraint(q, ("act_batch", "act_length", "act_heads", None))
    if kv_limit is not None:
      if causal or q_segment_ids is not None:
        raise ValueError("kv_limit is for cross-attention: pass neither causal nor q_segment_ids with it")
      out = prefix_attention(q, k, v, kv_limit, kv_segment_ids)
    else:
      out = kernels_pallas.attention(
        q, k, v, causal=causal, q_segment_ids=q_segment_ids, kv_segment_ids=kv_segment_ids, impl=self.impl
      )
    out = out.reshape(b, s, *out.shape[2:])
    return jnp.einsum("bshk,hkd->bsd", out, self.o[...].astype(self.dtype))

  def init_cache(self, batch_size: int, max_len: int) -> tuple[jax.Array, jax.Array]:
    """An empty self-attention cache for `cached_self_attention`: keys, values [b, max_len, h, k] zeros."""
    shape = (batch_size, max_len, self.num_heads, self.head_dim)
    return jnp.zeros(shape, self.dtype), jnp.zeros(shape, self.dtype)

  def cached_self_attention(
    self, x: jax.Array, cache: tuple[jax.Array, jax.Array], position: int | jax.Array
  ) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """Causal self-attention of s new tokens against a key/value cache (incremental decoding).

    The new tokens' keys and values are written into the cache at positions position ... position+s-1
    (`jax.lax.dynamic_update_slice`, so `position` may be traced); the token at position p then sees
    the cached keys 0 ... p. Cache slots beyond p may hold anything (zeros, or stale rows of a beam
    that was reordered away): they are masked by position, never by content. With the same weights and
    the tokens fed one by one from position 0 this equals `__call__(x, causal=True)` over the whole
    sequence.

    Args:
      x: new tokens' input [b, s, d].
      cache: (keys, values) [b, max_len, h, k] from `init_cache` or a previous call.
      position: int32 scalar, the position of x's first token; position + s <= max_len.

    Returns:
      ([b, s, d] in self.dtype, updated (keys, values)).
    """
    keys, values = cache
    b, s = x.shape[:2]
    max_len = keys.shape[1]
    if isinstance(position, int) and not 0 <= position <= max_len - s:
      # dynamic_update_slice would clamp the start and silently overwrite earlier positions.
      raise ValueError(f"tokens at positions {position}..{position + s - 1} do not fit a cache of {max_len}")
    x = x.astype(self.dtype)
    q = jnp.einsum("bsd,dhk->bshk", x, self.q[...].astype(self.dtype))
    q = with_logical_constraint(q, ("act_batch", "act_length", "act_heads", None))
    k_new, v_new = self.project_kv(x)
    start = (jnp.int32(0), jnp.asarray(position, jnp.int32), jnp.int32(0), jnp.int32(0))
    keys = jax.lax.dynamic_update_slice(keys, k_new.astype(keys.dtype), start)
    values = jax.lax.dynamic_update_slice(values, v_new.astype(values.dtype), start)
    # Causal by position: query i (at position + i) sees keys 0 ... position + i.
    limit = jnp.asarray(position, jnp.int32) + 1 + jnp.arange(s, dtype=jnp.int32)
    out = prefix_attention(q, keys, values, jnp.broadcast_to(limit, (b, s)))
    return jnp.einsum("bshk,hkd->bsd", out, self.o[...].astype(self.dtype)), (keys, values)


def prefix_attention(
  q: jax.Array, k: jax.Array, v: jax.Array, kv_limit: jax.Array, kv_segment_ids: jax.Array | None = None
) -> jax.Array:
  """Attention where query i sees keys [0, kv_limit[i]) (and not padding keys).

  Args:
    q: [b, s, h, k]; k, v: [b, t, h, k].
    kv_limit: [b, s] int32 number of leading keys each query may see.
    kv_segment_ids: [b, t] int32, 0 = padding key; None = all valid.

  Returns:
    [b, s, h, k]; a query with no visible key gets zeros (the kernels' convention).
  """
  t = k.shape[1]
  mask = jnp.arange(t, dtype=jnp.int32)[None, None, :] < kv_limit[:, :, None]  # [b, s, t]
  if kv_segment_ids is not None:
    mask = mask & (kv_segment_ids > 0)[:, None, :]
  out = jax.nn.dot_product_attention(q, k.astype(q.dtype), v.astype(q.dtype), mask=mask[:, None])
  return jnp.where(mask.any(-1)[:, :, None, None], out, jnp.zeros((), out.dtype))
