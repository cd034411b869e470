"""ECPO, early-clipped GRPO (PAPER.md section 7), and the format reward: pure functions of log-probs.

For a user, G items o_1..o_G are drawn from the old policy and scored; advantages are normalised within
the group, A_i = (r_i - mean r) / std r. The objective (maximised; `ecpo_loss` returns its negative) is

  J = 1/G sum_i min(rho_i A_i, clip(rho_i, 1 - eps, 1 + eps) A_i),   rho_i = pi(o_i) / pi'_old(o_i),
  pi'_old(o_i) = max(stopgrad(pi(o_i)) / (1 + eps + delta), pi_old(o_i)),

with pi(o) the probability of the whole item, the product over its semantic-ID tokens (a sum of token
log-probs), and no KL term. The early clip bounds rho by 1 + eps + delta, so a negative advantage on an
item the old policy found unlikely cannot blow the gradient up (plain GRPO: rho = pi / pi_old,
unbounded). Everything works in log space: log pi'_old = max(log pi - log(1 + eps + delta), log pi_old).

Shape letters: u users, g group size (G), l semantic-ID levels, v vocabulary.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def token_log_probs(logits: jax.Array, tokens: jax.Array) -> jax.Array:
  """log p(o_j | o_<j) per level, in float32: logits [..., l, v], tokens [..., l] -> [..., l]."""
  logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  return jnp.take_along_axis(logp, tokens[..., None].astype(jnp.int32), axis=-1)[..., 0]


def sequence_log_prob(logits: jax.Array, tokens: jax.Array) -> jax.Array:
  """log pi(o) = sum over levels of the token log-probs: logits [..., l, v], tokens [..., l] -> [...]."""
  return token_log_probs(logits, tokens).sum(-1)


def group_advantages(rewards: jax.Array, mask: jax.Array | None = None, eps: float = 1e-6) -> jax.Array:
  """(r - mean) / std within each group (the last axis) over the `mask`ed-in samples; 0 where masked.

  A group whose rewards are all equal gets advantages 0 (nothing to prefer).
  """
  rewards = rewards.astype(jnp.float32)
  mask = jnp.ones_like(rewards, bool) if mask is None else mask.astype(bool)
  n = jnp.maximum(mask.sum(-1, keepdims=True), 1)
  mean = jnp.where(mask, rewards, 0).sum(-1, keepdims=True) / n
  var = jnp.where(mask, (rewards - mean) ** 2, 0).sum(-1, keepdims=True) / n
  return jnp.where(mask, (rewards - mean) / (jnp.sqrt(var) + eps), 0.0)


def ecpo_loss(
  logp: jax.Array,
  logp_old: jax.Array,
  advantages: jax.Array,
  *,
  eps: float = 0.2,
  delta: float = 0.1,
  mask: jax.Array | None = None,
  early_clip: bool = True,
) -> tuple[jax.Array, dict]:
  """-J of ECPO (early_clip=True) or of plain GRPO clipping (False), averaged over the masked samples.

  Args:
    logp: [u, g] log pi_theta(o_i | u) of the current policy (differentiated).
    logp_old: [u, g] log pi_old(o_i | u) of the policy that drew the samples (constants).
    advantages: [u, g] (group_advantages, or the format reward's).
    eps, delta: the clip range and the early clip's margin (delta = 0.1 in the report).
    mask: [u, g] bool samples that count (default all).

  Returns:
    (loss, metrics): 'ratio_max' the largest ratio, 'clipped_fraction' the share of samples whose
    clipped branch was taken.
  """
  logp_old = jax.lax.stop_gradient(logp_old.astype(jnp.float32))
  advantages = jax.lax.stop_gradient(advantages.astype(jnp.float32))
  logp = logp.astype(jnp.float32)
  if early_clip:
    logp_old = jnp.maximum(jax.lax.stop_gradient(logp) - jnp.log1p(eps + delta), logp_old)
  ratio = jnp.exp(logp - logp_old)
  unclipped = ratio * advantages
  clipped = jnp.clip(ratio, 1.0 - eps, 1.0 + eps) * advantages
  objective = jnp.minimum(unclipped, clipped)
  mask = jnp.ones_like(objective, bool) if mask is None else mask.astype(bool)
  n = jnp.maximum(mask.sum(), 1)
  loss = -jnp.where(mask, objective, 0.0).sum() / n
  metrics = {
    "ratio_max": jnp.where(mask, ratio, 0.0).max(),
    "clipped_fraction": jnp.where(mask, clipped < unclipped, False).sum() / n,
  }
  return loss, metrics


def format_reward(legal: jax.Array, num_samples: int, key: jax.Array) -> tuple[jax.Array, jax.Array]:
  """The format reward: of each user's g samples, `num_samples` (K) are drawn at random; the legal ones
  among them get advantage 1, the illegal ones are dropped.

  Args:
    legal: [u, g] bool, the sample maps to a real item.
    num_samples: K <= g.
    key: PRNG key of the draw.

  Returns:
    (advantages [u, g] float32: 1 on the chosen legal samples, else 0; mask [u, g] bool: those samples).
  """
  u, g = legal.shape
  if not 0 < num_samples <= g:
    raise ValueError(f"format reward: K={num_samples} must be in [1, g={g}]")
  noise = jax.random.uniform(key, (u, g))
  rank = jnp.argsort(jnp.argsort(noise, axis=-1), axis=-1)  # a random permutation rank per user
  chosen = (rank < num_samples) & legal
  return chosen.astype(jnp.float32), chosen
