"""Pre-norm transformer blocks of the encoder, the decoder and the lifelong QFormer.

Shape legend: b batch, s query length, t key length, d model width.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from onerec_jax.layers.attention import MultiHeadAttention
from onerec_jax.layers.feed_forward import SwiGLU
from onerec_jax.layers.moe import MoE
from onerec_jax.sharding.rules import logical_init, with_logical_constraint


def rms_norm(d_model: int, rngs: nnx.Rngs) -> nnx.RMSNorm:
  """RMSNorm whose scale carries the 'embed' logical axis."""
  return nnx.RMSNorm(d_model, scale_init=logical_init(nnx.initializers.ones_init(), ("embed",)), rngs=rngs)


class FeedForward(nnx.Module):
  """Dense SwiGLU, or a mixture of SwiGLU experts when num_experts > 0."""

  def __init__(
    self,
    d_model: int,
    ffn_dim: int,
    *,
    num_experts: int = 0,
    top_k: int = 2,
    capacity_factor: float = 0.0,
    dtype=jnp.float32,
    rngs: nnx.Rngs,
  ):
    self.is_moe = num_experts > 0
    if self.is_moe:
      self.ffn = MoE(d_model, ffn_dim, num_experts, top_k, capacity_factor=capacity_factor, dtype=dtype, rngs=rngs)
    else:
      self.ffn = SwiGLU(d_model, ffn_dim, dtype=dtype, rngs=rngs)

  def __call__(self, x: jax.Array, mask: jax.Array | None = None) -> tuple[jax.Array, dict]:
    """x [b, s, d], mask [b, s] bool -> ([b, s, d], aux); aux has 'expert_load' [e] for MoE."""
    if self.is_moe:
      return self.ffn(x, mask=mask)
    return self.ffn(x), {}


class EncoderLayer(nnx.Module):
  """Full (non-causal) self-attention over the user tokens, then a feed-forward."""

  def __init__(
    self,
    d_model: int,
    num_heads: int,
    head_dim: int,
    ffn_dim: int,
    *,
    num_experts: int = 0,
    top_k: int = 2,
    capacity_factor: float = 0.0,
    dropout_rate: float = 0.0,
    attention_impl: str = "auto",
    dtype=jnp.float32,
    rngs: nnx.Rngs,
  ):
    self.attn_norm = rms_norm(d_model, rngs)
    self.attn = MultiHeadAttention(d_model, num_heads, head_dim, impl=attention_impl, dtype=dtype, rngs=rngs)
    self.ffn_norm = rms_norm(d_model, rngs)
    self.ffn = FeedForward(
      d_model, ffn_dim, num_experts=num_experts, top_k=top_k, capacity_factor=capacity_factor, dtype=dtype, rngs=rngs
    )
    self.dropout = nnx.Dropout(dropout_rate, rngs=rngs)

  def __call__(self, x: jax.Array, segment_ids: jax.Array, causal: bool = False) -> tuple[jax.Array, dict]:
    """x [b, t, d], segment_ids [b, t] (0 = padding) -> ([b, t, d], aux).

    `causal=True` is the multi-target encoder: token i attends to tokens <= i only, so the state at a
    history position carries nothing from later interactions (ModelConfig.multi_target).
    """
    h = self.attn(self.attn_norm(x), q_segment_ids=segment_ids, kv_segment_ids=segment_ids, causal=causal)
    x = x + self.dropout(h)
    h, aux = self.ffn(self.ffn_norm(x), mask=segment_ids > 0)
    x = x + self.dropout(h)
    return with_logical_constraint(x, ("act_batch", "act_length", "act_embed")), aux


class DecoderLayer(nnx.Module):
  """Causal self-attention, cross-attention to the encoder output, then a (mixture-of-experts) FFN."""

  def __init__(
    self,
    d_model: int,
    num_heads: int,
    head_dim: int,
    ffn_dim: int,
    *,
    num_experts: int = 0,
    top_k: int = 2,
    capacity_factor: float = 0.0,
    dropout_rate: float = 0.0,
    attention_impl: str = "auto",
    dtype=jnp.float32,
    rngs: nnx.Rngs,
  ):
    self.self_norm = rms_norm(d_model, rngs)
    self.self_attn = MultiHeadAttention(d_model, num_heads, head_dim, impl=attention_impl, dtype=dtype, rngs=rngs)
    self.cross_norm = rms_norm(d_model, rngs)
    self.cross_attn = MultiHeadAttention(d_model, num_heads, head_dim, impl=attention_impl, dtype=dtype, rngs=rngs)
    self.ffn_norm = rms_norm(d_model, rngs)
    self.ffn = FeedForward(
      d_model, ffn_dim, num_experts=num_experts, top_k=top_k, capacity_factor=capacity_factor, dtype=dtype, rngs=rngs
    )
    self.dropout = nnx.Dropout(dropout_rate, rngs=rngs)

  def __call__(
    self,
    x: jax.Array,
    cross_kv: tuple[jax.Array, jax.Array],
    encoder_segment_ids: jax.Array,
    cross_limit: jax.Array | None = None,
  ) -> tuple[jax.Array, dict]:
    """One decoder layer.

    Args:
      x: target-token states [b, s, d] (b = requests x beams at inference, or windows x targets).
      cross_kv: this layer's projected encoder keys, values [b', t, h, k], with b a multiple of b'.
      encoder_segment_ids: [b', t] (0 = padding).
      cross_limit: optional [b, s] int32: each query sees the first cross_limit encoder tokens only
        (multi-target training: a target sees its own past).

    Returns:
      ([b, s, d], aux).
    """
    x = x + self.dropout(self.self_attn(self.self_norm(x), causal=True))
    x = x + self.dropout(
      self.cross_attn(self.cross_norm(x), kv_cache=cross_kv, kv_segment_ids=encoder_segment_ids, kv_limit=cross_limit)
    )
    h, aux = self.ffn(self.ffn_norm(x))
    x = x + self.dropout(h)
    return with_logical_constraint(x, ("act_batch", "act_length", "act_embed")), aux

  def init_cache(self, batch_size: int, max_len: int) -> tuple[jax.Array, jax.Array]:
    """This layer's empty self-attention cache: keys, values [b, max_len, h, k]."""
    return self.self_attn.init_cache(batch_size, max_len)

  def step(
    self,
    x: jax.Array,
    cache: tuple[jax.Array, jax.Array],
    position: int | jax.Array,
    cross_kv: tuple[jax.Array, jax.Array],
    encoder_segment_ids: jax.Array,
  ) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """The layer on new tokens only, reading earlier positions from the self-attention cache.

    Equals `__call__` (without cross_limit) at positions position ... position+s-1 when the cache holds
    the earlier positions of the same sequence. The MoE aux is dropped: this is the inference path.

    Args:
      x: new tokens' states [b, s, d] (b = requests x beams).
      cache: self-attention (keys, values) [b, max_len, h, k].
      position: int32 scalar position of x's first token.
      cross_kv: this layer's projected encoder keys, values [b', t, h, k], with b a multiple of b' (the
        beams of a request share them, see MultiHeadAttention.__call__).
      encoder_segment_ids: [b', t] (0 = padding).

    Returns:
      ([b, s, d], updated cache).
    """
    h, cache = self.self_attn.cached_self_attention(self.self_norm(x), cache, position)
    x = x + self.dropout(h)
    x = x + self.dropout(self.cross_attn(self.cross_norm(x), kv_cache=cross_kv, kv_segment_ids=encoder_segment_ids))
    h, _ = self.ffn(self.ffn_norm(x))
    x = x + self.dropout(h)
    return with_logical_constraint(x, ("act_batch", "act_length", "act_embed")), cache


class QFormerBlock(nnx.Module):
  """Learned queries cross-attend to a long sequence, then a feed-forward (the lifelong compressor)."""

  def __init__(
    self,
    d_model: int,
    num_heads: int,
    head_dim: int,
    ffn_dim: int,
    *,
    attention_impl: str = "auto",
    dtype=jnp.float32,
    rngs: nnx.Rngs,
  ):
    self.cross_norm = rms_norm(d_model, rngs)
    self.cross_attn = MultiHeadAttention(d_model, num_heads, head_dim, impl=attention_impl, dtype=dtype, rngs=rngs)
    self.ffn_norm = rms_norm(d_model, rngs)
    self.ffn = SwiGLU(d_model, ffn_dim, dtype=dtype, rngs=rngs)

  def __call__(self, queries: jax.Array, memory: jax.Array, memory_segment_ids: jax.Array) -> jax.Array:
    """queries [b, q, d], memory [b, t, d], memory_segment_ids [b, t] -> [b, q, d]."""
    queries = queries + self.cross_attn(self.cross_norm(queries), kv=memory, kv_segment_ids=memory_segment_ids)
    return queries + self.ffn(self.ffn_norm(queries))
