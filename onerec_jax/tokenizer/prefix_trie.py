"""A dense prefix trie over semantic IDs, for constrained beam search inside jit.

Node 0 is the root (the empty prefix); nodes are numbered breadth first, so all nodes of depth t come
before those of depth t + 1. `children[node, token]` is the node reached by appending `token`, or -1.
Node -1 stands for "off the trie": it allows no token and steps to -1. `leaf_item[node]` is the item at
a full-depth node (the smallest item id when several items share a sid, as with dedup='none'), else -1.

Memory: `children` is num_nodes * vocab_size * 4 bytes, and num_nodes is at most
1 + sum over depths t of min(n, prod of the first t vocab sizes). Dense rows are fine for the tiny and
medium catalogues this project trains on (e.g. 100k items, 3 x 256 codes + extra token: about 170k
nodes x 256 x 4 B = 175 MB); at production scale (10M items, 8,192 codes) the rows below the root
would need a sparse (CSR) layout instead.
"""

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

ROOT = 0


def allowed_mask(children: jax.Array, node: jax.Array) -> jax.Array:
  """Tokens that extend each prefix to a valid one. children [N, v], node [...] -> bool [..., v]."""
  rows = children[jnp.maximum(node, 0)]  # [..., v]
  return (rows >= 0) & (node >= 0)[..., None]


def step(children: jax.Array, node: jax.Array, token: jax.Array) -> jax.Array:
  """Appends `token` to each prefix. node [...], token [...] -> node [...] int32, -1 if invalid."""
  vocab_size = children.shape[1]
  ok = (node >= 0) & (token >= 0) & (token < vocab_size)
  nxt = children[jnp.maximum(node, 0), jnp.clip(token, 0, vocab_size - 1)]
  return jnp.where(ok, nxt, -1)


