"""SASRec (Kang & McAuley 2018) in Flax NNX: a causal self-attention encoder over item-id sequences.

The ID-based baseline that HSTU and TIGER compare against, in the same codebase so it shares data, split
and metric code with OneRec. Items are right-aligned in a window of `max_len` (latest item last); item
index -1 is padding (embedding row 0). Causal attention runs through `kernels_pallas.attention` with
segment ids (0 = padding). Scoring against items is a dot product, or a cosine / temperature when
`similarity='cosine'` (HSTU's SASRec setting). Shape legend: b batch, t window length, d model width,
h heads, k head dim, i items, m candidates.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

import kernels_pallas


@dataclasses.dataclass(kw_only=True)
class SasrecConfig:
  """Model shape and scoring."""

  num_items: int = 0  # catalogue size; 0 = filled from the dataset
  max_len: int = 200  # window length t (positions); the history a prediction sees
  embed_dim: int = 50  # model width d (item and position embeddings)
  num_blocks: int = 2  # self-attention blocks
  num_heads: int = 1  # attention heads h (embed_dim must be divisible)
  mlp_dim: int = 0  # feed-forward width; 0 = embed_dim (SASRec)
  dropout: float = 0.2  # dropout on embeddings, attention output and feed-forward
  similarity: str = "cosine"  # 'dot' | 'cosine' (l2-normalised query and items, divided by temperature)
  temperature: float = 0.05  # softmax temperature of the cosine similarity
  attention_impl: str = "auto"  # kernels_pallas.attention impl ('auto' = Pallas on GPU/TPU, XLA on CPU)
  # How the family trains (onerec_jax.train.sasrec_task): sampled softmax over windows.
  num_negatives: int = 128  # sampled-softmax negatives (HSTU: 128)
  negatives_per: str = "sequence"  # 'position' (b x t x m draws per step, HSTU) | 'sequence' (b x m draws,
  # shared by a sequence's positions) | 'batch' (m shared draws per step) | 'all' (the full softmax over
  # the catalogue, no sampling)
  # The full softmax scores at most ceil(c * b * t) positions per batch, the supervised ones first
  # (onerec_jax.models.target_rows); 0 = every position. Padding fills ~43% of ML-1M's windows of 200.
  target_capacity: float = 0.0
  window_stride: int = 0  # training-window stride (onerec_jax.input.windows); 0 = max_len (non-overlapping)
  # 'all': windows cover every training target once; 'latest': one window per user, its most recent (HSTU's
  # training set: one sequence per user, older targets unused)
  train_windows: str = "all"
  # Item-table init stddev; 0 = 1/sqrt(embed_dim) (unit-variance inputs after the sqrt(d) scale). HSTU's
  # SASRec draws 0.02 (inputs of stddev 0.14, the scale of its position embeddings).
  embed_init_std: float = 0.0
  rng_impl: str = "threefry2x32"  # PRNG of dropout and negatives: 'threefry2x32' | 'rbg' | 'unsafe_rbg'

  def validate(self) -> "SasrecConfig":
    if self.num_items < 0 or self.max_len < 1 or self.embed_dim < 1 or self.num_blocks < 1:
      raise ValueError(f"sasrec: num_items >= 0, max_len, embed_dim, num_blocks >= 1; got {self}")
    if self.embed_dim % self.num_heads:
      raise ValueError(f"sasrec.embed_dim={self.embed_dim} is not divisible by num_heads={self.num_heads}")
    if not 0.0 <= self.dropout < 1.0:
      raise ValueError(f"sasrec.dropout must be in [0, 1), got {self.dropout}")
    if self.similarity not in ("dot", "cosine"):
      raise ValueError(f"sasrec.similarity must be 'dot' or 'cosine', got {self.similarity!r}")
    if self.temperature <= 0:
      raise ValueError(f"sasrec.temperature must be positive, got {self.temperature}")
    if not 0 <= self.window_stride <= self.max_len:
      raise ValueError(
        f"sasrec.window_stride={self.window_stride} must be in [0 (= max_len), sasrec.max_len={self.max_len}]"
      )
    if self.train_windows not in ("all", "latest"):
      raise ValueError(f"sasrec.train_windows must be 'all' or 'latest', got {self.train_windows!r}")
    if self.embed_init_std < 0:
      raise ValueError(f"sasrec.embed_init_std must be >= 0 (0 = 1/sqrt(embed_dim)), got {self.embed_init_std}")
    if self.num_negatives < 1:
      raise ValueError(f"sasrec.num_negatives must be >= 1, got {self.num_negatives}")
    if self.negatives_per not in ("position", "sequence", "batch", "all"):
      raise ValueError(
        f"sasrec.negatives_per must be 'position', 'sequence', 'batch' or 'all', got {self.negatives_per!r}"
      )
    if not 0 <= self.target_capacity <= 1:
      raise ValueError(f"sasrec.target_capacity must be in [0, 1] (0 = every position), got {self.target_capacity}")
    if self.target_capacity and self.negatives_per != "all":
      raise ValueError(
        f"sasrec.target_capacity applies to the full softmax (sasrec.negatives_per='all'), got "
        f"negatives_per={self.negatives_per!r}"
      )
    return self


class SelfAttentionBlock(nnx.Module):
  """Pre-norm causal self-attention and ReLU feed-forward, each with a residual connection."""

  def __init__(self, config: SasrecConfig, *, rngs: nnx.Rngs):
    d, mlp = config.embed_dim, config.mlp_dim or config.embed_dim
    self.num_heads, self.impl = config.num_heads, config.attention_impl
    self.attn_norm = nnx.LayerNorm(d, epsilon=1e-8, rngs=rngs)
    self.qkv = nnx.Linear(d, 3 * d, rngs=rngs)
    self.out = nnx.Linear(d, d, rngs=rngs)
    self.mlp_norm = nnx.LayerNorm(d, epsilon=1e-8, rngs=rngs)
    self.mlp_in = nnx.Linear(d, mlp, rngs=rngs)
    self.mlp_out = nnx.Linear(mlp, d, rngs=rngs)
    self.dropout = nnx.Dropout(config.dropout)

  def __call__(self, x: jax.Array, segment_ids: jax.Array, rngs: nnx.Rngs | None = None) -> jax.Array:
    """x [b, t, d], segment_ids [b, t] int32 (0 = padding) -> [b, t, d]; rngs: dropout keys (training)."""
    b, t, d = x.shape
    h = self.num_heads
    q, k, v = jnp.split(self.qkv(self.attn_norm(x)).reshape(b, t, 3 * h, d // h), 3, axis=2)  # [b, t, h, k]
    attn = kernels_pallas.attention(
      q, k, v, causal=True, q_segment_ids=segment_ids, kv_segment_ids=segment_ids, impl=self.impl
    )
    x = x + self.dropout(self.out(attn.reshape(b, t, d)), rngs=rngs)
    y = self.mlp_out(self.dropout(jax.nn.relu(self.mlp_in(self.mlp_norm(x))), rngs=rngs))
    return x + self.dropout(y, rngs=rngs)


class SASRec(nnx.Module):
  """Item and position embeddings, `num_blocks` causal blocks, a final LayerNorm; shared item table."""

  def __init__(self, config: SasrecConfig, *, rngs: nnx.Rngs):
    config.validate()
    if config.num_items < 1:
      raise ValueError("sasrec.num_items must be set (>= 1) before building the model")
    self.config = config
    d = config.embed_dim
    init = nnx.initializers.normal(stddev=1.0 / math.sqrt(d))
    item_init = nnx.initializers.normal(stddev=config.embed_init_std) if config.embed_init_std else init
    self.item_embed = nnx.Embed(config.num_items + 1, d, embedding_init=item_init, rngs=rngs)  # row 0 = padding
    self.pos_embed = nnx.Embed(config.max_len, d, embedding_init=init, rngs=rngs)
    self.blocks = nnx.List([SelfAttentionBlock(config, rngs=rngs) for _ in range(config.num_blocks)])
    self.final_norm = nnx.LayerNorm(d, epsilon=1e-8, rngs=rngs)
    self.dropout = nnx.Dropout(config.dropout)

  def item_vectors(self, items: jax.Array) -> jax.Array:
    """[...] item indices (-1 = padding) -> [..., d] output-side item vectors (normalised if cosine)."""
    e = self.item_embed(items + 1)
    if self.config.similarity == "cosine":
      e = e * jax.lax.rsqrt(jnp.sum(e * e, -1, keepdims=True) + 1e-12)
    return e

  def encode(self, items: jax.Array, rngs: nnx.Rngs | None = None) -> jax.Array:
    """items [b, t] int32 right-aligned windows (-1 = padding) -> query vectors [b, t, d].

    Dropout is applied when `rngs` (a 'dropout' stream) is given and the model is in train mode; the
    model holds no RNG state, so a train step draws its keys from (seed, step) and resumes exactly.

    Position p's vector summarises items[:, :p + 1] (causal); padded positions are zero. With cosine
    similarity the vectors are l2-normalised and divided by the temperature, so `query @ item_vectors`
    is the logit either way.
    """
    b, t = items.shape
    if t > self.config.max_len:
      raise ValueError(f"window of {t} items exceeds sasrec.max_len={self.config.max_len}")
    valid = items >= 0
    segment_ids = valid.astype(jnp.int32)
    x = self.item_embed(items + 1) * math.sqrt(self.config.embed_dim)
    x = x + self.pos_embed(jnp.arange(self.config.max_len - t, self.config.max_len))[None]
    x = self.dropout(x, rngs=rngs) * valid[..., None]
    for block in self.blocks:
      x = block(x, segment_ids, rngs) * valid[..., None]
    x = self.final_norm(x) * valid[..., None]
    if self.config.similarity == "cosine":
      x = x * jax.lax.rsqrt(jnp.sum(x * x, -1, keepdims=True) + 1e-12) / self.config.temperature
    return x

  def __call__(self, items: jax.Array, rngs: nnx.Rngs | None = None) -> jax.Array:
    return self.encode(items, rngs)

  def score_all(self, items: jax.Array) -> jax.Array:
    """items [b, t] -> [b, i] logits of every catalogue item as the next item after the last position."""
    q = self.encode(items)[:, -1]  # [b, d]
    table = self.item_vectors(jnp.arange(self.config.num_items))  # [i, d]
    return q @ table.T
