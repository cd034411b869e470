"""History unlikelihood: the user's own earlier items pushed down as next items (ModelConfig.history_negatives).

Unlikelihood training (Welleck et al., 2020) applied at the item level: for each negative o, a semantic ID
the target's context must not generate, the loss is -log(1 - pi(o | user)), pi the product of its
teacher-forced token probabilities. It is ~0 while pi(o) is small and grows without bound as pi(o) -> 1,
so it only acts where the model puts real mass on an item the user already has. The negatives are the
items right before each target (models.history_negatives): on data where users do not repeat an item
this teaches the model what HSTU-style evaluation enforces by excluding history from the ranking.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from onerec_jax.losses.ecpo import sequence_log_prob


def history_unlikelihood(logits: jax.Array, sids: jax.Array, valid: jax.Array) -> tuple[jax.Array, dict]:
  """Mean -log(1 - pi(o)) over the valid negatives.

  Args:
    logits: [n, l, v] teacher-forced logits of the negative IDs.
    sids: [n, l] int32 the negative IDs.
    valid: [n] bool real negatives (padding and repeats of the target are masked).

  Returns:
    scalar loss (0 when no negative is valid) and metrics 'history_unlikelihood' (the loss) and
    'history_item_prob' (mean pi(o) over the valid negatives).
  """
  log_p = jnp.minimum(sequence_log_prob(logits, sids), -1e-6)  # pi(o) < 1: log(1 - pi) stays finite
  per_negative = -jnp.log(-jnp.expm1(log_p))  # -log(1 - pi(o))
  w = valid.astype(jnp.float32)
  denom = jnp.maximum(w.sum(), 1.0)
  loss = (per_negative * w).sum() / denom
  return loss, {"history_unlikelihood": loss, "history_item_prob": (jnp.exp(log_p) * w).sum() / denom}
