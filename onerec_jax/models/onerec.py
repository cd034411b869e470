"""The OneRec encoder-decoder (PAPER.md sections 2-3).

The encoder reads four pathways of user features (static, short-term, positive-feedback, lifelong
compressed by a QFormer) as one token sequence; the decoder generates an item's semantic ID token by
token with causal self-attention, cross-attention to the encoder and (mixture-of-experts) feed-forwards.

Shape legend: b batch, n interactions in a pathway, t encoder tokens, s decoder positions, l semantic-ID
levels, d model width, e embedding width, f continuous feedback values, v codes per level, q queries.

Batch: onerec_jax.input.batches.OneRecBatch (built by onerec_jax.input.features): user_id [b], static
[b, num_static], one Pathway (items [b, n] with -1 padding, sids [b, n, l], category, author [b, n],
feedback [b, n, f]) per pathway (positive / lifelong None when switched off), target_sid [b, l]
(training only). With `targets_per_window = m > 0` (multi-target training) the short pathway is a window
whose last m positions' next items are the targets: target_sid [b, m, l], target_mask [b, m] bool; the
positive and lifelong pathways are taken before the window's first target.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from onerec_jax.input.batches import OneRecBatch, Pathway
from onerec_jax.layers.transformer import DecoderLayer, EncoderLayer, QFormerBlock, rms_norm
from onerec_jax.models.config import ModelConfig
from onerec_jax.models.history_negatives import decoded_negatives
from onerec_jax.models.target_rows import decoded_rows
from onerec_jax.sharding.rules import logical_init

PATHWAYS = ("short", "positive", "lifelong")
BOS = 0


TABLE_ROW_MULTIPLE = 128  # embedding rows are padded to this, so any fsdp/tensor size up to it divides them


def _embed(num: int, features: int, rngs: nnx.Rngs, names=("table", None)) -> nnx.Embed:
  """An embedding table with logical names; rows padded to a multiple of TABLE_ROW_MULTIPLE."""
  num = -(-num // TABLE_ROW_MULTIPLE) * TABLE_ROW_MULTIPLE
  return nnx.Embed(num, features, embedding_init=logical_init(nnx.initializers.normal(0.02), names), rngs=rngs)


def _linear(din: int, dout: int, rngs: nnx.Rngs, names=("embed", "mlp")) -> nnx.Linear:
  return nnx.Linear(
    din,
    dout,
    kernel_init=logical_init(nnx.initializers.lecun_normal(), names),
    bias_init=logical_init(nnx.initializers.zeros_init(), (names[1],)),
    rngs=rngs,
  )


def decoder_inputs(sids: jax.Array, vocab_size: int) -> jax.Array:
  """Teacher-forcing decoder input: [BOS, s_1, ..., s_{s}] with level offsets.

  Args:
    sids: semantic-ID prefix [b, s] (codes in [0, vocab_size)), s may be 0.
    vocab_size: codes per level.

  Returns:
    [b, s + 1] int32 token ids into the decoder embedding (0 = BOS, 1 + level * v + code).
  """
  b, s = sids.shape
  offsets = 1 + jnp.arange(s, dtype=jnp.int32) * vocab_size
  return jnp.concatenate([jnp.full((b, 1), BOS, jnp.int32), sids.astype(jnp.int32) + offsets], axis=1)


class InteractionEmbedding(nnx.Module):
  """Embeds interactions (item id, semantic ID, category, author, feedback) into e-wide vectors."""

  def __init__(self, config: ModelConfig, rngs: nnx.Rngs):
    e = config.embed_dim
    self.use_item_id = config.use_item_id_embedding
    if self.use_item_id:
      self.item = _embed(config.num_items + 1, e, rngs)
    self.sid = _embed(config.num_sid_levels * config.sid_vocab_size, e, rngs)
    self.category = _embed(config.num_categories + 1, e, rngs)
    self.author = _embed(config.num_authors + 1, e, rngs)
    self.vocab_size = config.sid_vocab_size
    self.num_levels = config.num_sid_levels
    self.width = e * (4 if self.use_item_id else 3) + config.num_feedback

  def __call__(self, items, sids, category, author, feedback) -> jax.Array:
    """items, category, author [b, n]; sids [b, n, l]; feedback [b, n, f] -> [b, n, width]."""
    valid = items >= 0
    offsets = jnp.arange(self.num_levels, dtype=jnp.int32) * self.vocab_size
    sid_vec = self.sid(jnp.where(valid[..., None], sids + offsets, 0)).sum(axis=-2)
    parts = [sid_vec, self.category(jnp.where(valid, category + 1, 0)), self.author(jnp.where(valid, author + 1, 0))]
    if self.use_item_id:
      parts.insert(0, self.item(jnp.where(valid, items + 1, 0)))
    parts.append(feedback.astype(jnp.float32))
    return jnp.concatenate(parts, axis=-1) * valid[..., None]


class FeatureMLP(nnx.Module):
  """The report's pathway projection: Dense -> LeakyReLU -> Dense to d_model."""

  def __init__(self, din: int, d_model: int, rngs: nnx.Rngs):
    self.fc1 = _linear(din, d_model, rngs)
    self.fc2 = _linear(d_model, d_model, rngs, names=("mlp", "embed"))

  def __call__(self, x: jax.Array) -> jax.Array:
    return self.fc2(jax.nn.leaky_relu(self.fc1(x)))


