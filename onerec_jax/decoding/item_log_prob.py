"""log pi(item | user) of given semantic IDs, teacher-forced: the product over the ID's tokens.

Used by ECPO (the policy's and the old policy's probability of each rollout) and by the evaluator's
held-out loss (the scaling sweeps' L). Shape letters: b users, g IDs per user, l levels.
"""

from __future__ import annotations

import jax

from onerec_jax.losses.ecpo import sequence_log_prob
from onerec_jax.models.onerec import decoder_inputs


def item_log_prob(model, batch, sids: jax.Array) -> jax.Array:
  """log pi(o) of each ID: encoder features of b users, sids [b, g, l] -> [b, g] (float32).

  The encoder runs once per user; the g IDs of a user share its cross-attention keys/values.
  """
  b, g, l = sids.shape
  encoded, segment_ids, _ = model.encode(batch)
  flat = sids.reshape(b * g, l)
  logits, _ = model.decode(
    decoder_inputs(flat[:, :-1], model.config.sid_vocab_size), model.cross_kv(encoded), segment_ids
  )
  return sequence_log_prob(logits, flat).reshape(b, g)
