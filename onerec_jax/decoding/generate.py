"""Recommendation by generation: encode once, project cross-attention keys once, then beam search
(`generate`) or ancestral sampling (`sample`, ECPO's optional rollouts).

Shape legend: b requests, w beams (or samples), l semantic-ID levels, t encoder tokens.
"""

from __future__ import annotations

import jax

from onerec_jax.decoding.beam_search import BeamResult, beam_search, beam_search_cached
from onerec_jax.decoding.sampling import sample_cached
from onerec_jax.models.onerec import OneRec, decoder_inputs


def generate(
  model: OneRec,
  batch: dict,
  *,
  num_beams: int,
  trie_children: jax.Array,
  trie_leaf_item: jax.Array,
  use_cache: bool = True,
  constrained: bool = True,
  dead_nodes: jax.Array | None = None,
  level_temperatures: tuple[float, ...] = (),
) -> BeamResult:
  """Generates the top `num_beams` valid semantic IDs for every request in `batch`.

  The encoder runs once per request and its cross-attention keys/values are projected once; every beam
  of a request attends to the same keys (no copy per beam). With `use_cache` (default) the decoder keeps
  a self-attention KV cache per beam ([b * w, l, h, k] per layer), reordered with the beams, and runs
  one position per level; `use_cache=False` re-reads the whole (at most l-token) prefix at each level
  (the reference the cached path is tested against).

  Both paths give the same beams up to float rounding, except with a capacity-limited MoE decoder
  (capacity_factor > 0): expert capacity is per call, so which tokens are dropped depends on how many
  positions a call holds (and on the other requests in the batch).

  Args:
    model: a OneRec model (in eval mode for deterministic dropout).
    batch: encoder features (see onerec_jax.models.onerec), batch size b.
    num_beams: w.
    trie_children, trie_leaf_item: the tokenizer's prefix trie arrays.
    use_cache: decode incrementally with a self-attention cache.
    constrained: trie-constrained (default); False searches all codes and marks IDs that name no item
      with item -1 (beam_search.beam_search).
    dead_nodes: optional [b, n] bool trie nodes each request must not enter (prefix_trie.dead_nodes:
      items excluded from its ranking are never generated, so the w beams go to rankable items).
    level_temperatures: optional per-level decoding temperatures (beam_search.beam_search).

  Returns:
    BeamResult with shapes [b, w, l], [b, w], [b, w].
  """
  encoded, segment_ids, _ = model.encode(batch)
  cross_kv = model.cross_kv(encoded)  # [b, t, h, k] per layer, shared by the w beams of a request
  vocab, levels = model.config.sid_vocab_size, model.config.num_sid_levels
  b = encoded.shape[0]
  search = dict(
    batch_size=b,
    num_beams=num_beams,
    num_levels=levels,
    trie_children=trie_children,
    trie_leaf_item=trie_leaf_item,
    constrained=constrained,
    dead_nodes=dead_nodes,
    level_temperatures=tuple(level_temperatures),
  )

  if not use_cache:

    def logits_fn(prefix: jax.Array) -> jax.Array:
      logits, _ = model.decode(decoder_inputs(prefix, vocab), cross_kv, segment_ids)
      return logits[:, -1]

    return beam_search(logits_fn, **search)

  step_fn = _cached_step_fn(model, cross_kv, segment_ids)
  return beam_search_cached(step_fn, model.init_decode_cache(b * num_beams, levels), **search)


def _cached_step_fn(model: OneRec, cross_kv, segment_ids):
  """(prefix [b * w, s], cache) -> (next-code logits [b * w, v], cache): feeds only the newest decoder
  input (BOS at level 0, else the last code with its level offset); earlier positions are in the cache."""
  vocab = model.config.sid_vocab_size

  def step_fn(prefix: jax.Array, cache):
    token = decoder_inputs(prefix, vocab)[:, -1:]
    return model.decode_step(token, prefix.shape[1], cache, cross_kv, segment_ids)

  return step_fn


def sample(
  model: OneRec,
  batch: dict,
  *,
  num_samples: int,
  key: jax.Array,
  trie_children: jax.Array,
  trie_leaf_item: jax.Array,
  temperature: float = 1.0,
  constrained: bool = True,
) -> BeamResult:
  """Draws `num_samples` semantic IDs per request from the model, code by code (KV-cached decoder).

  The encoder runs once per request, as in `generate`; the w samples of a request are independent draws
  (they may repeat an item). Args as `generate`, plus the PRNG `key` and the sampling `temperature`
  (onerec_jax.decoding.sampling.sample_cached).

  Returns:
    BeamResult [b, w, l], [b, w], [b, w], each request's samples sorted by log-probability.
  """
  encoded, segment_ids, _ = model.encode(batch)
  cross_kv = model.cross_kv(encoded)
  b, levels = encoded.shape[0], model.config.num_sid_levels
  return sample_cached(
    _cached_step_fn(model, cross_kv, segment_ids),
    model.init_decode_cache(b * num_samples, levels),
    key=key,
    batch_size=b,
    num_samples=num_samples,
    num_levels=levels,
    trie_children=trie_children,
    trie_leaf_item=trie_leaf_item,
    temperature=temperature,
    constrained=constrained,
  )
