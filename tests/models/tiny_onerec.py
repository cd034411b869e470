"""The tiny OneRec configuration the model tests share: 50 items, 20 users, 4 categories, 6 authors, one
static feature of 3 values, 2 feedback signals, semantic IDs of L = 3 levels over V = 8 codes, a short
window of T = 6 items, no positive-feedback or lifelong pathway, no dropout (tests override any field)."""

from onerec_jax.models.config import ModelConfig
from onerec_jax.models.sizes import model_config

V, L, T = 8, 3, 6


def tiny_config(**overrides) -> ModelConfig:
  """model_config('tiny', ...) with the fields above, then `overrides`."""
  fields = dict(
    num_items=50,
    num_users=20,
    num_categories=4,
    num_authors=6,
    static_vocab_sizes=(3,),
    num_feedback=2,
    num_sid_levels=L,
    sid_vocab_size=V,
    short_len=T,
    positive_len=0,
    lifelong_len=0,
    dropout_rate=0.0,
  )
  return model_config("tiny", **{**fields, **overrides})
