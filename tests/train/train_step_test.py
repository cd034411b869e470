"""Gradient accumulation: k micro-batches give the update of the whole batch (a mean loss, no dropout)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from onerec_jax.train.config import TrainConfig
from onerec_jax.train.optimizer import make_optimizer
from onerec_jax.train.train_step import init_state, make_train_step


class Linear(nnx.Module):
  def __init__(self):
    self.w = nnx.Param(jnp.asarray(np.random.default_rng(0).normal(size=(5, 3)), jnp.float32))

  def __call__(self, x):
    return jnp.tanh(x @ self.w[...])


def _loss(model, batch, step):
  loss = jnp.mean((model(batch["x"]) - batch["y"]) ** 2)
  return loss, {"loss": loss}, {}


def _run(accum_steps, steps=3):
  tx = make_optimizer(TrainConfig(num_steps=10, warmup_steps=1, learning_rate=0.05))
  graphdef, state = init_state(Linear(), tx)
  step = jax.jit(make_train_step(graphdef, tx, _loss, accum_steps=accum_steps))
  rng = np.random.default_rng(1)
  for _ in range(steps):
    batch = {"x": rng.normal(size=(12, 5)).astype(np.float32), "y": rng.normal(size=(12, 3)).astype(np.float32)}
    state, metrics = step(state, batch)
  return state, metrics


@pytest.mark.parametrize("k", [2, 3])
def test_accumulated_step_equals_the_whole_batch_step(k):
  whole, m1 = _run(1)
  accumulated, mk = _run(k)
  np.testing.assert_allclose(
    np.asarray(accumulated.params["w"][...]), np.asarray(whole.params["w"][...]), rtol=1e-5, atol=1e-6
  )
  np.testing.assert_allclose(float(mk["loss"]), float(m1["loss"]), rtol=1e-5)
  np.testing.assert_allclose(float(mk["grad_norm"]), float(m1["grad_norm"]), rtol=1e-5)


def test_a_batch_that_does_not_split_is_named():
  with pytest.raises(ValueError, match="grad_accum_steps=5 must be >= 1 and divide"):
    TrainConfig(batch_size=12, grad_accum_steps=5).validate()


@pytest.mark.parametrize(
  "kw, want",
  [
    ({"lr_schedule": "constant", "warmup_steps": 0}, [0.05, 0.05, 0.05, 0.05]),
    ({"lr_schedule": "constant", "warmup_steps": 2}, [0.0, 0.025, 0.05, 0.05]),
  ],
)
def test_constant_learning_rate_schedule(kw, want):
  from onerec_jax.train.optimizer import learning_rate_schedule

  schedule = learning_rate_schedule(TrainConfig(num_steps=10, learning_rate=0.05, **kw))
  np.testing.assert_allclose([float(schedule(s)) for s in (0, 1, 2, 9)], want, rtol=1e-6)
  cosine = learning_rate_schedule(TrainConfig(num_steps=10, learning_rate=0.05, warmup_steps=2))
  assert float(cosine(9)) < 0.05


def test_wsd_schedule_holds_the_peak_then_decays_and_extends():
  from onerec_jax.train.optimizer import learning_rate_schedule

  config = TrainConfig(num_steps=10, learning_rate=0.05, warmup_steps=2, lr_schedule="wsd", decay_steps=4)
  schedule = learning_rate_schedule(config)
  got = [float(schedule(s)) for s in (0, 1, 2, 5, 6, 8, 10, 12)]
  np.testing.assert_allclose(got, [0.0, 0.025, 0.05, 0.05, 0.05, 0.0275, 0.005, 0.005], rtol=1e-6)
  # A longer run's stable phase is the same schedule: resuming at step 5 with num_steps=20 continues it.
  longer = learning_rate_schedule(dataclasses.replace(config, num_steps=20))
  np.testing.assert_allclose([float(longer(s)) for s in range(6)], got[:2] + [0.05] * 4, rtol=1e-6)
  assert float(longer(14)) == pytest.approx(0.05) and float(longer(20)) == pytest.approx(0.005)


def test_a_resume_that_makes_the_learning_rate_jump_is_named():
  from onerec_jax.train.optimizer import learning_rate_jump

  wsd = TrainConfig(num_steps=10, learning_rate=0.05, warmup_steps=2, lr_schedule="wsd", decay_steps=4)
  longer = dataclasses.replace(wsd, num_steps=20)
  assert learning_rate_jump(wsd, wsd, 8) is None  # the same run resumed
  assert learning_rate_jump(wsd, longer, 6) is None  # extended from the stable phase (the decay starts at 6)
  # Extended from the decay phase: the rate goes back up from 0.0275 to the peak.
  message = learning_rate_jump(wsd, longer, 8)
  assert message and "at step 8 was 0.0275" in message and "is 0.05 now" in message and "num_steps=20" in message
  cosine = TrainConfig(num_steps=10, learning_rate=0.05, warmup_steps=2)
  assert learning_rate_jump(cosine, dataclasses.replace(cosine, num_steps=20), 1) is None  # in warm-up
  assert "lr_schedule='cosine'" in learning_rate_jump(cosine, dataclasses.replace(cosine, num_steps=20), 5)


def test_schedule_is_validated():
  with pytest.raises(ValueError, match="decay_steps <= num_steps - warmup_steps = 8, got 9"):
    TrainConfig(num_steps=10, warmup_steps=2, lr_schedule="wsd", decay_steps=9).validate()
  with pytest.raises(ValueError, match="needs 0 < train.decay_steps"):
    TrainConfig(num_steps=10, lr_schedule="wsd").validate()
  with pytest.raises(ValueError, match="decay_steps=5 is only read by lr_schedule='wsd'"):
    TrainConfig(num_steps=10, decay_steps=5).validate()
  with pytest.raises(ValueError, match="lr_schedule"):
    TrainConfig(lr_schedule="linear").validate()
  with pytest.raises(ValueError, match="warmup_steps"):
    TrainConfig(warmup_steps=-1).validate()
