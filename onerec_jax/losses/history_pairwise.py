"""History pairwise loss: each target ranked above the user's own earlier items (ModelConfig.history_loss).

The pairwise (BPR, Rendle et al., 2009) form of the history negatives' term: for a target t and one of
the user's earlier items o, -log sigmoid(log pi(t) - log pi(o)), pi the product of the teacher-forced
token probabilities. Where the history item is far below the target the term is ~0; where it outranks
the target (what costs a slot of the top K under the TIGER protocol) its gradient on the margin is
between 1/2 and 1, on both sides, whatever pi(o)'s size. The unlikelihood form (losses.history_unlikelihood), -log(1 - pi(o)), has a
gradient of pi(o) / (1 - pi(o)): with item probabilities of a few 1e-3 it barely acts.

The levels a negative shares with its target's prefix have the same teacher-forced logits and tokens on
both sides, so they cancel in the difference; only the levels from the first divergent one enter.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from onerec_jax.losses.ecpo import token_log_probs
from onerec_jax.losses.history_unlikelihood import shared_prefix


def history_pairwise(
  negative_logits: jax.Array, sids: jax.Array, valid: jax.Array, target_token_log_probs: jax.Array, targets: jax.Array
) -> tuple[jax.Array, dict]:
  """Mean -log sigmoid(log pi(target) - log pi(o)) over the valid (target, negative) pairs.

  Args:
    negative_logits: [n, l, v] teacher-forced logits of the negative IDs.
    sids: [n, l] int32 the negative IDs.
    valid: [n] bool real negatives (padding and repeats of the target are masked).
    target_token_log_probs: [n, l] log p of each negative's target's tokens (losses.ecpo.token_log_probs).
    targets: [n, l] int32 each negative's target.

  Returns:
    scalar loss (0 when no pair is valid) and metrics 'history_pairwise' (the loss),
    'history_above_target' (the fraction of valid pairs where pi(o) > pi(target)) and
    'history_shared_levels' (mean count of levels shared with the target).
  """
  diverged = ~shared_prefix(sids, targets)
  gap = target_token_log_probs - token_log_probs(negative_logits, sids)  # [n, l]
  margin = jnp.sum(jnp.where(diverged, gap, 0.0), -1)  # log pi(t) - log pi(o): the shared prefix cancels
  w = valid.astype(jnp.float32)
  denom = jnp.maximum(w.sum(), 1.0)
  loss = (jax.nn.softplus(-margin) * w).sum() / denom
  return loss, {
    "history_pairwise": loss,
    "history_above_target": ((margin < 0) * w).sum() / denom,
    "history_shared_levels": ((~diverged).sum(-1) * w).sum() / denom,
  }
