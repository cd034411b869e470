"""Constrained beam search against brute-force enumeration of every valid semantic ID."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from onerec_jax.decoding.beam_search import NEG_INF, beam_search
from onerec_jax.tokenizer.prefix_trie import PrefixTrie


def _fixed_logits(table):
  """logits_fn whose next-code logits depend on the prefix through a random table [b, l, v^l...]."""

  def logits_fn(prefix):
    level = prefix.shape[1]
    # Hash the prefix into a row of the table so different prefixes get different distributions.
    h = jnp.zeros(prefix.shape[0], jnp.int32)
    for j in range(level):
      h = h * 7 + prefix[:, j] + 1
    return table[level][h % table[level].shape[0]]

  return logits_fn


def _score(logits_fn, sid):
  """The model's log-probability of a whole ID: the sum of its tokens' log-softmax."""
  return sum(float(jax.nn.log_softmax(logits_fn(jnp.asarray(sid[None, :j]))[0])[sid[j]]) for j in range(len(sid)))


@pytest.mark.parametrize("num_beams", [1, 4, 9, 16])
def test_beam_search_matches_brute_force_when_beams_cover_everything(num_beams):
  rng = np.random.default_rng(0)
  v, l = 4, 3
  sids = np.unique(rng.integers(0, v, (20, l)), axis=0).astype(np.int32)
  trie = PrefixTrie.build(sids, v)
  tables = [jnp.asarray(rng.normal(size=(97, v)) * 2, jnp.float32) for _ in range(l)]
  logits_fn = _fixed_logits(tables)
  out = beam_search(
    jax.jit(logits_fn),
    batch_size=1,
    num_beams=num_beams,
    num_levels=l,
    trie_children=jnp.asarray(trie.children),
    trie_leaf_item=jnp.asarray(trie.leaf_item),
  )
  # Brute force: score of every valid sid = sum of log-softmax along it.
  scores = [_score(logits_fn, sid) for sid in sids]
  order = np.argsort(scores)[::-1]
  # Beam search is exact here only when the beam never prunes a prefix of a top sequence; with
  # num_beams >= number of valid level-2 prefixes it is exact. Check exactness in that case and
  # validity always.
  got = np.asarray(out.sids[0])
  valid = {tuple(s) for s in sids}
  assert all(tuple(s) in valid for s in got[np.asarray(out.scores[0]) > NEG_INF / 2])
  assert np.all(np.diff(np.asarray(out.scores[0])) <= 1e-6), "beams must be sorted by score"
  if num_beams >= len({tuple(s[:2]) for s in sids}):
    np.testing.assert_allclose(np.asarray(out.scores[0]), np.asarray(scores)[order][:num_beams], rtol=1e-5)
    leaf = np.asarray(trie.leaf_item)
    expected = [leaf[_node_of(trie, s)] for s in sids[order][:num_beams]]
    np.testing.assert_array_equal(np.asarray(out.items[0]), expected)


def _node_of(trie, sid):
  node, children = 0, np.asarray(trie.children)
  for t in sid:
    node = children[node, t]
  return node


def test_fewer_valid_ids_than_beams_leaves_empty_beams():
  sids = np.array([[0, 1], [1, 0]], np.int32)
  trie = PrefixTrie.build(sids, 2)
  out = beam_search(
    lambda p: jnp.zeros((p.shape[0], 2)),
    batch_size=2,
    num_beams=3,
    num_levels=2,
    trie_children=jnp.asarray(trie.children),
    trie_leaf_item=jnp.asarray(trie.leaf_item),
  )
  items = np.asarray(out.items)
  assert sorted(items[0, :2].tolist()) == [0, 1]
  assert items[0, 2] == -1 and float(out.scores[0, 2]) <= NEG_INF / 2


def test_free_beam_search_ranks_all_ids_and_labels_the_illegal_ones():
  """constrained=False: the exact top-w of all v^l IDs (beam covering every prefix), item -1 where the ID
  is not in the trie, the item's index where it is."""
  rng = np.random.default_rng(1)
  v, l = 3, 3
  sids = np.unique(rng.integers(0, v, (8, l)), axis=0).astype(np.int32)
  trie = PrefixTrie.build(sids, v)
  tables = [jnp.asarray(rng.normal(size=(97, v)) * 2, jnp.float32) for _ in range(l)]
  logits_fn = _fixed_logits(tables)
  w = v ** (l - 1)  # covers every prefix of length l - 1: the search is exact
  out = beam_search(
    jax.jit(logits_fn),
    batch_size=1,
    num_beams=w,
    num_levels=l,
    trie_children=jnp.asarray(trie.children),
    trie_leaf_item=jnp.asarray(trie.leaf_item),
    constrained=False,
  )
  every = np.stack(np.meshgrid(*[np.arange(v)] * l, indexing="ij"), -1).reshape(-1, l)
  scores = [_score(logits_fn, sid) for sid in every]
  order = np.argsort(scores)[::-1][:w]
  np.testing.assert_allclose(np.asarray(out.scores[0]), np.asarray(scores)[order], rtol=1e-5)
  item_of = {tuple(s): i for i, s in enumerate(sids)}
  got_items = np.asarray(out.items[0])
  for sid, item in zip(np.asarray(out.sids[0]), got_items):
    assert item == item_of.get(tuple(sid), -1)
  assert (got_items < 0).any() and (got_items >= 0).any()  # both kinds appear in this case


