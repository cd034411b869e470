"""Plain-jnp multi-head attention: the specification the kernels are tested against.

Shape legend: b batch, t query length, s key/value length, h query heads, g key/value heads
(grouped-query attention: each key/value head serves h // g query heads), k head dim.

Masking convention, shared by every implementation of `kernels_pallas.attention`:

* Segment ids are int32 `[b, t]` (queries) and `[b, s]` (keys). A query attends to a key only when
  their segment ids are equal. Segment id 0 is padding: a padding key is never attended to.
* `causal=True` uses absolute positions with the queries at the END of the key sequence: query `i`
  sits at position `s - t + i` and sees keys `j <= s - t + i`. With `t == s` this is the usual causal
  mask; with `t == 1` it is one decoding step against a cache of `s` keys.
* A query row whose every key is masked returns zeros (not NaN, not a uniform average), and its
  gradients are zero.
"""

import jax
import jax.numpy as jnp

# Finite stand-in for -inf: keeps `exp(s - max)` free of NaN when a whole row is masked.
MASK_VALUE = -0.7 * float(jnp.finfo(jnp.float32).max)


def normalize_segment_ids(q_segment_ids, kv_segment_ids):
  """Turns a one-sided segment id array into the two-sided form the kernels use.

  A lone `kv_segment_ids` is a key padding mask (queries see every non-padding key); a lone
  `q_segment_ids` is a query padding mask (padding queries return zeros). Both are expressed as
  0/1 ids on both sides so one masking rule, `q_id == kv_id and kv_id != 0`, covers every case.

  Args:
    q_segment_ids: int32 `[b, t]` or None.
    kv_segment_ids: int32 `[b, s]` or None.

  Returns:
    (q_segment_ids, kv_segment_ids), both None or both int32 arrays.
  """
  if q_segment_ids is None and kv_segment_ids is None:
    return None, None
  if q_segment_ids is None:
    kv = (kv_segment_ids != 0).astype(jnp.int32)
    return jnp.ones(kv.shape[:1] + (1,), jnp.int32), kv  # broadcast over t below
  if kv_segment_ids is None:
    qs = (q_segment_ids != 0).astype(jnp.int32)
    return qs, jnp.ones(qs.shape[:1] + (1,), jnp.int32)
  return q_segment_ids.astype(jnp.int32), kv_segment_ids.astype(jnp.int32)


def make_mask(
  q_len: int,
  kv_len: int,
  *,
  causal: bool,
  q_segment_ids: jax.Array | None,
  kv_segment_ids: jax.Array | None,
) -> jax.Array | None:
  """Builds the boolean attention mask of the convention above.

  Args:
    q_len: t.
    kv_len: s.
    causal: whether to apply the end-aligned causal mask.
    q_segment_ids: int32 `[b, t]` or None.
    kv_segment_ids: int32 `[b, s]` (or broadcastable `[b, 1]`) or None; both or neither
      (`normalize_segment_ids` makes them so).

  Returns:
    bool `[b or 1, t, s]`, True where a query may attend to a key; None when nothing is masked.
  """
  mask = None
  if q_segment_ids is not None:
    mask = (q_segment_ids[:, :, None] == kv_segment_ids[:, None, :]) & (kv_segment_ids[:, None, :] != 0)
  if causal:
    q_pos = jnp.arange(q_len)[:, None] + (kv_len - q_len)
    kv_pos = jnp.arange(kv_len)[None, :]
    causal_mask = (kv_pos <= q_pos)[None]
    mask = causal_mask if mask is None else mask & causal_mask
  return mask


def attention_reference(
  q: jax.Array,
  k: jax.Array,
  v: jax.Array,
  *,
  causal: bool = False,
  q_segment_ids: jax.Array | None = None,
  kv_segment_ids: jax.Array | None = None,
) -> jax.Array:
  """Softmax attention with float32 accumulation; O(t * s) memory.

  Args:
    q: `[b, t, h, k]`.
    k: `[b, s, g, k]`, h % g == 0.
    v: `[b, s, g, k]`.
    causal: end-aligned causal mask (module docstring).
    q_segment_ids: int32 `[b, t]` or None; 0 is padding.
    kv_segment_ids: int32 `[b, s]` or None; 0 is padding. Alone, either acts as a padding mask.

  Returns:
    `[b, t, h, k]` in q's dtype; fully masked rows are zeros.
  """
  q_segment_ids, kv_segment_ids = normalize_segment_ids(q_segment_ids, kv_segment_ids)
  b, t, h, d = q.shape
  s, g = k.shape[1], k.shape[2]
  qg = q.reshape(b, t, g, h // g, d).astype(jnp.float32)
  logits = jnp.einsum('btgrk,bsgk->bgrts', qg, k.astype(jnp.float32)) / jnp.sqrt(jnp.float32(d))
  mask = make_mask(t, s, causal=causal, q_segment_ids=q_segment_ids, kv_segment_ids=kv_segment_ids)
  if mask is not None:
    mask = mask[:, None, None]  # [b, 1, 1, t, s]
    logits = jnp.where(mask, logits, MASK_VALUE)
  row_max = jnp.max(logits, axis=-1, keepdims=True)
  p = jnp.exp(logits - jax.lax.stop_gradient(row_max))
  if mask is not None:
    p = jnp.where(mask, p, 0.0)
  denom = jnp.sum(p, axis=-1, keepdims=True)
  p = p / jnp.where(denom == 0.0, 1.0, denom)
  out = jnp.einsum('bgrts,bsgk->btgrk', p, v.astype(jnp.float32))
  return out.reshape(b, t, h, d).astype(q.dtype)
