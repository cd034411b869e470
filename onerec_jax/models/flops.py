"""Analytic matmul FLOPs of a training step, per model family (the numerator of MFU).

Counted: every matmul (2 FLOPs per multiply-add) of the forward pass, with attention's score and
value products over the full score matrices the kernels compute (masked entries included), MoE
layers at their activated experts (top_k per token) plus the router; training = 3 x forward (the
backward pass is two matmuls per forward matmul). Not counted: embedding lookups (gathers),
norms, softmax, activations and the optimiser (elementwise). XLA's cost analysis of the compiled step
also counts the elementwise work; the trainer logs both (`flops/analytic`, `flops/xla`).
"""

from __future__ import annotations

from onerec_jax.models.config import ModelConfig
from onerec_jax.models.target_rows import num_decoded_rows


def _ffn(config: ModelConfig, tokens: int, moe: bool) -> int:
  """SwiGLU (gate, up, down) per token; MoE: top_k experts of their width plus the router."""
  d = config.d_model
  if moe:
    return tokens * (6 * d * config.resolved_expert_ffn_dim * config.num_experts_per_token + 2 * d * config.num_experts)
  return tokens * 6 * d * config.ffn_dim


def _attention(rows: int, queries: int, keys: int, hk: int) -> int:
  """Scores q.k and the weighted sum of values, [rows, queries, keys] per head."""
  return rows * 4 * queries * keys * hk


def onerec_forward_flops(config: ModelConfig, batch_size: int) -> dict[str, int]:
  """Forward matmul FLOPs of `OneRec.__call__` on a training batch, by part.

  Args:
    config: the model config with its data fields filled (vocab, feedback width, static features).
    batch_size: rows of the batch: examples (one target each), or windows of `targets_per_window` (the
      decoder then runs on every window slot, or on the `target_capacity` share of them).

  Returns:
    {'pathways', 'qformer', 'encoder', 'decoder', 'head', 'total'} FLOPs of one forward pass.
  """
  c, b = config, batch_size
  d, hk = c.d_model, c.num_heads * c.resolved_head_dim
  e = c.embed_dim
  interaction = e * (4 if c.use_item_id_embedding else 3) + c.num_feedback
  static_width = e * ((len(c.static_vocab_sizes) if c.static_pathway != "off" else 0) + (c.static_pathway == "all"))
  mlp = lambda width, tokens: tokens * 2 * (width * d + d * d)  # FeatureMLP: width -> d -> d
  pathways = mlp(static_width, b) if static_width else 0
  pathways += mlp(interaction, b * (c.short_len + c.positive_len + c.lifelong_len))
  qformer = 0
  if c.lifelong_len:
    q, mem = c.lifelong_queries, c.lifelong_len
    per_block = (
      b * q * 2 * 2 * d * hk + b * mem * 2 * 2 * d * hk + _attention(b, q, mem, hk) + b * q * 6 * d * c.ffn_dim
    )
    qformer = c.lifelong_layers * per_block
  t = 1 + c.short_len + c.positive_len + (c.lifelong_queries if c.lifelong_len else 0)
  encoder = c.num_encoder_layers * (b * t * 2 * 4 * d * hk + _attention(b, t, t, hk) + _ffn(c, b * t, c.encoder_moe))
  rows = num_decoded_rows(b, c.targets_per_window, c.target_capacity) if c.targets_per_window else b
  rows *= 1 + c.history_negatives  # each target's history negatives are decoded beside it
  s = c.num_sid_levels  # decoder inputs: BOS and the first l - 1 codes
  decoder = c.num_decoder_layers * (
    rows * s * 2 * 4 * d * hk
    + _attention(rows, s, s, hk)  # causal self-attention
    + rows * s * 2 * 2 * d * hk
    + b * t * 2 * 2 * d * hk
    + _attention(rows, s, t, hk)  # cross (K/V once)
    + _ffn(c, rows * s, c.num_experts > 0)
  )
  head = rows * s * 2 * d * c.sid_vocab_size
  parts = {"pathways": pathways, "qformer": qformer, "encoder": encoder, "decoder": decoder, "head": head}
  parts["total"] = sum(parts.values())
  return parts


def sasrec_forward_flops(
  config, batch_size: int, num_candidates: int, scored_positions: int | None = None
) -> dict[str, int]:
  """Forward matmul FLOPs of SASRec on a batch of windows (onerec_jax.models.sasrec).

  Args:
    config: SasrecConfig.
    batch_size: windows per batch.
    num_candidates: items scored per position (1 positive + the sampled negatives; shared negatives
      are still a [positions, candidates] product).
    scored_positions: positions the candidates are scored at (None = every one, b * t; fewer under
      sasrec.target_capacity).
  """
  d, t, b = config.embed_dim, config.max_len, batch_size
  mlp = config.mlp_dim or d
  blocks = config.num_blocks * (b * t * 2 * 4 * d * d + _attention(b, t, t, d) + b * t * 2 * 2 * d * mlp)
  scores = (b * t if scored_positions is None else scored_positions) * 2 * d * num_candidates
  return {"blocks": blocks, "scores": scores, "total": blocks + scores}


def train_flops(forward: dict[str, int]) -> int:
  """FLOPs of a training step from the forward count: forward + backward (2x)."""
  return 3 * forward["total"]
