"""Tests of the dense prefix trie against a brute-force set of valid prefixes, eagerly and under jit."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from onerec_jax.tokenizer import prefix_trie
from onerec_jax.tokenizer.prefix_trie import PrefixTrie
from onerec_jax.tokenizer.semantic_ids import SemanticIdTable


def _random_table(n=300, num_codes=5, seed=0, dedup='extra_token'):
  codes = np.random.default_rng(seed).integers(0, num_codes, size=(n, 3))
  return SemanticIdTable.from_codes(codes, dedup=dedup, codebook_sizes=num_codes)


@jax.jit
def _walk(trie, prefixes):
  """prefixes [b, t] -> nodes [b] and allowed masks [b, v], stepping from the root."""
  node = jnp.zeros(prefixes.shape[:1], jnp.int32)
  for t in range(prefixes.shape[1]):
    node = trie.step(node, prefixes[:, t])
  return node, trie.allowed_mask(node)


@pytest.mark.parametrize('dedup', ['extra_token', 'none'])
def test_matches_brute_force_prefix_set(dedup):
  table = _random_table(dedup=dedup)
  vocab = max(table.vocab_sizes)
  trie = table.trie()
  assert trie.children.shape == (trie.num_nodes, vocab) and trie.num_levels == table.num_levels
  valid = {tuple(s[:t]) for s in table.sids.tolist() for t in range(table.num_levels + 1)}
  assert trie.num_nodes == len(valid)
  for depth in range(table.num_levels + 1):
    prefixes = np.array(list(itertools.product(range(vocab), repeat=depth)), np.int32).reshape(vocab**depth, depth)
    node, mask = _walk(trie, jnp.asarray(prefixes))
    node, mask = np.asarray(node), np.asarray(mask)
    for prefix, nd, row in zip(map(tuple, prefixes.tolist()), node, mask):
      assert (nd >= 0) == (prefix in valid), prefix
      expected = [prefix + (v,) in valid for v in range(vocab)]
      np.testing.assert_array_equal(row, expected)


def test_full_sid_reaches_its_leaf_item():
  table = _random_table(n=1000, num_codes=6)
  trie = table.trie()
  node, mask = _walk(trie, jnp.asarray(table.sids))
  np.testing.assert_array_equal(np.asarray(trie.item_at(node)), np.arange(1000))
  assert not np.asarray(mask).any()  # leaves have no children
  # Interior nodes are not items.
  node, _ = _walk(trie, jnp.asarray(table.sids[:, :2]))
  assert (np.asarray(trie.item_at(node)) == -1).all()


def test_jitted_lookup_agrees_with_table():
  table = _random_table(n=500, num_codes=4)
  trie = table.trie()
  rng = np.random.default_rng(1)
  queries = np.concatenate([table.sids, rng.integers(-1, 6, size=(500, table.num_levels))]).astype(np.int32)
  got = jax.jit(prefix_trie.lookup_items)(trie, jnp.asarray(queries))
  np.testing.assert_array_equal(np.asarray(got), table.item_of(queries))
  np.testing.assert_array_equal(np.asarray(trie.lookup(jnp.asarray(table.sids))), np.arange(500))


def test_invalid_nodes_and_tokens():
  trie = PrefixTrie.build(np.array([[0, 1], [1, 0]]), vocab_size=3)
  step = jax.jit(prefix_trie.step)
  node = jnp.array([0, 0, 0, 0, -1])
  token = jnp.array([0, 2, -1, 3, 0])
  out = np.asarray(step(trie.children, node, token))
  assert out[0] > 0 and (out[1:] == -1).all()
  mask = np.asarray(jax.jit(prefix_trie.allowed_mask)(trie.children, jnp.array([0, -1])))
  np.testing.assert_array_equal(mask, [[True, True, False], [False, False, False]])
  assert trie.memory_bytes == trie.num_nodes * 4 * 4


def test_build_rejects_bad_sids():
  with pytest.raises(ValueError, match='vocab_size'):
    PrefixTrie.build(np.array([[0, 3]]), vocab_size=3)
  with pytest.raises(ValueError, match='integers'):
    PrefixTrie.build(np.zeros((2, 2), np.float32), vocab_size=3)


def test_trie_is_a_pytree():
  trie = PrefixTrie.build(np.array([[0, 1], [1, 0]]), vocab_size=2)
  leaves, treedef = jax.tree_util.tree_flatten(trie)
  assert len(leaves) == 2
  assert jax.tree_util.tree_unflatten(treedef, leaves).num_levels == 2


@pytest.mark.parametrize('dedup', ['extra_token', 'none'])
def test_dead_nodes_match_brute_force(dedup):
  """A node is dead for a request exactly when every item the trie can yield below it is excluded."""
  table = _random_table(n=120, num_codes=3, seed=1, dedup=dedup)  # many shared prefixes, some dead
  trie = table.trie()
  index = prefix_trie.exclusion_index(trie, table.sids)
  rng = np.random.default_rng(2)
  excluded = rng.integers(-1, table.num_items, size=(4, 150)).astype(np.int32)  # repeats and -1 padding
  excluded[0] = -1  # nothing excluded: nothing dead
  excluded[1, :120] = np.arange(120)  # everything excluded: every node below the root dead
  dead = np.asarray(jax.jit(prefix_trie.dead_nodes)(index, jnp.asarray(excluded)))
  leaf_item, children = np.asarray(trie.leaf_item), np.asarray(trie.children)
  # Brute force over prefixes: the items the trie yields (a leaf's item) below each prefix.
  yielded = {}
  for sid in table.sids:
    node = 0
    for t in range(len(sid)):
      node = children[node, sid[t]]
    for t in range(1, len(sid) + 1):
      yielded.setdefault(tuple(sid[:t]), set()).add(int(leaf_item[node]))
  for r in range(len(excluded)):
    banned = set(excluded[r][excluded[r] >= 0].tolist())
    for prefix, items in yielded.items():
      node = 0
      for token in prefix:
        node = children[node, token]
      assert dead[r, node] == items.issubset(banned), (r, prefix)
  assert not dead[0].any() and dead[1, 1:].all()
  assert 0 < dead[2:].sum() < dead[2:].size  # the random rows hit both cases


def test_exclusion_index_rejects_sids_of_another_trie():
  table = _random_table(n=50, num_codes=4)
  part = PrefixTrie.build(table.sids[:10], max(table.vocab_sizes))
  with pytest.raises(ValueError, match='not in the trie'):
    prefix_trie.exclusion_index(part, table.sids)
  with pytest.raises(ValueError, match='must lie in'):
    prefix_trie.exclusion_index(table.trie(), table.sids + 100)