def test_dead_nodes_keep_excluded_items_out_and_fill_the_beams():
  """Pruning a request's excluded items inside the search: with beams covering every prefix it is the
  full search with those items removed (same order, same scores), and the freed beams go to other items."""
  from onerec_jax.tokenizer.prefix_trie import dead_nodes, exclusion_index
  from onerec_jax.tokenizer.semantic_ids import SemanticIdTable

  rng = np.random.default_rng(3)
  v = 4
  table = SemanticIdTable.from_codes(rng.integers(0, v, (30, 2)), dedup="extra_token", codebook_sizes=v)
  trie = table.trie()
  l, w = table.sids.shape[1], 64  # 64 beams cover every prefix of the 30 items: the search is exact
  tables = [jnp.asarray(rng.normal(size=(97, trie.vocab_size)) * 2, jnp.float32) for _ in range(l)]
  logits_fn = jax.jit(_fixed_logits(tables))
  excluded = np.array([rng.permutation(30)[:12], np.full(12, -1)], np.int32)  # request 1 excludes nothing
  search = dict(
    batch_size=2,
    num_levels=l,
    trie_children=jnp.asarray(trie.children),
    trie_leaf_item=jnp.asarray(trie.leaf_item),
  )
  dead = dead_nodes(exclusion_index(trie, table.sids), jnp.asarray(excluded))
  pruned = beam_search(logits_fn, num_beams=w, dead_nodes=dead, **search)
  full = beam_search(logits_fn, num_beams=w, **search)
  for r in range(2):
    items, scores = np.asarray(pruned.items[r]), np.asarray(pruned.scores[r])
    live = scores > NEG_INF / 2
    keep = ~np.isin(np.asarray(full.items[r]), excluded[r]) & (np.asarray(full.scores[r]) > NEG_INF / 2)
    np.testing.assert_array_equal(items[live], np.asarray(full.items[r])[keep])
    np.testing.assert_allclose(scores[live], np.asarray(full.scores[r])[keep], rtol=1e-6)
    assert live.sum() == 30 - (excluded[r] >= 0).sum()
  # A narrow beam: none of request 0's beams is spent on an excluded item.
  narrow = beam_search(logits_fn, num_beams=8, dead_nodes=dead, **search)
  assert not np.isin(np.asarray(narrow.items[0]), excluded[0]).any() and (np.asarray(narrow.items) >= 0).all()
  with pytest.raises(ValueError, match="constrained"):
    beam_search(logits_fn, num_beams=8, dead_nodes=dead, constrained=False, **search)


def _tempered_score(logits_fn, sid, temperatures):
  """Sum over levels of log_softmax(logits / T_level) at the ID's codes."""
  return sum(
    float(jax.nn.log_softmax(logits_fn(jnp.asarray(sid[None, :j]))[0] / temperatures[j])[sid[j]])
    for j in range(len(sid))
  )


def test_level_temperatures_rescore_each_level_and_reorder_the_beams():
  rng = np.random.default_rng(3)
  v, l = 4, 3
  sids = np.unique(rng.integers(0, v, (30, l)), axis=0).astype(np.int32)
  trie = PrefixTrie.build(sids, v)
  logits_fn = _fixed_logits([jnp.asarray(rng.normal(size=(97, v)) * 2, jnp.float32) for _ in range(l)])
  search = dict(
    batch_size=1,
    num_beams=len(sids),  # covers every ID: the search is exact
    num_levels=l,
    trie_children=jnp.asarray(trie.children),
    trie_leaf_item=jnp.asarray(trie.leaf_item),
  )
  plain = beam_search(logits_fn, **search)
  ones = beam_search(logits_fn, **search, level_temperatures=(1.0, 1.0, 1.0))
  np.testing.assert_array_equal(np.asarray(ones.items), np.asarray(plain.items))
  np.testing.assert_allclose(np.asarray(ones.scores), np.asarray(plain.scores), rtol=1e-6)

  temperatures = (0.25, 1.0, 3.0)
  tempered = beam_search(logits_fn, **search, level_temperatures=temperatures)
  expected = np.asarray([_tempered_score(logits_fn, s, temperatures) for s in sids])
  order = np.argsort(-expected, kind="stable")
  np.testing.assert_allclose(np.asarray(tempered.scores[0]), expected[order], rtol=1e-5)
  leaf = np.asarray(trie.leaf_item)
  np.testing.assert_array_equal(np.asarray(tempered.items[0]), [leaf[_node_of(trie, s)] for s in sids[order]])
  assert not np.array_equal(np.asarray(tempered.items), np.asarray(plain.items)), "the temperatures must reorder"


@pytest.mark.parametrize("temperatures", [(1.0, 1.0), (1.0, 0.0, 1.0), (1.0, -1.0, 1.0)])
def test_level_temperatures_must_be_one_positive_value_per_level(temperatures):
  trie = PrefixTrie.build(np.asarray([[0, 1, 2]], np.int32), 4)
  with pytest.raises(ValueError, match="level_temperatures"):
    beam_search(
      lambda prefix: jnp.zeros((prefix.shape[0], 4)),
      batch_size=1,
      num_beams=1,
      num_levels=3,
      trie_children=jnp.asarray(trie.children),
      trie_leaf_item=jnp.asarray(trie.leaf_item),
      level_temperatures=temperatures,
    )
