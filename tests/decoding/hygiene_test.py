"""Beam output hygiene (legal rate, de-duplicated ranked items) and the cached search on a toy cache."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from onerec_jax.decoding.beam_search import (
  NEG_INF,
  BeamResult,
  assert_legal,
  beam_search,
  beam_search_cached,
  legal_rate,
  ranked_items,
)
from onerec_jax.tokenizer.prefix_trie import PrefixTrie


def _result(items, scores, sids=None):
  items = np.asarray(items, np.int32)
  if sids is None:
    sids = np.zeros((*items.shape, 2), np.int32)
  return BeamResult(sids=jnp.asarray(sids), scores=jnp.asarray(scores, jnp.float32), items=jnp.asarray(items))


def test_ranked_items_dedupes_keeping_the_best_and_pads():
  res = _result(
    [[3, 1, 3, 2, -1], [4, 4, 4, 4, 4]], [[-0.1, -0.5, -0.7, -0.9, NEG_INF], [-1.0, -2.0, -3.0, -4.0, -5.0]]
  )
  items, scores = ranked_items(res, 4)
  np.testing.assert_array_equal(items, [[3, 1, 2, -1], [4, -1, -1, -1]])
  np.testing.assert_allclose(scores, [[-0.1, -0.5, -0.9, NEG_INF], [-1.0, NEG_INF, NEG_INF, NEG_INF]])
  jitted, _ = jax.jit(ranked_items, static_argnums=1)(res, 4)
  np.testing.assert_array_equal(jitted, items)


def test_ranked_items_ignores_an_item_on_an_empty_beam():
  # An item label on a NEG_INF beam is not a recommendation and must not hide a later real copy.
  items, _ = ranked_items(_result([[5, 5, 6]], [[NEG_INF, -1.0, -2.0]]), 3)
  np.testing.assert_array_equal(items, [[5, 6, -1]])


def test_ranked_items_needs_enough_beams():
  with pytest.raises(ValueError, match="beam width"):
    ranked_items(_result([[1, 2]], [[0.0, -1.0]]), 3)


def test_legal_rate():
  sids = np.array([[0, 1], [1, 0]], np.int32)
  trie = PrefixTrie.build(sids, 2)
  children, leaf = jnp.asarray(trie.children), jnp.asarray(trie.leaf_item)
  good = _result([[0, 1, -1]], [[-0.1, -0.2, NEG_INF]], sids=[[[0, 1], [1, 0], [0, 0]]])
  assert legal_rate(good) == 1.0 and legal_rate(good, children, leaf) == 1.0
  assert_legal(good, children, leaf)
  missing = _result([[0, -1, -1]], [[-0.1, -0.2, NEG_INF]])  # a finite score without an item
  assert legal_rate(missing) == 0.5
  with pytest.raises(AssertionError, match="legal rate 0.500"):
    assert_legal(missing)
  mislabelled = _result([[1, 0]], [[-0.1, -0.2]], sids=[[[0, 1], [1, 0]]])  # items swapped
  assert legal_rate(mislabelled) == 1.0 and legal_rate(mislabelled, children, leaf) == 0.0
  off_trie = _result([[0]], [[-0.1]], sids=[[[1, 1]]])
  assert legal_rate(off_trie, children, leaf) == 0.0


def test_cached_search_equals_prefix_search_on_a_toy_cache():
  """A running prefix hash as the cache: the cached search must reorder it with the beams."""
  rng = np.random.default_rng(0)
  b, w, v, l = 2, 5, 4, 3
  sids = np.unique(rng.integers(0, v, (30, l)), axis=0).astype(np.int32)
  trie = PrefixTrie.build(sids, v)
  tables = [jnp.asarray(rng.normal(size=(97, v)) * 3, jnp.float32) for _ in range(l)]
  request = jnp.repeat(jnp.arange(b, dtype=jnp.int32), w)  # the requests differ in their first table row

  def prefix_hash(prefix):
    h = request
    for j in range(prefix.shape[1]):
      h = h * 7 + prefix[:, j] + 1
    return h

  def logits_fn(prefix):
    return tables[prefix.shape[1]][prefix_hash(prefix) % 97]

  def step_fn(prefix, h):
    if prefix.shape[1]:
      h = h * 7 + prefix[:, -1] + 1  # reads only the newest code
    return tables[prefix.shape[1]][h % 97], h

  search = dict(
    batch_size=b,
    num_beams=w,
    num_levels=l,
    trie_children=jnp.asarray(trie.children),
    trie_leaf_item=jnp.asarray(trie.leaf_item),
  )
  want = beam_search(logits_fn, **search)
  got = jax.jit(lambda: beam_search_cached(step_fn, request, **search))()
  np.testing.assert_array_equal(got.sids, want.sids)
  np.testing.assert_array_equal(got.items, want.items)
  np.testing.assert_allclose(got.scores, want.scores, rtol=1e-6)
  wrong = beam_search_cached(step_fn, request, reorder=lambda c, rows: c, **search)
  assert not np.array_equal(np.asarray(wrong.sids), np.asarray(want.sids))
  assert_legal(got, trie.children, trie.leaf_item)
