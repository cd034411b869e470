"""Beam search over semantic IDs, constrained by a prefix trie to IDs that map to real items.

Pure functions: the model enters only through `logits_fn` (re-reads the whole prefix at each level) or
through `step_fn` and its cache (reads only the newest code; the cache carries the rest and is reordered
with the beams). Shape legend: b requests, w beams, l semantic-ID levels, v codes per level, n trie
nodes, k items kept per request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

NEG_INF = -1e30

Cache = Any  # any pytree whose leaves have the b * w beam rows as their leading axis


class BeamResult(NamedTuple):
  """Beams sorted by score, best first."""

  sids: jax.Array  # [b, w, l] int32 generated semantic IDs
  scores: jax.Array  # [b, w] float32 log-probability of the whole ID under the model (NEG_INF = no beam)
  items: jax.Array  # [b, w] int32 item of each ID, -1 where the beam is empty


def reorder_beams(cache: Cache, rows: jax.Array) -> Cache:
  """Gathers every cache leaf's leading (beam-row) axis: leaf[rows]. rows [b * w] int32."""
  return jax.tree.map(lambda leaf: jnp.take(leaf, rows, axis=0), cache)


def beam_search(
  logits_fn: Callable[[jax.Array], jax.Array],
  *,
  batch_size: int,
  num_beams: int,
  num_levels: int,
  trie_children: jax.Array,
  trie_leaf_item: jax.Array,
  constrained: bool = True,
  dead_nodes: jax.Array | None = None,
  level_temperatures: tuple[float, ...] = (),
) -> BeamResult:
  """Trie-constrained beam search (jit-friendly; the level loop is unrolled).

  Args:
    logits_fn: prefix [b * w, s] int32 (the codes generated so far, s = 0..l-1) -> next-code logits
      [b * w, v]. Beams of request r are rows r * w ... r * w + w - 1.
    batch_size: b.
    num_beams: w.
    num_levels: l.
    trie_children: [n, v] int32 child node of each (node, code), -1 when the prefix is invalid; node 0 is
      the root.
    trie_leaf_item: [n] int32 item at each full-depth node, -1 elsewhere.
    constrained: restrict every level to the trie's codes (default). False: a free search over all v
      codes, with the trie only labelling each ID (item -1 where the ID names no item; the format
      reward's rollouts).
    dead_nodes: optional [b, n] bool trie nodes request r must not enter (prefix_trie.dead_nodes: every
      item below them is excluded), so its beams go to the items it may be shown; constrained only.
    level_temperatures: optional l positive temperatures, one per level: level s scores its codes by
      log_softmax(logits / T_s) (below 1 sharpens that level, so it weighs more in the ID's score and in
      which beams survive); () = 1 everywhere, the model's own distribution.

  Returns:
    BeamResult. Scores are the model's log-probabilities (not renormalised over the allowed codes; with
    level_temperatures, the sum of the tempered levels' log-probabilities).
    When fewer than w valid IDs exist, the missing beams have score NEG_INF and item -1.
  """
  return beam_search_cached(
    lambda prefix, cache: (logits_fn(prefix), cache),
    (),
    batch_size=batch_size,
    num_beams=num_beams,
    num_levels=num_levels,
    trie_children=trie_children,
    trie_leaf_item=trie_leaf_item,
    constrained=constrained,
    dead_nodes=dead_nodes,
    level_temperatures=level_temperatures,
  )


