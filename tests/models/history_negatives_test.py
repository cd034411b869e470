"""The history unlikelihood negatives (ModelConfig.history_negatives): each target's k most recent earlier
items, decoded in exactly the target's context, masked where they are padding or the target itself, and a
loss that pushes their probability down."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from onerec_jax.input.batches import OneRecBatch, Pathway
from onerec_jax.losses.ecpo import sequence_log_prob, token_log_probs
from onerec_jax.losses.history_pairwise import history_pairwise
from onerec_jax.losses.history_unlikelihood import history_unlikelihood, shared_prefix
from onerec_jax.models import flops
from onerec_jax.models.history_negatives import decoded_negatives, history_negative_sids
from onerec_jax.models.onerec import OneRec
from onerec_jax.sharding.rules import make_mesh, mesh_context
from onerec_jax.train.onerec_task import onerec_loss
from tests.models.tiny_onerec import L, T, V, tiny_config

B, M, K = 3, 4, 2


def _config(m=M, capacity=0.0, negatives=K):
  return tiny_config(targets_per_window=m, target_capacity=capacity, history_negatives=negatives)


def _batch(m=M, seed=0):
  rng = np.random.default_rng(seed)
  items = rng.integers(0, 50, (B, T)).astype(np.int32)
  items[0, :2] = -1  # row 0: a window of 4 items
  items[2, :3] = -1  # row 2: 3 items
  sids = rng.integers(0, V, (B, T, L)).astype(np.int32)
  short = Pathway(
    items=items,
    sids=sids,
    category=rng.integers(0, 4, (B, T)).astype(np.int32),
    author=rng.integers(0, 6, (B, T)).astype(np.int32),
    feedback=rng.random((B, T, 2)).astype(np.float32),
  )
  if not m:  # the report's design: one target after the whole window
    target_sid, mask = rng.integers(0, V, (B, L)).astype(np.int32), None
  else:
    target_sid = rng.integers(0, V, (B, m, L)).astype(np.int32)
    target_sid[1, 2] = sids[1, T - m + 2 - 1]  # row 1's target 2 repeats its second most recent item
    mask = np.array([[False, False, True, True], [False, True, True, True], [False, False, False, True]])[:, :m]
  return OneRecBatch(
    user_id=np.arange(B, dtype=np.int32),
    static=np.zeros((B, 1), np.int32),
    short=short,
    positive=None,
    lifelong=None,
    target_sid=target_sid,
    target_mask=mask,
  )


def test_negatives_are_the_items_before_each_target_most_recent_first():
  batch = _batch()
  sids, valid = history_negative_sids(batch, K)
  assert sids.shape == (B, M, K, L) and valid.shape == (B, M, K)
  for r in range(B):
    for i in range(M):
      for o in range(K):
        col = T - M + i - o  # target i's last input is column T - M + i
        np.testing.assert_array_equal(sids[r, i, o], batch.short.sids[r, col])
        expected = bool(batch.target_mask[r, i]) and batch.short.items[r, col] >= 0
        expected &= not np.array_equal(batch.short.sids[r, col], batch.target_sid[r, i])
        assert bool(valid[r, i, o]) == expected, (r, i, o)
  assert not valid[1, 2, 1]  # the repeat of the target is no negative
  assert not valid[0, 0].any()  # an unsupervised target has no negatives
  _, deep = history_negative_sids(batch, T)  # as far back as the window goes
  np.testing.assert_array_equal(deep[2, 3], [True, True, True, False, False, False])  # row 2: 3 items, then padding
  np.testing.assert_array_equal(deep[1, 1], [True, True, True, True, False, False])  # columns < 0: before the window


def test_one_target_batches_take_the_end_of_the_window():
  batch = _batch(m=0)
  sids, valid = history_negative_sids(batch, K)
  assert sids.shape == (B, 1, K, L)
  np.testing.assert_array_equal(sids[:, 0, 0], batch.short.sids[:, T - 1])
  np.testing.assert_array_equal(sids[:, 0, 1], batch.short.sids[:, T - 2])


def _model(config):
  with mesh_context(make_mesh()):
    return OneRec(config, rngs=nnx.Rngs(0))


def _fit_history_term(config, steps=10):
  """Metrics of onerec_loss before and after `steps` Adam steps on the history term alone (the joint loss
  less the next-token loss)."""
  batch, model = _batch(), _model(config)
  with mesh_context(make_mesh()):
    opt = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)

  def term(model):
    _, metrics, _ = onerec_loss(model, batch)
    return metrics["loss"] - metrics["next_token_loss"]

  @nnx.jit
  def step(model, opt):
    opt.update(model, nnx.grad(term)(model))

  before = onerec_loss(model, batch)[1]
  for _ in range(steps):
    step(model, opt)
  return before, onerec_loss(model, batch)[1]


@pytest.mark.parametrize("m,capacity", [(M, 0.0), (M, 0.75), (0, 0.0)])
def test_each_negative_row_is_decoded_in_its_targets_context(m, capacity):
  """Block o of the negative rows equals decoding, with history_negatives off, a batch whose targets are
  the o-th negatives: same context, same cross-attention limit, same rows."""
  batch = _batch(m)
  with_negatives, plain = _model(_config(m, capacity)), _model(_config(m, capacity, negatives=0))
  logits = np.asarray(with_negatives(batch)[0])
  targets = np.asarray(plain(batch)[0])
  n = targets.shape[0]
  assert logits.shape == ((1 + K) * n, L, V)
  np.testing.assert_allclose(logits[:n], targets, atol=1e-5, rtol=1e-5)
  sids, _ = history_negative_sids(batch, K)
  negatives, valid = decoded_negatives(batch, K, capacity)
  assert negatives.shape == (K * n, L) and valid.shape == (K * n,)
  for o in range(K):
    as_targets = np.asarray(sids[:, :, o]) if m else np.asarray(sids[:, 0, o])
    expected = np.asarray(plain(batch.replace(target_sid=as_targets))[0])
    np.testing.assert_allclose(logits[(1 + o) * n : (2 + o) * n], expected, atol=1e-5, rtol=1e-5)


def test_unlikelihood_is_minus_log_one_minus_p_over_valid_negatives():
  rng = np.random.default_rng(0)
  logits = jnp.asarray(rng.normal(size=(4, L, V)) * 3, jnp.float32)
  sids = jnp.asarray(rng.integers(0, V, (4, L)), jnp.int32).at[0].set(jnp.argmax(logits[0], -1))  # row 0: likely
  valid = jnp.array([True, False, True, True])
  loss, metrics = history_unlikelihood(logits, sids, valid)
  p = np.exp(np.asarray(sequence_log_prob(logits, sids)))
  assert p[0] > 0.2
  np.testing.assert_allclose(loss, np.mean(-np.log1p(-p[[0, 2, 3]])), rtol=1e-4)
  np.testing.assert_allclose(metrics["history_item_prob"], p[[0, 2, 3]].mean(), rtol=1e-5)
  none, _ = history_unlikelihood(logits, sids, jnp.zeros(4, bool))
  assert float(none) == 0.0


def test_no_gradient_through_the_levels_a_negative_shares_with_its_target():
  """Where the negative and its target share a prefix, their logits there are the same logits: the loss
  keeps its value, but the gradient flows only from the first level where the negative leaves the target."""
  rng = np.random.default_rng(1)
  logits = jnp.asarray(rng.normal(size=(3, L, V)), jnp.float32)
  sids = jnp.array([[1, 2, 3], [1, 2, 3], [4, 5, 6]], jnp.int32)
  targets = jnp.array([[1, 2, 0], [0, 2, 3], [4, 5, 6]], jnp.int32)  # shares 2 levels, 0 (level 2 only), all 3
  valid = jnp.ones(3, bool)
  np.testing.assert_array_equal(
    shared_prefix(sids, targets), [[True, True, False], [False, False, False], [True, True, True]]
  )
  plain, _ = history_unlikelihood(logits, sids, valid)
  loss, metrics = history_unlikelihood(logits, sids, valid, targets)
  np.testing.assert_allclose(loss, plain, rtol=1e-6)
  np.testing.assert_allclose(metrics["history_shared_levels"], (2 + 0 + 3) / 3, rtol=1e-6)
  grad = jax.grad(lambda x: history_unlikelihood(x, sids, valid, targets)[0])(logits)
  norms = np.abs(np.asarray(grad)).sum(-1)  # [n, l]
  assert norms[0, 0] == norms[0, 1] == 0 and norms[0, 2] > 0
  assert (norms[1] > 0).all()
  assert (norms[2] == 0).all()


def test_the_unlikelihood_gradient_pushes_the_history_items_down():
  """Ten Adam steps on the unlikelihood term alone (the joint loss less the next-token loss) halve the
  negatives' mean probability: the gradient reaches the parameters through the negative rows, downhill."""
  before, after = _fit_history_term(_config(capacity=0.75))
  assert after["history_item_prob"] < 0.5 * before["history_item_prob"], (before, after)