@flax.struct.dataclass
class PrefixTrie:
  """Dense prefix trie; a pytree (arrays are leaves), so it can be passed into jitted functions.

  Attributes:
    children: [num_nodes, vocab_size] int32 child node or -1.
    leaf_item: [num_nodes] int32 item id at full-depth nodes, -1 elsewhere.
    num_levels: tokens per sid (static).
  """

  children: jax.Array
  leaf_item: jax.Array
  num_levels: int = flax.struct.field(pytree_node=False)

  @property
  def num_nodes(self) -> int:
    return self.children.shape[0]

  @property
  def vocab_size(self) -> int:
    return self.children.shape[1]

  @property
  def memory_bytes(self) -> int:
    return self.num_nodes * (self.vocab_size + 1) * 4

  @classmethod
  def build(cls, sids: Any, vocab_size: int) -> 'PrefixTrie':
    """Builds the trie of all sids (host-side numpy, vectorised per depth).

    Args:
      sids: [n, L'] integer sids; row i is item i.
      vocab_size: width of a children row; every token must be < vocab_size (use the largest per-level
        vocabulary: the decoder has one output size for all steps).
    """
    sids = np.asarray(sids)
    if sids.ndim != 2 or sids.shape[0] == 0 or sids.shape[1] == 0:
      raise ValueError(f'sids must be a non-empty [n, L] array, got shape {sids.shape}.')
    if not np.issubdtype(sids.dtype, np.integer):
      raise ValueError(f'sids must be integers, got dtype {sids.dtype}.')
    if sids.min() < 0 or sids.max() >= vocab_size:
      raise ValueError(f'sid tokens must lie in [0, vocab_size={vocab_size}), got [{sids.min()}, {sids.max()}].')
    n, num_levels = sids.shape
    node = np.zeros(n, np.int64)  # each item's prefix node at the current depth
    num_nodes = 1
    parents, tokens, ids = [], [], []
    for t in range(num_levels):
      edge = node * vocab_size + sids[:, t]
      unique_edges, inverse = np.unique(edge, return_inverse=True)
      parents.append(unique_edges // vocab_size)
      tokens.append(unique_edges % vocab_size)
      ids.append(num_nodes + np.arange(unique_edges.size))
      node = num_nodes + inverse.reshape(-1)
      num_nodes += unique_edges.size
    if num_nodes >= 2**31:
      raise ValueError(f'{num_nodes} trie nodes do not fit int32 node ids.')
    children = np.full((num_nodes, vocab_size), -1, np.int32)
    children[np.concatenate(parents), np.concatenate(tokens)] = np.concatenate(ids)
    leaf_item = np.full(num_nodes, -1, np.int32)
    leaves, first_item = np.unique(node, return_index=True)  # first occurrence = smallest item id
    leaf_item[leaves] = first_item
    return cls(children=jnp.asarray(children), leaf_item=jnp.asarray(leaf_item), num_levels=num_levels)

  def allowed_mask(self, node: jax.Array) -> jax.Array:
    """node [...] -> bool [..., vocab_size]; see `allowed_mask`."""
    return allowed_mask(self.children, node)

  def step(self, node: jax.Array, token: jax.Array) -> jax.Array:
    """node [...], token [...] -> node [...]; see `step`."""
    return step(self.children, node, token)

  def item_at(self, node: jax.Array) -> jax.Array:
    """node [...] -> item id [...] at full-depth nodes, -1 elsewhere (and for node -1)."""
    return jnp.where(node >= 0, self.leaf_item[jnp.maximum(node, 0)], -1)

  def lookup(self, sids: jax.Array) -> jax.Array:
    """Jittable sid -> item. sids [..., L'] -> [...] int32 item ids, -1 for sids of no item."""
    return lookup_items(self, sids)


def lookup_items(trie: PrefixTrie, sids: jax.Array) -> jax.Array:
  """Walks each sid from the root. sids [..., L'] -> [...] int32 item ids (-1: no such item)."""
  sids = jnp.asarray(sids, jnp.int32)
  if sids.shape[-1] != trie.num_levels:
    raise ValueError(f'sids have {sids.shape[-1]} tokens, the trie has {trie.num_levels} levels.')
  node = jnp.zeros(sids.shape[:-1], jnp.int32)
  for t in range(trie.num_levels):
    node = step(trie.children, node, sids[..., t])
  return trie.item_at(node)


# ----------------------------------------------------------------------------------------------------
# Excluding items per request (the HSTU protocol's history) inside the search.
# ----------------------------------------------------------------------------------------------------


@flax.struct.dataclass
class ExclusionIndex:
  """What `dead_nodes` needs to prune a trie per request; a pytree (arrays are leaves).

  Attributes:
    paths: [num_items, L] int32 trie node of each item's sid at depths 1..L; a row of -1 for an item that
      no leaf names (it shares its sid with a smaller item id, dedup='none'), whose exclusion prunes nothing.
    leaves_below: [num_nodes] int32 item-naming leaves in each node's subtree (1 at a leaf).
  """

  paths: jax.Array
  leaves_below: jax.Array


def exclusion_index(trie: PrefixTrie, sids: Any) -> ExclusionIndex:
  """Builds the ExclusionIndex of `trie` for the item sids it was built from (host-side numpy).

  Args:
    trie: the PrefixTrie of `sids`.
    sids: [num_items, L] int sids; row i is item i.
  """
  sids = np.asarray(sids)
  children, leaf_item = np.asarray(trie.children), np.asarray(trie.leaf_item)
  n, num_levels = sids.shape
  if num_levels != trie.num_levels:
    raise ValueError(f'sids have {num_levels} tokens, the trie has {trie.num_levels} levels.')
  if sids.min() < 0 or sids.max() >= children.shape[1]:
    raise ValueError(f'sid tokens must lie in [0, {children.shape[1]}), got [{sids.min()}, {sids.max()}].')
  paths = np.zeros((n, num_levels), np.int64)
  node = np.zeros(n, np.int64)
  for t in range(num_levels):
    node = children[node, sids[:, t]]
    if (node < 0).any():
      raise ValueError(f'item {int(np.argmax(node < 0))} has a sid that is not in the trie.')
    paths[:, t] = node
  names_leaf = leaf_item[node] == np.arange(n)
  leaves_below = np.zeros(children.shape[0], np.int64)
  np.add.at(leaves_below, paths[names_leaf].reshape(-1), 1)
  paths = np.where(names_leaf[:, None], paths, -1)
  return ExclusionIndex(paths=jnp.asarray(paths, jnp.int32), leaves_below=jnp.asarray(leaves_below, jnp.int32))


def dead_nodes(index: ExclusionIndex, excluded: jax.Array) -> jax.Array:
  """Per request, the trie nodes every item below which is excluded (jit-friendly).

  A constrained search that never enters a dead node only ever yields items that are not excluded, and
  a prefix survives exactly when some item below it does.

  Args:
    index: from `exclusion_index`.
    excluded: [b, E] int32 item ids per request, -1 padded; repeats are counted once.

  Returns:
    [b, num_nodes] bool.
  """
  excluded = jnp.sort(jnp.asarray(excluded, jnp.int32), axis=1)
  repeat = jnp.concatenate([jnp.zeros_like(excluded[:, :1], bool), excluded[:, 1:] == excluded[:, :-1]], axis=1)
  excluded = jnp.where(repeat, -1, excluded)
  nodes = jnp.where((excluded >= 0)[..., None], index.paths[jnp.maximum(excluded, 0)], -1)  # [b, E, L]
  b = excluded.shape[0]
  counts = jnp.zeros((b, index.leaves_below.shape[0]), jnp.int32)
  rows = jnp.broadcast_to(jnp.arange(b)[:, None, None], nodes.shape)
  counts = counts.at[rows, jnp.maximum(nodes, 0)].add((nodes >= 0).astype(jnp.int32))
  below = index.leaves_below[None, :]
  return (below > 0) & (counts >= below)