def beam_search_cached(
  step_fn: Callable[[jax.Array, Cache], tuple[jax.Array, Cache]],
  cache: Cache,
  *,
  batch_size: int,
  num_beams: int,
  num_levels: int,
  trie_children: jax.Array,
  trie_leaf_item: jax.Array,
  reorder: Callable[[Cache, jax.Array], Cache] = reorder_beams,
  constrained: bool = True,
  dead_nodes: jax.Array | None = None,
  level_temperatures: tuple[float, ...] = (),
) -> BeamResult:
  """Trie-constrained beam search with a per-beam decoder cache (jit-friendly; levels unrolled).

  At level s the search calls `step_fn(prefix, cache)`; a step function with a cache reads only the
  newest code prefix[:, -1] (none at s = 0) and takes the earlier ones from the cache. After choosing
  the level's w best extensions the cache rows are gathered by parent beam, so row r * w + j again
  belongs to the prefix in beam j. Whatever is shared by all beams of a request (the encoder output,
  cross-attention keys) belongs in step_fn's closure, not in the cache, so it is never copied per beam.

  Args:
    step_fn: (prefix [b * w, s] int32, cache) -> (next-code logits [b * w, v], cache with the prefix's
      newest position added). Beams of request r are rows r * w ... r * w + w - 1.
    cache: the initial cache (for example OneRec.init_decode_cache(b * w)); () for none.
    batch_size: b.
    num_beams: w.
    num_levels: l.
    trie_children: [n, v] int32 child node of each (node, code), -1 when the prefix is invalid; node 0 is
      the root.
    trie_leaf_item: [n] int32 item at each full-depth node, -1 elsewhere.
    reorder: (cache, rows [b * w] int32) -> the cache whose row i is the old row rows[i]; the default
      gathers the leading axis of every leaf.
    constrained: as `beam_search` (False: free search; illegal IDs get item -1 and a finite score).
    dead_nodes: as `beam_search`: optional [b, n] bool nodes each request must not enter.
    level_temperatures: as `beam_search`: l per-level temperatures, () for none.

  Returns:
    BeamResult, as `beam_search`.
  """
  b, w = batch_size, num_beams
  if dead_nodes is not None and not constrained:
    raise ValueError("dead_nodes prunes the trie: it needs constrained=True")
  check_level_temperatures(level_temperatures, num_levels)
  v = trie_children.shape[1]
  sids = jnp.zeros((b, w, 0), jnp.int32)
  scores = jnp.full((b, w), NEG_INF, jnp.float32).at[:, 0].set(0.0)
  nodes = jnp.zeros((b, w), jnp.int32)
  # Beam row of request r's beam j in the flat [b * w] layout of the cache.
  row_base = (jnp.arange(b, dtype=jnp.int32) * w)[:, None]
  for level in range(num_levels):
    logits, cache = step_fn(sids.reshape(b * w, -1), cache)
    logits = logits.reshape(b, w, v).astype(jnp.float32)
    if level_temperatures:
      logits = logits / level_temperatures[level]
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    # Trie children of each beam's node ([b, w, v]); -1 below a node that is already off the trie.
    children = jnp.where((nodes >= 0)[..., None], trie_children[jnp.maximum(nodes, 0)], -1)
    live = (scores > NEG_INF / 2)[..., None]
    allowed = (children >= 0) & live if constrained else jnp.broadcast_to(live, children.shape)
    if dead_nodes is not None:  # per request: children all of whose items are excluded
      dead = jnp.take_along_axis(dead_nodes, jnp.maximum(children, 0).reshape(b, w * v), axis=1)
      allowed &= ~dead.reshape(b, w, v)
    candidates = jnp.where(allowed, scores[..., None] + log_probs, NEG_INF).reshape(b, w * v)
    scores, flat = jax.lax.top_k(candidates, w)
    parent, code = flat // v, (flat % v).astype(jnp.int32)
    sids = jnp.concatenate([jnp.take_along_axis(sids, parent[..., None], axis=1), code[..., None]], axis=-1)
    parent_children = jnp.take_along_axis(children.reshape(b, w * v), flat, axis=1)
    nodes = jnp.where(scores > NEG_INF / 2, parent_children, -1)
    if level + 1 < num_levels:  # after the last level no step reads the cache again
      cache = reorder(cache, (row_base + parent.astype(jnp.int32)).reshape(b * w))
  items = jnp.where(nodes >= 0, trie_leaf_item[jnp.maximum(nodes, 0)], -1)
  return BeamResult(sids=sids, scores=scores, items=items)


