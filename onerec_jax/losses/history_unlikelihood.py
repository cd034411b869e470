"""History unlikelihood: the user's own earlier items pushed down as next items (ModelConfig.history_negatives).

Unlikelihood training (Welleck et al., 2020) applied at the item level: for each negative o, a semantic ID
the target's context must not generate, the loss is -log(1 - pi(o | user)), pi the product of its
teacher-forced token probabilities. It is ~0 while pi(o) is small and grows without bound as pi(o) -> 1,
so it only acts where the model puts real mass on an item the user already has. The negatives are the
items right before each target (models.history_negatives): on data where users do not repeat an item
this teaches the model what HSTU-style evaluation enforces by excluding history from the ranking.

A negative often shares its first levels with the target (the user's items are semantic neighbours). At
those levels both are teacher-forced on the same prefix, so their logits are the same logits, and pushing
the negative's token down pushes the target's down too: the term would fight the next-token loss. With
the target given, the gradient of -log(1 - pi(o)) flows only through the levels from the first one where
o leaves the target's prefix (the shared levels' probabilities still scale it, as constants): the model
is taught to tell the target from the history item where they differ, not to doubt their common prefix.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from onerec_jax.losses.ecpo import token_log_probs


def shared_prefix(sids: jax.Array, targets: jax.Array) -> jax.Array:
  """[n, l] bool: level j of the negative sids [n, l] continues a prefix o_1..o_j equal to the target's."""
  return jnp.cumprod(sids == targets, axis=-1).astype(bool)


def history_unlikelihood(
  logits: jax.Array, sids: jax.Array, valid: jax.Array, targets: jax.Array | None = None
) -> tuple[jax.Array, dict]:
  """Mean -log(1 - pi(o)) over the valid negatives.

  Args:
    logits: [n, l, v] teacher-forced logits of the negative IDs.
    sids: [n, l] int32 the negative IDs.
    valid: [n] bool real negatives (padding and repeats of the target are masked).
    targets: [n, l] int32 each negative's target, or None. Where given, no gradient flows through the
      levels the negative shares with its target's prefix (`shared_prefix`); the value is unchanged.

  Returns:
    scalar loss (0 when no negative is valid) and metrics 'history_unlikelihood' (the loss),
    'history_item_prob' (mean pi(o) over the valid negatives) and, with targets, 'history_shared_levels'
    (mean count of levels shared with the target).
  """
  token = token_log_probs(logits, sids)  # [n, l]
  w = valid.astype(jnp.float32)
  denom = jnp.maximum(w.sum(), 1.0)
  metrics = {}
  if targets is not None:
    shared = shared_prefix(sids, targets)
    token = jnp.where(shared, jax.lax.stop_gradient(token), token)
    metrics["history_shared_levels"] = (shared.sum(-1) * w).sum() / denom
  log_p = jnp.minimum(token.sum(-1), -1e-6)  # pi(o) < 1: log(1 - pi) stays finite
  per_negative = -jnp.log(-jnp.expm1(log_p))  # -log(1 - pi(o))
  loss = (per_negative * w).sum() / denom
  metrics.update(history_unlikelihood=loss, history_item_prob=(jnp.exp(log_p) * w).sum() / denom)
  return loss, metrics