def test_flops_count_the_negative_rows():
  plain = flops.onerec_forward_flops(_config(negatives=0), B)
  more = flops.onerec_forward_flops(_config(), B)
  assert more["head"] == (1 + K) * plain["head"] and more["encoder"] == plain["encoder"]


def test_config_bounds():
  config = dataclasses.replace(_config(), history_negatives=T + 1)
  with pytest.raises(ValueError, match="model.history_negatives"):
    config.validate()
  with pytest.raises(ValueError, match="history_unlikelihood_weight must be > 0"):
    dataclasses.replace(_config(), history_unlikelihood_weight=0.0).validate()
  with pytest.raises(ValueError, match="weighs nothing: the history unlikelihood is off"):
    dataclasses.replace(_config(negatives=0), history_unlikelihood_weight=3.0).validate()


def test_the_loss_weighs_the_term():
  batch = _batch()
  _, metrics, _ = onerec_loss(_model(dataclasses.replace(_config(), history_unlikelihood_weight=3.0)), batch)
  assert metrics["history_unlikelihood"] > 0
  np.testing.assert_allclose(
    metrics["loss"], metrics["next_token_loss"] + 3.0 * metrics["history_unlikelihood"], rtol=1e-6
  )


def test_pairwise_is_minus_log_sigmoid_of_the_log_prob_gap_from_the_first_divergent_level():
  rng = np.random.default_rng(2)
  neg_logits = jnp.asarray(rng.normal(size=(3, L, V)) * 2, jnp.float32)
  tgt_logits = jnp.asarray(rng.normal(size=(3, L, V)) * 2, jnp.float32)
  sids = jnp.array([[1, 2, 3], [4, 5, 6], [7, 0, 1]], jnp.int32)
  targets = jnp.array([[1, 0, 3], [0, 5, 6], [7, 1, 2]], jnp.int32)  # shares 1, 0, 1 levels
  valid = jnp.array([True, True, False])
  loss, metrics = history_pairwise(neg_logits, sids, valid, token_log_probs(tgt_logits, targets), targets)
  t = np.asarray(token_log_probs(tgt_logits, targets))
  o = np.asarray(token_log_probs(neg_logits, sids))
  margins = np.array([(t[0, 1:] - o[0, 1:]).sum(), (t[1] - o[1]).sum()])
  np.testing.assert_allclose(loss, np.mean(np.log1p(np.exp(-margins))), rtol=1e-5)
  np.testing.assert_allclose(metrics["history_above_target"], np.mean(margins < 0), rtol=1e-6)
  np.testing.assert_allclose(metrics["history_shared_levels"], 0.5, rtol=1e-6)
  none, _ = history_pairwise(neg_logits, sids, jnp.zeros(3, bool), token_log_probs(tgt_logits, targets), targets)
  assert float(none) == 0.0
  # The shared level carries no gradient on either side; the divergent ones do, on both.
  grads = jax.grad(
    lambda a, b: history_pairwise(a, sids, valid, token_log_probs(b, targets), targets)[0], argnums=(0, 1)
  )(neg_logits, tgt_logits)
  for g in grads:
    norms = np.abs(np.asarray(g)).sum(-1)
    assert norms[0, 0] == 0 and (norms[0, 1:] > 0).all() and (norms[1] > 0).all() and (norms[2] == 0).all()


def test_the_pairwise_term_ranks_the_targets_above_the_history_items():
  """Ten Adam steps on the pairwise term alone (through the model) lower the term: the targets' rows and
  the negatives' rows are the same decoder's, each pair in its target's context."""
  before, after = _fit_history_term(dataclasses.replace(_config(capacity=0.75), history_loss="pairwise"))
  np.testing.assert_allclose(before["loss"] - before["next_token_loss"], before["history_pairwise"], rtol=1e-5)
  assert after["history_pairwise"] < 0.5 * before["history_pairwise"], (before, after)
  assert after["history_above_target"] <= before["history_above_target"]


def test_history_loss_config():
  with pytest.raises(ValueError, match="model.history_loss must be"):
    dataclasses.replace(_config(), history_loss="hinge").validate()
  with pytest.raises(ValueError, match="has no pairs"):
    dataclasses.replace(_config(negatives=0), history_loss="pairwise").validate()
