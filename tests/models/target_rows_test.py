"""Decoding only the rows that hold targets (ModelConfig.target_capacity): the selection puts the valid
slots first in row order, a capacity that fits every target gives the loss and gradients of the full
decode, and targets past the capacity are dropped and counted."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from onerec_jax.input.batches import OneRecBatch, Pathway
from onerec_jax.models import flops
from onerec_jax.models.onerec import OneRec
from onerec_jax.models.target_rows import decoded_rows, num_decoded_rows
from onerec_jax.sharding.rules import make_mesh, mesh_context
from onerec_jax.train.onerec_task import onerec_loss
from tests.models.tiny_onerec import L, T, V, tiny_config

B, M = 3, 4


def test_decoded_rows_valid_first_in_row_order():
  mask = jnp.array([[True, False, True], [False, True, False]])
  rows, valid = decoded_rows(mask, 1.0)
  np.testing.assert_array_equal(rows, [0, 2, 4, 1, 3, 5])
  np.testing.assert_array_equal(valid, [True, True, True, False, False, False])
  rows, valid = decoded_rows(mask, 0.3)  # ceil(0.3 * 6) = 2 rows: the third target is dropped
  np.testing.assert_array_equal(rows, [0, 2])
  assert valid.all()
  assert num_decoded_rows(2, 3, 0.0) == 6 and num_decoded_rows(2, 3, 0.5) == 3 and num_decoded_rows(2, 3, 1e-6) == 1


def _config(capacity):
  return tiny_config(targets_per_window=M, target_capacity=capacity)


def _batch():
  rng = np.random.default_rng(0)
  items = rng.integers(0, 50, (B, T)).astype(np.int32)
  mask = np.array([[False, False, True, True], [False, True, True, True], [False, False, False, True]])
  items[0, :2] = -1
  items[2, :3] = -1
  short = Pathway(
    items=items,
    sids=rng.integers(0, V, (B, T, L)).astype(np.int32),
    category=rng.integers(0, 4, (B, T)).astype(np.int32),
    author=rng.integers(0, 6, (B, T)).astype(np.int32),
    feedback=rng.random((B, T, 2)).astype(np.float32),
  )
  return OneRecBatch(
    user_id=np.arange(B, dtype=np.int32),
    static=np.zeros((B, 1), np.int32),
    short=short,
    positive=None,
    lifelong=None,
    target_sid=rng.integers(0, V, (B, M, L)).astype(np.int32),
    target_mask=mask,
  )


@functools.cache
def _loss_and_grads(capacity):
  """(loss, metrics, parameter gradients) of `_batch()` at `capacity`, from the same initial parameters."""
  with mesh_context(make_mesh()):
    model = OneRec(_config(capacity), rngs=nnx.Rngs(0))
  batch = _batch()

  @nnx.jit
  def loss_and_grads(model):
    def loss_fn(model):
      loss, metrics, _ = onerec_loss(model, batch)
      return loss, metrics

    (loss, metrics), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
    return loss, metrics, nnx.state(grads, nnx.Param)

  return loss_and_grads(model)


@pytest.mark.parametrize("capacity", [1.0, 0.5])  # 6 targets in 12 slots: both fit every target
def test_capacity_that_fits_every_target_matches_the_full_decode(capacity):
  full_loss, full_metrics, full_grads = _loss_and_grads(0.0)
  loss, metrics, grads = _loss_and_grads(capacity)
  np.testing.assert_allclose(loss, full_loss, rtol=1e-5)
  np.testing.assert_allclose(metrics["item_accuracy"], full_metrics["item_accuracy"])
  assert metrics["dropped_targets"] == 0
  for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(full_grads)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_targets_past_the_capacity_are_dropped_and_counted():
  _, metrics, _ = _loss_and_grads(4 / 12)  # 4 rows for 6 targets
  assert metrics["dropped_targets"] == 2


def test_flops_count_the_decoded_rows_only():
  full = flops.onerec_forward_flops(_config(0.0), B)
  half = flops.onerec_forward_flops(_config(0.5), B)
  assert half["head"] * 2 == full["head"] and half["encoder"] == full["encoder"]


def test_capacity_needs_multi_target_training():
  with pytest.raises(ValueError, match="target_capacity needs multi-target"):
    dataclasses.replace(_config(0.5), targets_per_window=0).validate()
  with pytest.raises(ValueError, match=r"target_capacity must be in \[0, 1\]"):
    dataclasses.replace(_config(0.5), target_capacity=1.5).validate()
