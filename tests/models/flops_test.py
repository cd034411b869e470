"""Analytic matmul FLOPs against XLA's cost analysis of the same compiled computation.

For dense models the two agree within a few percent (XLA also counts norms, softmax and activations);
for MoE layers XLA's cost analysis counts `ragged_dot` as if every token ran through every expert, so it
reads more than the activated FLOPs the analytic count (and MFU) uses.
"""

import jax
import numpy as np
import pytest
from flax import nnx

from onerec_jax.input.batches import OneRecBatch, Pathway
from onerec_jax.models import flops
from onerec_jax.models.onerec import OneRec
from onerec_jax.models.sasrec import SASRec, SasrecConfig
from onerec_jax.models.sizes import model_config
from onerec_jax.sharding.rules import make_mesh, mesh_context

B = 16


def _config(**kw):
  fields = dict(
    num_items=300,
    num_users=50,
    num_categories=4,
    num_authors=6,
    static_vocab_sizes=(3, 2),
    num_feedback=2,
    num_sid_levels=3,
    sid_vocab_size=16,
    short_len=6,
    positive_len=3,
    lifelong_len=5,
    lifelong_queries=2,
    d_model=64,
    num_heads=2,
    ffn_dim=128,
    num_encoder_layers=2,
    num_decoder_layers=2,
  )
  fields.update(kw)
  return model_config("tiny", **fields)


def _batch(cfg, rng):
  def pathway(n):
    return Pathway(
      items=rng.integers(0, 300, (B, n)).astype(np.int32),
      sids=rng.integers(0, 16, (B, n, 3)).astype(np.int32),
      category=rng.integers(0, 4, (B, n)).astype(np.int32),
      author=rng.integers(0, 6, (B, n)).astype(np.int32),
      feedback=rng.random((B, n, 2)).astype(np.float32),
    )

  m = cfg.targets_per_window
  target = rng.integers(0, 16, (B, m, 3) if m else (B, 3)).astype(np.int32)
  return OneRecBatch(
    user_id=rng.integers(0, 50, B).astype(np.int32),
    static=np.stack([rng.integers(0, 3, B), rng.integers(0, 2, B)], 1).astype(np.int32),
    short=pathway(cfg.short_len),
    positive=pathway(cfg.positive_len),
    lifelong=pathway(cfg.lifelong_len),
    target_sid=target,
  )


def _xla_flops(fn, *args):
  return jax.jit(fn).lower(*args).compile().cost_analysis()["flops"]


def _onerec_xla(cfg):
  with mesh_context(make_mesh()):
    model = OneRec(cfg, rngs=nnx.Rngs(0))
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)
  batch = _batch(cfg, np.random.default_rng(0))
  loss = lambda p, b: nnx.merge(graphdef, p, rest)(b)[0].sum()
  return _xla_flops(loss, params, batch), _xla_flops(jax.grad(loss), params, batch)


@pytest.mark.parametrize("kw", [{}, {"targets_per_window": 4}], ids=["report_design", "multi_target"])
def test_dense_onerec_matches_xla(kw):
  cfg = _config(**kw)
  forward, train = _onerec_xla(cfg)
  analytic = flops.onerec_forward_flops(cfg, B)
  assert analytic["qformer"] > 0 and analytic["encoder"] > 0 and analytic["decoder"] > 0
  assert 1.0 <= forward / analytic["total"] < 1.05, (forward, analytic)
  assert 1.0 <= train / flops.train_flops(analytic) < 1.05


def test_moe_analytic_counts_activated_experts_only():
  dense_cfg = _config()
  moe_cfg = _config(num_experts=4, num_experts_per_token=2)
  dense, moe = flops.onerec_forward_flops(dense_cfg, B), flops.onerec_forward_flops(moe_cfg, B)
  rows = B * 3  # decoder tokens
  extra = 2 * rows * (6 * 64 * 128 * (2 - 1) + 2 * 64 * 4)  # 2 layers: a second expert + the router
  assert moe["decoder"] - dense["decoder"] == extra
  forward, _ = _onerec_xla(moe_cfg)
  assert forward > 1.2 * moe["total"]  # XLA's ragged_dot count is all experts, not the activated two


def test_sasrec_matches_xla():
  cfg = SasrecConfig(num_items=200, max_len=50, embed_dim=64, num_blocks=2, num_heads=2)
  model = SASRec(cfg, rngs=nnx.Rngs(0))
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)
  rng = np.random.default_rng(0)
  inputs = rng.integers(1, 200, (B, 50)).astype(np.int32)
  candidates = rng.integers(1, 200, (B, 50, 9)).astype(np.int32)

  def scores(p, x, c):
    m = nnx.merge(graphdef, p, rest)
    m.eval()
    h = m.encode(x)  # [b, t, d]
    return jax.numpy.einsum("btd,btcd->btc", h, m.item_vectors(c)).sum()

  forward = _xla_flops(scores, params, inputs, candidates)
  analytic = flops.sasrec_forward_flops(cfg, B, 9)
  assert 0.95 <= forward / analytic["total"] < 1.1, (forward, analytic)
