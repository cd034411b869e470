"""Ancestral sampling of semantic IDs, level by level, with or without the prefix trie.

ECPO's other way to draw a user's group of G rollouts (PAPER.md section 7; beam search is the
default): each of the w rows of a request samples its ID code by code from the model's next-code
distribution (tempered), so rollouts are independent draws and may repeat an item. Constrained, the
codes are restricted to the trie's children (every sample a real item); free, any code can be drawn
and the trie only labels the result (item -1 where the ID names no item: what the format reward
teaches). Pure function of a step function and its cache, as `beam_search_cached`; rows never change
places, so the cache is never reordered. Shape legend: b requests, w samples per request, l levels,
v codes per level, n trie nodes.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from onerec_jax.decoding.beam_search import NEG_INF, BeamResult, Cache


def sample_cached(
  step_fn: Callable[[jax.Array, Cache], tuple[jax.Array, Cache]],
  cache: Cache,
  *,
  key: jax.Array,
  batch_size: int,
  num_samples: int,
  num_levels: int,
  trie_children: jax.Array,
  trie_leaf_item: jax.Array,
  temperature: float = 1.0,
  constrained: bool = True,
) -> BeamResult:
  """Draws w IDs per request from the model (jit-friendly; the level loop is unrolled).

  Args:
    step_fn: (prefix [b * w, s] int32, cache) -> (next-code logits [b * w, v], cache), as for
      `beam_search_cached`; rows r * w ... r * w + w - 1 are request r's samples.
    cache: the initial cache (for example OneRec.init_decode_cache(b * w)); () for none.
    key: PRNG key of the draws (level s uses fold_in(key, s)).
    batch_size: b.
    num_samples: w.
    num_levels: l.
    trie_children: [n, v] int32 child node of each (node, code), -1 when the prefix is invalid.
    trie_leaf_item: [n] int32 item at each full-depth node, -1 elsewhere.
    temperature: divides the log-probabilities before sampling (1 = the model's distribution).
    constrained: sample only codes that keep the prefix on the trie (default).

  Returns:
    BeamResult [b, w, l], [b, w], [b, w], each request's samples sorted by score (best first); scores
    are the model's untempered log-probabilities of the whole ID (not renormalised over the allowed
    codes, as beam search), items -1 where a free sample names no item.
  """
  if temperature <= 0:
    raise ValueError(f"sampling temperature must be positive, got {temperature}")
  b, w = batch_size, num_samples
  n = b * w
  sids = jnp.zeros((n, 0), jnp.int32)
  scores = jnp.zeros((n,), jnp.float32)
  nodes = jnp.zeros((n,), jnp.int32)
  for level in range(num_levels):
    logits, cache = step_fn(sids, cache)
    log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)  # [n, v]
    children = jnp.where((nodes >= 0)[:, None], trie_children[jnp.maximum(nodes, 0)], -1)
    tempered = log_probs / temperature
    if constrained:  # a trie node always has a child below full depth, so some code is allowed
      tempered = jnp.where(children >= 0, tempered, NEG_INF)
    code = jax.random.categorical(jax.random.fold_in(key, level), tempered, axis=-1).astype(jnp.int32)
    scores = scores + jnp.take_along_axis(log_probs, code[:, None], axis=-1)[:, 0]
    nodes = jnp.where(nodes >= 0, jnp.take_along_axis(children, code[:, None], axis=-1)[:, 0], -1)
    sids = jnp.concatenate([sids, code[:, None]], axis=-1)
  items = jnp.where(nodes >= 0, trie_leaf_item[jnp.maximum(nodes, 0)], -1)
  sids, scores, items = sids.reshape(b, w, num_levels), scores.reshape(b, w), items.reshape(b, w)
  order = jnp.argsort(-scores, axis=-1)
  return BeamResult(
    sids=jnp.take_along_axis(sids, order[..., None], axis=1),
    scores=jnp.take_along_axis(scores, order, axis=1),
    items=jnp.take_along_axis(items, order, axis=1),
  )