def check_level_temperatures(level_temperatures: tuple[float, ...], num_levels: int) -> None:
  """Raises ValueError unless `level_temperatures` is () or num_levels positive numbers."""
  if level_temperatures and (len(level_temperatures) != num_levels or not all(t > 0 for t in level_temperatures)):
    raise ValueError(
      f"level_temperatures must be {num_levels} positive numbers (one per semantic-ID level) or empty,"
      f" got {tuple(level_temperatures)}"
    )


# ----------------------------------------------------------------------------------------------------
# Output hygiene.
# ----------------------------------------------------------------------------------------------------


def legal_rate(result: BeamResult, trie_children=None, trie_leaf_item=None) -> float:
  """Fraction of the non-empty beams (finite score) that name a real item.

  A beam is legal when its item is >= 0 and, if the trie is given, when the item is the one its
  semantic ID leads to in the trie (the sids were walked through the trie, not just labelled). Empty
  beams (score NEG_INF, fewer valid IDs than beams) are not counted: they are allowed to be -1.

  Args:
    result: BeamResult with sids [b, w, l], scores [b, w], items [b, w].
    trie_children: optional [n, v] int32 trie children.
    trie_leaf_item: optional [n] int32 item per full-depth node.

  Returns:
    A float in [0, 1]; 1.0 when there are no non-empty beams.
  """
  sids, scores, items = (np.asarray(x) for x in result)
  live = scores > NEG_INF / 2
  legal = items >= 0
  if trie_children is not None:
    children, leaf = np.asarray(trie_children), np.asarray(trie_leaf_item)
    node = np.zeros(items.shape, np.int64)
    for level in range(sids.shape[-1]):
      node = np.where(node >= 0, children[np.maximum(node, 0), sids[..., level]], -1)
    legal &= (node >= 0) & (np.where(node >= 0, leaf[np.maximum(node, 0)], -1) == items)
  return float(legal[live].mean()) if live.any() else 1.0


def assert_legal(result: BeamResult, trie_children=None, trie_leaf_item=None) -> None:
  """Raises AssertionError unless `legal_rate(result, ...)` is exactly 1 (every live beam is an item)."""
  rate = legal_rate(result, trie_children, trie_leaf_item)
  if rate != 1.0:
    raise AssertionError(f"legal rate {rate:.3f} != 1.000: a beam with a finite score names no real item")


def ranked_items(result: BeamResult, k: int) -> tuple[jax.Array, jax.Array]:
  """The first k distinct real items per request, best-scored first, padded with -1 (jit-friendly).

  Beams are already sorted by score, so keeping each item's first occurrence keeps its best score.
  Empty beams (score NEG_INF or item -1) are dropped. Needs beam width w >= k: w beams can give at most
  w items, and fewer when some are empty or repeat an item (then the tail is -1).

  Args:
    result: BeamResult with scores, items [b, w] (sorted best first).
    k: items to return per request; must be <= w.

  Returns:
    items [b, k] int32 (-1 = none) and their scores [b, k] float32 (NEG_INF where the item is -1).
  """
  items, scores = jnp.asarray(result.items), jnp.asarray(result.scores)
  w = items.shape[1]
  if k > w:
    raise ValueError(f"ranked_items needs beam width >= k; got w={w}, k={k}")
  real = (items >= 0) & (scores > NEG_INF / 2)
  earlier = jnp.tril(jnp.ones((w, w), bool), -1)  # [i, j]: beam j comes before beam i
  repeat = ((items[:, :, None] == items[:, None, :]) & earlier & real[:, None, :]).any(-1)  # [b, w]
  keep = real & ~repeat
  # Stable sort on "dropped" moves the kept beams to the front in their (score) order.
  order = jnp.argsort(~keep, axis=1, stable=True)[:, :k]
  kept = jnp.take_along_axis(keep, order, axis=1)
  top_items = jnp.where(kept, jnp.take_along_axis(items, order, axis=1), -1).astype(jnp.int32)
  top_scores = jnp.where(kept, jnp.take_along_axis(scores, order, axis=1), NEG_INF).astype(jnp.float32)
  return top_items, top_scores