class OneRec(nnx.Module):
  """Encoder over multi-scale user features and a semantic-ID decoder (`encode`, `decode`, `__call__`)."""

  def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
    config.validate()
    config.check_data_fields()
    self.config = config
    c = config
    d, h, k = c.d_model, c.num_heads, c.resolved_head_dim
    dtype = jnp.dtype(c.dtype)
    self.dtype = dtype
    self.interaction = InteractionEmbedding(c, rngs)
    self.user = _embed(c.num_users, c.embed_dim, rngs) if c.static_pathway == "all" else None
    vocabs = c.static_vocab_sizes if c.static_pathway != "off" else ()
    self.static = nnx.List([_embed(v, c.embed_dim, rngs) for v in vocabs])
    width = c.embed_dim * (len(vocabs) + (self.user is not None))
    if width:
      self.static_mlp = FeatureMLP(width, d, rngs)
    else:  # static pathway off: a learned start token keeps one always-visible encoder position
      self.static_mlp = None
      self.start_token = nnx.Param(logical_init(nnx.initializers.normal(0.02), ("embed",))(rngs.params(), (d,)))
    self.short_mlp = FeatureMLP(self.interaction.width, d, rngs)
    self.positive_mlp = FeatureMLP(self.interaction.width, d, rngs) if c.positive_len else None
    if c.lifelong_len:
      self.lifelong_mlp = FeatureMLP(self.interaction.width, d, rngs)
      self.lifelong_queries = nnx.Param(
        logical_init(nnx.initializers.normal(0.02), ("queries", "embed"))(rngs.params(), (c.lifelong_queries, d))
      )
      self.qformer = nnx.List(
        [
          QFormerBlock(d, h, k, c.ffn_dim, attention_impl=c.attention_impl, dtype=dtype, rngs=rngs)
          for _ in range(c.lifelong_layers)
        ]
      )
    else:
      self.lifelong_mlp = None
    self.num_encoder_tokens = 1 + c.short_len + c.positive_len + (c.lifelong_queries if c.lifelong_len else 0)
    self.encoder_positions = nnx.Param(
      logical_init(nnx.initializers.normal(0.02), (None, "embed"))(rngs.params(), (self.num_encoder_tokens, d))
    )
    expert_ffn = c.resolved_expert_ffn_dim
    self.encoder_layers = nnx.List(
      [
        EncoderLayer(
          d,
          h,
          k,
          expert_ffn if c.encoder_moe else c.ffn_dim,
          num_experts=c.num_experts if c.encoder_moe else 0,
          top_k=c.num_experts_per_token,
          capacity_factor=c.capacity_factor,
          dropout_rate=c.dropout_rate,
          attention_impl=c.attention_impl,
          dtype=dtype,
          rngs=rngs,
        )
        for _ in range(c.num_encoder_layers)
      ]
    )
    self.encoder_norm = rms_norm(d, rngs)
    self.token_embed = _embed(1 + c.num_sid_levels * c.sid_vocab_size, d, rngs, names=("vocab", "embed"))
    self.decoder_positions = nnx.Param(
      logical_init(nnx.initializers.normal(0.02), (None, "embed"))(rngs.params(), (c.num_sid_levels, d))
    )
    self.decoder_layers = nnx.List(
      [
        DecoderLayer(
          d,
          h,
          k,
          expert_ffn if c.num_experts else c.ffn_dim,
          num_experts=c.num_experts,
          top_k=c.num_experts_per_token,
          capacity_factor=c.capacity_factor,
          dropout_rate=c.dropout_rate,
          attention_impl=c.attention_impl,
          dtype=dtype,
          rngs=rngs,
        )
        for _ in range(c.num_decoder_layers)
      ]
    )
    self.decoder_norm = rms_norm(d, rngs)
    self.head = nnx.Linear(
      d,
      c.sid_vocab_size,
      use_bias=False,
      kernel_init=logical_init(nnx.initializers.lecun_normal(), ("embed", "vocab")),
      rngs=rngs,
    )

  def _pathway(self, pathway: Pathway, mlp: FeatureMLP) -> tuple[jax.Array, jax.Array]:
    """A pathway's interactions -> tokens [b, n, d] and segment ids [b, n] (0 = padding)."""
    x = self.interaction(pathway.items, pathway.sids, pathway.category, pathway.author, pathway.feedback)
    return mlp(x), (pathway.items >= 0).astype(jnp.int32)

  def encode(self, batch: OneRecBatch) -> tuple[jax.Array, jax.Array, dict[str, dict]]:
    """Encodes user features.

    Returns:
      encoded [b, t, d] (float32), segment_ids [b, t] int32 (0 = padding), aux: {MoE layer path: its aux dict}.
    """
    c = self.config
    causal = c.targets_per_window > 0
    b = batch.user_id.shape[0]
    statics = [emb(batch.static[:, i]) for i, emb in enumerate(self.static)]
    if self.user is not None:
      statics.insert(0, self.user(batch.user_id % c.num_users))
    if self.static_mlp is not None:
      tokens = [self.static_mlp(jnp.concatenate(statics, axis=-1))[:, None, :]]
    else:
      tokens = [jnp.broadcast_to(self.start_token[...], (b, 1, self.start_token.shape[0]))]
    segments = [jnp.ones((b, 1), jnp.int32)]
    short = self._pathway(batch.short, self.short_mlp)
    if not causal:  # the report's order; the causal encoder puts the window last (context first)
      tokens.append(short[0]), segments.append(short[1])
    if self.positive_mlp is not None:
      x, seg = self._pathway(batch.positive, self.positive_mlp)
      tokens.append(x), segments.append(seg)
    if self.lifelong_mlp is not None:
      memory, memory_seg = self._pathway(batch.lifelong, self.lifelong_mlp)
      q = jnp.broadcast_to(self.lifelong_queries[...], (memory.shape[0], *self.lifelong_queries.shape))
      for block in self.qformer:
        q = block(q, memory, memory_seg)
      tokens.append(q), segments.append(jnp.ones(q.shape[:2], jnp.int32))
    if causal:
      tokens.append(short[0]), segments.append(short[1])
    x = jnp.concatenate(tokens, axis=1) + self.encoder_positions[...]
    segment_ids = jnp.concatenate(segments, axis=1)
    x = x.astype(self.dtype)
    aux = {}
    for i, layer in enumerate(self.encoder_layers):
      x, layer_aux = layer(x, segment_ids, causal=causal)
      if layer_aux:
        aux[f"encoder_layers/{i}/ffn/ffn"] = layer_aux
    return self.encoder_norm(x).astype(jnp.float32), segment_ids, aux

  def cross_kv(self, encoded: jax.Array) -> list[tuple[jax.Array, jax.Array]]:
    """Projects the encoder output once per decoder layer: list of (keys, values) [b, t, h, k]."""
    return [layer.cross_attn.project_kv(encoded) for layer in self.decoder_layers]

  def decode(
    self, tokens: jax.Array, cross_kv, encoder_segment_ids: jax.Array, cross_limit: jax.Array | None = None
  ) -> tuple[jax.Array, dict[str, dict]]:
    """Next-token logits for decoder inputs.

    Args:
      tokens: decoder input ids [b, s] from `decoder_inputs` (b = requests x beams allowed).
      cross_kv: from `cross_kv`, batch b' dividing b.
      encoder_segment_ids: [b', t].
      cross_limit: optional [b, s] int32 encoder tokens visible to each query (multi-target training).

    Returns:
      logits [b, s, v] float32, aux: {MoE layer path: its aux dict}.
    """
    s = tokens.shape[1]
    x = (self.token_embed(tokens) + self.decoder_positions[:s]).astype(self.dtype)
    aux = {}
    for i, (layer, kv) in enumerate(zip(self.decoder_layers, cross_kv)):
      x, layer_aux = layer(x, kv, encoder_segment_ids, cross_limit)
      if layer_aux:
        aux[f"decoder_layers/{i}/ffn/ffn"] = layer_aux
    return self.head(self.decoder_norm(x)).astype(jnp.float32), aux

  def init_decode_cache(self, batch_size: int, max_len: int | None = None) -> list[tuple[jax.Array, jax.Array]]:
    """Empty decoder self-attention caches for `decode_step`.

    Args:
      batch_size: rows that will be decoded (b = requests x beams at inference).
      max_len: decoder positions to hold; default l (BOS plus the first l - 1 codes: the last code is
        generated, never fed back).

    Returns:
      One (keys, values) [b, max_len, h, k] pair per decoder layer (a plain pytree).
    """
    max_len = self.config.num_sid_levels if max_len is None else max_len
    return [layer.init_cache(batch_size, max_len) for layer in self.decoder_layers]

  def decode_step(
    self, tokens: jax.Array, position: int | jax.Array, cache, cross_kv, encoder_segment_ids: jax.Array
  ) -> tuple[jax.Array, list[tuple[jax.Array, jax.Array]]]:
    """Next-token logits for one new decoder input per row, reusing the cached earlier positions.

    Feeding `decoder_inputs(sids, v)[:, j:j + 1]` at position j = 0, 1, ... gives, step by step, the
    logits `decode` computes over the whole sequence at once.

    Args:
      tokens: [b, 1] decoder input ids (0 = BOS, 1 + level * v + code; see `decoder_inputs`).
      position: int32 scalar decoder position of `tokens` (0 for BOS); may be traced.
      cache: from `init_decode_cache` or the previous step, batch b.
      cross_kv: from `cross_kv`, batch b' dividing b (the beams of a request share it).
      encoder_segment_ids: [b', t].

    Returns:
      logits [b, v] float32 and the updated cache.
    """
    if tokens.ndim != 2 or tokens.shape[1] != 1:
      raise ValueError(f"decode_step takes one token per row, [b, 1]; got {tokens.shape}")
    if isinstance(position, int) and not 0 <= position < self.config.num_sid_levels:
      # dynamic_slice would clamp an out-of-range position to the last embedding without a word.
      raise ValueError(f"position {position} is outside the decoder's {self.config.num_sid_levels} positions")
    pos = jax.lax.dynamic_slice_in_dim(self.decoder_positions[...], jnp.asarray(position, jnp.int32), 1)
    x = (self.token_embed(tokens) + pos).astype(self.dtype)
    new_cache = []
    for layer, layer_cache, kv in zip(self.decoder_layers, cache, cross_kv):
      x, layer_cache = layer.step(x, layer_cache, position, kv, encoder_segment_ids)
      new_cache.append(layer_cache)
    return self.head(self.decoder_norm(x[:, 0])).astype(jnp.float32), new_cache

  def __call__(self, batch: OneRecBatch) -> tuple[jax.Array, dict[str, dict]]:
    """Teacher-forced logits and {MoE layer path: aux dict}.

    Returns logits [b, l, v] for batch.target_sid [b, l]; in multi-target mode (targets_per_window =
    m > 0) [b * m, l, v] for target_sid [b, m, l], row r * m + i being window r's i-th target, or with
    target_capacity > 0 [n, l, v] for the rows `target_rows.decoded_rows(batch.target_mask, capacity)`.
    With history_negatives = k > 0 the n target rows are followed by k blocks of n rows: block o decodes,
    with the same context as each target, the o-th most recent item before it
    (`history_negatives.decoded_negatives`; the loss masks the slots it marks invalid): [(1 + k) n, l, v].
    """
    c = self.config
    encoded, segment_ids, enc_aux = self.encode(batch)
    target_sid = batch.target_sid
    cross_limit = None
    cross_kv = self.cross_kv(encoded)
    b, l = target_sid.shape[0], target_sid.shape[-1]
    windows = jnp.arange(b, dtype=jnp.int32)  # the batch row (cross-attention context) of each decoded row
    if c.targets_per_window:
      m = target_sid.shape[1]
      target_sid = target_sid.reshape(b * m, l)
      windows = jnp.repeat(windows, m)
      # Target i of a window follows short-window column short_len - m + i; it sees the context tokens
      # and the window up to that column: the first t - short_len + (short_len - m + i) + 1 tokens.
      visible = encoded.shape[1] - m + 1 + jnp.arange(m, dtype=jnp.int32)
      cross_limit = jnp.broadcast_to(visible[None, :, None], (b, m, l)).reshape(b * m, l)
      if c.target_capacity:  # decode only the rows that hold targets (up to the capacity)
        rows, _ = decoded_rows(batch.target_mask, c.target_capacity)
        windows = rows // m
        target_sid, cross_limit = jnp.asarray(target_sid)[rows], cross_limit[rows]
        cross_kv = [(k[windows], v[windows]) for k, v in cross_kv]
        segment_ids = segment_ids[windows]
    if c.history_negatives:
      negatives, _ = decoded_negatives(batch, c.history_negatives, c.target_capacity)  # [k * n, l]
      reps = 1 + c.history_negatives
      if not c.target_capacity:  # the rows of one context are no longer adjacent: gather each row's own
        cross_kv = [(k[windows], v[windows]) for k, v in cross_kv]
        segment_ids = segment_ids[windows]
      target_sid = jnp.concatenate([target_sid, negatives], axis=0)
      cross_kv = [(jnp.tile(k, (reps, 1, 1, 1)), jnp.tile(v, (reps, 1, 1, 1))) for k, v in cross_kv]
      segment_ids = jnp.tile(segment_ids, (reps, 1))
      cross_limit = None if cross_limit is None else jnp.tile(cross_limit, (reps, 1))
    tokens = decoder_inputs(target_sid[:, :-1], c.sid_vocab_size)
    logits, dec_aux = self.decode(tokens, cross_kv, segment_ids, cross_limit)
    return logits, {**enc_aux, **dec_aux}
