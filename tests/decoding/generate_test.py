"""Cached generation against the uncached reference on a tiny random OneRec; decode_step vs decode."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from onerec_jax.input.batches import OneRecBatch, Pathway

from onerec_jax.decoding.beam_search import NEG_INF, assert_legal, beam_search_cached, legal_rate
from onerec_jax.decoding.generate import generate
from onerec_jax.models.onerec import OneRec, decoder_inputs
from onerec_jax.models.sizes import model_config
from onerec_jax.tokenizer.prefix_trie import PrefixTrie

B, V, L, ITEMS = 3, 8, 3, 50


def _config(**kw):
  return model_config(
    "tiny",
    num_items=ITEMS,
    num_users=20,
    num_categories=4,
    num_authors=6,
    static_vocab_sizes=(3, 2),
    num_feedback=2,
    num_sid_levels=L,
    sid_vocab_size=V,
    short_len=4,
    positive_len=3,
    lifelong_len=6,
    lifelong_queries=2,
    num_decoder_layers=2,
    **kw,
  )


def _batch(rng, cfg, b=B):
  user_id = rng.integers(0, 20, b).astype(np.int32)
  static = np.stack([rng.integers(0, 3, b), rng.integers(0, 2, b)], 1).astype(np.int32)
  pathways = {}
  for name, n in (("short", cfg.short_len), ("positive", cfg.positive_len), ("lifelong", cfg.lifelong_len)):
    items = rng.integers(0, ITEMS, (b, n)).astype(np.int32)
    items[0, :2] = -1  # padding in the first row
    pathways[name] = Pathway(
      items=items,
      sids=rng.integers(0, V, (b, n, L)).astype(np.int32),
      category=rng.integers(0, 4, (b, n)).astype(np.int32),
      author=rng.integers(0, 6, (b, n)).astype(np.int32),
      feedback=rng.random((b, n, 2)).astype(np.float32),
    )
  return OneRecBatch(user_id=user_id, static=static, **pathways)


def _sharpen(model):
  """Scales the output head so beam scores are far apart (no near-ties that rounding could flip)."""
  model.head.kernel[...] = model.head.kernel[...] * 8.0


@pytest.fixture(scope="module", params=["dense", "moe"])
def setup(request):
  moe = request.param == "moe"
  cfg = _config(num_experts=4, num_experts_per_token=2) if moe else _config()
  model = OneRec(cfg, rngs=nnx.Rngs(0))
  _sharpen(model)
  model.eval()
  sids = np.unique(np.random.default_rng(5).integers(0, V, (ITEMS, L)), axis=0)[:40].astype(np.int32)
  trie = PrefixTrie.build(sids, V)
  return model, cfg, jnp.asarray(trie.children), jnp.asarray(trie.leaf_item)


_JITTED = {}


def _generate_fn(model, children, leaf, num_beams, use_cache):
  """jit(generate) for this model, compiled once per setting (compiling dominates on 2 cores)."""
  key = (id(model), num_beams, use_cache)
  if key not in _JITTED:
    _JITTED[key] = jax.jit(
      lambda batch: generate(
        model, batch, num_beams=num_beams, trie_children=children, trie_leaf_item=leaf, use_cache=use_cache
      )
    )
  return _JITTED[key]


def _assert_same_beams(a, b):
  live = np.asarray(a.scores) > NEG_INF / 2
  np.testing.assert_array_equal(live, np.asarray(b.scores) > NEG_INF / 2)
  np.testing.assert_array_equal(np.asarray(a.sids)[live], np.asarray(b.sids)[live])
  np.testing.assert_array_equal(np.asarray(a.items), np.asarray(b.items))
  np.testing.assert_allclose(np.asarray(a.scores)[live], np.asarray(b.scores)[live], rtol=1e-5, atol=1e-5)


def test_decode_step_equals_teacher_forced_decode(setup):
  model, cfg, _, _ = setup
  batch = _batch(np.random.default_rng(1), cfg)
  rows = B * 4  # 4 rows per request share its cross-attention keys, as beams do
  tokens = decoder_inputs(jnp.asarray(np.random.default_rng(2).integers(0, V, (rows, L - 1)), jnp.int32), V)

  @jax.jit
  def run(batch, tokens, positions):
    encoded, seg, _ = model.encode(batch)
    cross_kv = model.cross_kv(encoded)
    full, _ = model.decode(tokens, cross_kv, seg)  # [rows, L, V]
    static, traced = [], []
    cache_s = cache_t = model.init_decode_cache(rows)
    for j in range(L):
      logits, cache_s = model.decode_step(tokens[:, j : j + 1], j, cache_s, cross_kv, seg)
      static.append(logits)
      # A traced position (as under a scan over levels) must work as well as a Python int.
      logits, cache_t = model.decode_step(tokens[:, j : j + 1], positions[j], cache_t, cross_kv, seg)
      traced.append(logits)
    return full, jnp.stack(static, 1), jnp.stack(traced, 1), cache_s

  full, static, traced, cache = run(batch, tokens, jnp.arange(L, dtype=jnp.int32))
  np.testing.assert_allclose(static, full, atol=1e-5)
  np.testing.assert_allclose(traced, full, atol=1e-5)
  assert len(cache) == 2 and cache[0][0].shape == (rows, L, cfg.num_heads, cfg.resolved_head_dim)


def test_decode_step_rejects_out_of_range_positions(setup):
  model, _, _, _ = setup
  cache = model.init_decode_cache(B)
  # Checked before any compute: dynamic slicing would clamp silently to the last position.
  with pytest.raises(ValueError, match="position 3 is outside"):
    model.decode_step(jnp.zeros((B, 1), jnp.int32), L, cache, None, None)
  with pytest.raises(ValueError, match="do not fit"):
    model.decoder_layers[0].self_attn.cached_self_attention(jnp.zeros((B, 2, model.config.d_model)), cache[0], L - 1)


@pytest.mark.parametrize("num_beams", [6, 48])  # 48 > the 40 valid IDs: some beams stay empty
def test_cached_generation_equals_uncached(setup, num_beams):
  model, _, children, leaf = setup
  batch = _batch(np.random.default_rng(3), model.config)
  cached = _generate_fn(model, children, leaf, num_beams, True)(batch)
  uncached = _generate_fn(model, children, leaf, num_beams, False)(batch)
  _assert_same_beams(cached, uncached)
  assert cached.sids.shape == (B, num_beams, L)
  assert_legal(cached, children, leaf)
  if num_beams > 40:
    assert (np.asarray(cached.items) == -1).any(), "more beams than IDs must leave empty beams"


def test_unreordered_cache_changes_the_beams(setup):
  """The equality above can fail: skipping the cache reorder gives other beams."""
  model, cfg, children, leaf = setup
  batch = _batch(np.random.default_rng(3), cfg)
  w = 6

  @jax.jit
  def unreordered(batch):
    encoded, seg, _ = model.encode(batch)
    cross_kv = model.cross_kv(encoded)

    def step_fn(prefix, cache):
      return model.decode_step(decoder_inputs(prefix, V)[:, -1:], prefix.shape[1], cache, cross_kv, seg)

    return beam_search_cached(
      step_fn,
      model.init_decode_cache(B * w),
      reorder=lambda c, rows: c,
      batch_size=B,
      num_beams=w,
      num_levels=L,
      trie_children=children,
      trie_leaf_item=leaf,
    )

  wrong = unreordered(batch)
  right = _generate_fn(model, children, leaf, w, True)(batch)
  _assert_same_beams(right, _generate_fn(model, children, leaf, w, False)(batch))
  assert not np.allclose(np.asarray(right.scores), np.asarray(wrong.scores), atol=1e-3)


def test_beams_of_a_request_do_not_depend_on_the_others(setup):
  model, cfg, children, leaf = setup
  w = 6
  fn = _generate_fn(model, children, leaf, w, True)
  batch = _batch(np.random.default_rng(4), cfg)
  other = _batch(np.random.default_rng(7), cfg)
  mixed = jax.tree.map(lambda o, x: np.concatenate([o[:1], x[1:2], o[2:]]), other, batch)
  out, out_mixed = fn(batch), fn(mixed)
  _assert_same_beams(jax.tree.map(lambda x: x[1:2], out), jax.tree.map(lambda x: x[1:2], out_mixed))
  assert not np.array_equal(np.asarray(out.sids[0]), np.asarray(out_mixed.sids[0])), "row 0 did change"
  alone = _generate_fn(model, children, leaf, w, True)(jax.tree.map(lambda v: v[1:2], batch))
  _assert_same_beams(alone, jax.tree.map(lambda x: x[1:2], out))
  assert legal_rate(out, children, leaf) == 1.0
