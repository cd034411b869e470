"""Parameter counts: embeddings apart, MoE experts counted at top_k / num_experts when activated."""

import numpy as np
from flax import nnx

from onerec_jax.models.onerec import OneRec
from onerec_jax.models.parameter_count import count_parameters
from onerec_jax.models.sizes import model_config
from onerec_jax.sharding.rules import make_mesh, mesh_context


def _counts(**kw):
  cfg = model_config("tiny", num_items=50, num_users=20, num_categories=4, num_authors=6, static_vocab_sizes=(3,),
                     num_feedback=0, num_sid_levels=3, sid_vocab_size=8, short_len=4, positive_len=0,
                     lifelong_len=0, num_decoder_layers=2, **kw)
  with mesh_context(make_mesh()):
    model = OneRec(cfg, rngs=nnx.Rngs(0))
  tables = sum(m.embedding.size for _, m in model.iter_modules() if isinstance(m, nnx.Embed))
  return cfg, count_parameters(nnx.state(model, nnx.Param), cfg.num_experts, cfg.num_experts_per_token), tables


def test_embeddings_are_the_embed_tables():
  cfg, dense, tables = _counts()
  assert dense["embedding"] == tables > 0  # item, semantic-ID, category, author, user, static, decoder tokens
  assert dense["total"] == dense["embedding"] + dense["non_embedding"]
  assert dense["activated_non_embedding"] == dense["non_embedding"]


def test_moe_at_equal_activated_parameters():
  cfg, dense, _ = _counts()
  _, moe, _ = _counts(num_experts=4, num_experts_per_token=1)
  ffn = 3 * cfg.d_model * cfg.ffn_dim  # SwiGLU gate, up, down per expert
  router = cfg.d_model * 4
  assert moe["non_embedding"] - dense["non_embedding"] == 2 * (3 * ffn + router)
  assert moe["activated_non_embedding"] - dense["activated_non_embedding"] == 2 * router
  assert np.isclose(moe["embedding"], dense["embedding"])
