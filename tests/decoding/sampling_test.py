"""Ancestral sampling of semantic IDs: constrained samples are real items drawn with the trie-renormalised
model probabilities, free samples follow the model and are labelled by the trie, scores are the model's
log-probabilities; and through a OneRec model, sampled IDs score as item_log_prob says."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from onerec_jax.decoding.sampling import sample_cached
from onerec_jax.tokenizer.prefix_trie import PrefixTrie

V, L = 3, 2


def _step_fn(tables):
  """A cache-free step function: next-code logits from a table per (level, previous code)."""

  def step_fn(prefix, cache):
    level = prefix.shape[1]
    row = prefix[:, -1] if level else jnp.zeros(prefix.shape[0], jnp.int32)
    return tables[level][row], cache

  return step_fn


def _setup():
  rng = np.random.default_rng(0)
  tables = [jnp.asarray(rng.normal(size=(V, V)), jnp.float32) for _ in range(L)]
  sids = np.array([[0, 0], [0, 2], [1, 1], [2, 0], [2, 1]], np.int32)  # 5 of the 9 IDs are items
  trie = PrefixTrie.build(sids, V)
  return tables, sids, jnp.asarray(trie.children), jnp.asarray(trie.leaf_item)


def _model_prob(tables, sid):
  p0 = jax.nn.softmax(tables[0][0])[sid[0]]
  return float(p0 * jax.nn.softmax(tables[1][sid[0]])[sid[1]])


def _draw(tables, children, leaf, n, constrained, temperature=1.0, seed=0):
  fn = jax.jit(
    lambda key: sample_cached(
      _step_fn(tables),
      (),
      key=key,
      batch_size=1,
      num_samples=n,
      num_levels=L,
      trie_children=children,
      trie_leaf_item=leaf,
      temperature=temperature,
      constrained=constrained,
    )
  )
  return jax.device_get(fn(jax.random.key(seed)))


def test_free_samples_follow_the_model_and_are_labelled_by_the_trie():
  tables, sids, children, leaf = _setup()
  out = _draw(tables, children, leaf, 20000, constrained=False)
  got = out.sids[0]
  assert np.all(np.diff(out.scores[0]) <= 1e-6)  # sorted best first
  for a in range(V):
    for b in range(V):
      hit = (got[:, 0] == a) & (got[:, 1] == b)
      want = _model_prob(tables, (a, b))
      assert hit.mean() == pytest.approx(want, abs=0.015)
      if hit.any():
        np.testing.assert_allclose(out.scores[0][hit], np.log(want), rtol=1e-5)  # untempered log-prob
        is_item = any((sids == (a, b)).all(1))
        assert set(out.items[0][hit]) == ({int(np.flatnonzero((sids == (a, b)).all(1))[0])} if is_item else {-1})


def test_constrained_samples_are_items_drawn_with_renormalised_probabilities():
  tables, sids, children, leaf = _setup()
  out = _draw(tables, children, leaf, 20000, constrained=True)
  assert (out.items[0] >= 0).all()
  # Level by level renormalised over the trie's children (first codes 0, 1, 2 all have children).
  p0 = np.asarray(jax.nn.softmax(tables[0][0]))
  for item, (a, b) in enumerate(sids):
    allowed = sids[sids[:, 0] == a, 1]
    p1 = np.asarray(jax.nn.softmax(tables[1][a]))
    want = p0[a] * p1[b] / p1[allowed].sum()
    assert (out.items[0] == item).mean() == pytest.approx(want, abs=0.015)


def test_a_low_temperature_gives_the_greedy_id_and_bad_temperatures_fail():
  tables, _, children, leaf = _setup()
  out = _draw(tables, children, leaf, 64, constrained=False, temperature=1e-4)
  first = int(np.argmax(tables[0][0]))
  greedy = (first, int(np.argmax(tables[1][first])))
  assert {tuple(s) for s in out.sids[0]} == {greedy}
  a, b = _draw(tables, children, leaf, 64, False, seed=1), _draw(tables, children, leaf, 64, False, seed=1)
  np.testing.assert_array_equal(a.sids, b.sids)  # same key, same draws
  with pytest.raises(ValueError, match="temperature must be positive"):
    _draw(tables, children, leaf, 4, False, temperature=0.0)


def test_sampled_ids_of_a_model_score_as_item_log_prob():
  """Through OneRec: the cached sampler's scores are the teacher-forced log pi of the sampled IDs."""
  from flax import nnx

  from onerec_jax.decoding.generate import sample
  from onerec_jax.decoding.item_log_prob import item_log_prob
  from onerec_jax.models.onerec import OneRec
  from tests.decoding.generate_test import _batch, _config

  cfg = _config()
  model = OneRec(cfg, rngs=nnx.Rngs(0))
  model.eval()
  batch = _batch(np.random.default_rng(1), cfg)
  trie_sids = np.unique(np.random.default_rng(5).integers(0, cfg.sid_vocab_size, (50, 3)), axis=0)[:40]
  trie = PrefixTrie.build(trie_sids.astype(np.int32), cfg.sid_vocab_size)
  children, leaf = jnp.asarray(trie.children), jnp.asarray(trie.leaf_item)

  @nnx.jit
  def run(model, key):
    out = sample(model, batch, num_samples=6, key=key, trie_children=children, trie_leaf_item=leaf)
    return out, item_log_prob(model, batch, out.sids)

  out, logp = run(model, jax.random.key(3))
  assert (np.asarray(out.items) >= 0).all()
  np.testing.assert_allclose(np.asarray(out.scores), np.asarray(logp), rtol=1e-4, atol=1e-4)
