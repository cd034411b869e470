"""Recommendation by generation: encode once, project cross-attention keys once, then beam search."""

from __future__ import annotations

import jax

from onerec_jax.decoding.beam_search import BeamResult, beam_search
from onerec_jax.models.onerec import OneRec, decoder_inputs


def generate(model: OneRec, batch: dict, *, num_beams: int, trie_children: jax.Array,
             trie_leaf_item: jax.Array) -> BeamResult:
  """Generates the top `num_beams` valid semantic IDs for every request in `batch`.

  The encoder runs once per request and its cross-attention keys/values are projected once; every beam
  of a request attends to the same keys (no copy per beam). The decoder re-reads the (at most l-token)
  prefix at each step instead of keeping a self-attention KV cache.

  Args:
    model: a OneRec model.
    batch: encoder features (see onerec_jax.models.onerec), batch size b.
    num_beams: w.
    trie_children, trie_leaf_item: the tokenizer's prefix trie arrays.

  Returns:
    BeamResult with shapes [b, w, l], [b, w], [b, w].
  """
  encoded, segment_ids, _ = model.encode(batch)
  cross_kv = model.cross_kv(encoded)
  vocab = model.config.sid_vocab_size

  def logits_fn(prefix: jax.Array) -> jax.Array:
    logits, _ = model.decode(decoder_inputs(prefix, vocab), cross_kv, segment_ids)
    return logits[:, -1]

  return beam_search(logits_fn, batch_size=encoded.shape[0], num_beams=num_beams,
                     num_levels=model.config.num_sid_levels, trie_children=trie_children,
                     trie_leaf_item=trie_leaf_item)
