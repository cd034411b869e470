"""Beam search over semantic IDs, constrained by a prefix trie to IDs that map to real items.

A pure function: the model enters only through `logits_fn`. Shape legend: b requests, w beams,
l semantic-ID levels, v codes per level, n trie nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

NEG_INF = -1e30


class BeamResult(NamedTuple):
  """Beams sorted by score, best first."""

  sids: jax.Array  # [b, w, l] int32 generated semantic IDs
  scores: jax.Array  # [b, w] float32 log-probability of the whole ID under the model (NEG_INF = no beam)
  items: jax.Array  # [b, w] int32 item of each ID, -1 where the beam is empty


def beam_search(logits_fn: Callable[[jax.Array], jax.Array], *, batch_size: int, num_beams: int,
                num_levels: int, trie_children: jax.Array, trie_leaf_item: jax.Array) -> BeamResult:
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

  Returns:
    BeamResult. Scores are the model's log-probabilities (not renormalised over the allowed codes).
    When fewer than w valid IDs exist, the missing beams have score NEG_INF and item -1.
  """
  b, w = batch_size, num_beams
  v = trie_children.shape[1]
  sids = jnp.zeros((b, w, 0), jnp.int32)
  scores = jnp.full((b, w), NEG_INF, jnp.float32).at[:, 0].set(0.0)
  nodes = jnp.zeros((b, w), jnp.int32)
  for _ in range(num_levels):
    logits = logits_fn(sids.reshape(b * w, -1)).reshape(b, w, v)
    log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    children = trie_children[jnp.maximum(nodes, 0)]  # [b, w, v]
    allowed = (children >= 0) & (nodes >= 0)[..., None] & (scores > NEG_INF / 2)[..., None]
    candidates = jnp.where(allowed, scores[..., None] + log_probs, NEG_INF).reshape(b, w * v)
    scores, flat = jax.lax.top_k(candidates, w)
    parent, code = flat // v, (flat % v).astype(jnp.int32)
    sids = jnp.concatenate([jnp.take_along_axis(sids, parent[..., None], axis=1), code[..., None]], axis=-1)
    parent_children = jnp.take_along_axis(children.reshape(b, w * v), flat, axis=1)
    nodes = jnp.where(scores > NEG_INF / 2, parent_children, -1)
  items = jnp.where(nodes >= 0, trie_leaf_item[jnp.maximum(nodes, 0)], -1)
  return BeamResult(sids=sids, scores=scores, items=items)
