"""ECPO's objective and gradient on hand-computed cases, advantages, the format reward."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from onerec_jax.losses.ecpo import ecpo_loss, format_reward, group_advantages, sequence_log_prob

EPS, DELTA = 0.2, 0.1


def _grad(logp, logp_old, adv, **kw):
  return jax.grad(lambda x: ecpo_loss(x, logp_old, adv, eps=EPS, delta=DELTA, **kw)[0])(logp)


def test_negative_advantage_with_a_large_ratio_is_bounded_by_the_early_clip():
  # pi_old = 0.01, pi = 0.5 (ratio 50), A = -1. GRPO: J = min(50 * -1, 1.2 * -1) = -50, dJ/dlogpi = -50.
  # ECPO: pi'_old = max(0.5 / 1.3, 0.01) = 0.3846, rho = 1.3, J = min(-1.3, -1.2) = -1.3 and, as pi'_old
  # holds stopgrad(pi), dJ/dlogpi = rho * A = -1.3. The loss is -J.
  logp, logp_old, adv = jnp.log(jnp.array([[0.5]])), jnp.log(jnp.array([[0.01]])), jnp.array([[-1.0]])
  loss, metrics = ecpo_loss(logp, logp_old, adv, eps=EPS, delta=DELTA)
  assert float(loss) == pytest.approx(1.3, rel=1e-5) and float(metrics["ratio_max"]) == pytest.approx(1.3)
  assert float(_grad(logp, logp_old, adv)[0, 0]) == pytest.approx(1.3, rel=1e-5)
  grpo_loss, _ = ecpo_loss(logp, logp_old, adv, eps=EPS, delta=DELTA, early_clip=False)
  assert float(grpo_loss) == pytest.approx(50.0, rel=1e-5)
  assert float(_grad(logp, logp_old, adv, early_clip=False)[0, 0]) == pytest.approx(50.0, rel=1e-5)


def test_positive_advantage_is_clipped_as_in_ppo_and_small_ratios_pass_through():
  # A = +2, rho = 0.5 / 0.25 = 2 (early clip: pi'_old = max(0.5/1.3, 0.25) = 0.3846, rho = 1.3): both take
  # the clipped branch 1.2 * 2 = 2.4, gradient 0. Near rho = 1 (pi = pi_old = 0.3), J = rho * A, dJ = A.
  logp = jnp.log(jnp.array([[0.5, 0.3]]))
  logp_old = jnp.log(jnp.array([[0.25, 0.3]]))
  adv = jnp.array([[2.0, -0.5]])
  loss, metrics = ecpo_loss(logp, logp_old, adv, eps=EPS, delta=DELTA)
  assert float(loss) == pytest.approx(-(2.4 + -0.5) / 2, rel=1e-5)
  np.testing.assert_allclose(np.asarray(_grad(logp, logp_old, adv))[0], [0.0, 0.5 / 2], rtol=1e-5)
  assert float(metrics["clipped_fraction"]) == pytest.approx(0.5)


def test_mask_drops_samples():
  logp = jnp.log(jnp.array([[0.5, 0.3]]))
  loss, _ = ecpo_loss(logp, logp, jnp.array([[1.0, 100.0]]), mask=jnp.array([[True, False]]))
  assert float(loss) == pytest.approx(-1.0)


def test_group_advantages():
  adv = np.asarray(group_advantages(jnp.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])))
  np.testing.assert_allclose(adv[0], np.array([-1.0, 0.0, 1.0]) / np.sqrt(2 / 3), rtol=1e-5)
  np.testing.assert_allclose(adv[1], 0.0)
  masked = np.asarray(group_advantages(jnp.array([[1.0, 3.0, 100.0]]), jnp.array([[True, True, False]])))
  np.testing.assert_allclose(masked[0], [-1.0, 1.0, 0.0], rtol=1e-5)


def test_sequence_log_prob_is_the_sum_over_levels():
  logits = jnp.log(jnp.array([[[0.5, 0.5], [0.2, 0.8]]]))  # [1, l=2, v=2]
  assert float(sequence_log_prob(logits, jnp.array([[1, 1]]))[0]) == pytest.approx(np.log(0.5 * 0.8))


def test_format_reward_draws_k_and_drops_illegal():
  legal = jnp.array([[True, False, True, True, False, True]] * 50)
  adv, mask = format_reward(legal, 3, jax.random.key(0))
  adv, mask, legal = np.asarray(adv), np.asarray(mask), np.asarray(legal)
  assert (mask <= legal).all() and (adv == mask).all()
  assert (mask.sum(-1) <= 3).all() and mask.sum() > 0
  # Each user draws 3 of 6 at random: some draws hit illegal samples and hold fewer than 3.
  assert (mask.sum(-1) < 3).any()
  with pytest.raises(ValueError, match="K=7"):
    format_reward(jnp.asarray(legal), 7, jax.random.key(0))
