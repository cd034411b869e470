"""The parameter average: its arithmetic, its place in the optimiser, and that the engine evaluates it."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from onerec_jax.train import families
from onerec_jax.train.checkpointing import restore_run
from onerec_jax.train.optimizer import make_optimizer
from onerec_jax.train.param_ema import ParamEmaState, evaluation_state, find_ema, param_ema
from onerec_jax.train.config import TrainConfig
from onerec_jax.train.train_step import TrainState
from onerec_jax.train.trainer import train_and_evaluate
from tests.train.engine_test import ToyTask, _config


def test_average_follows_the_warmed_up_decay():
  tx = param_ema(0.9)
  params = {"w": jnp.array([1.0, -2.0])}
  state = tx.init(params)
  expected = np.array([1.0, -2.0])
  for t in range(30):
    updates = {"w": jnp.array([0.5, 0.1]) * (t + 1)}
    out, state = tx.update(updates, state, params)
    np.testing.assert_array_equal(out["w"], updates["w"])  # the updates pass through
    params = optax.apply_updates(params, updates)
    d = min(0.9, (1 + t) / (10 + t))
    expected = d * expected + (1 - d) * np.asarray(params["w"])
  np.testing.assert_allclose(state.ema["w"], expected, rtol=1e-6)
  assert int(state.count) == 30


def test_bad_decay_and_missing_params_are_named():
  with pytest.raises(ValueError, match=r"decay must be in \[0, 1\)"):
    param_ema(1.0)
  tx = param_ema(0.5)
  with pytest.raises(ValueError, match="needs the parameters"):
    tx.update({"w": jnp.ones(2)}, tx.init({"w": jnp.ones(2)}))
  with pytest.raises(ValueError, match="train.ema_decay"):
    TrainConfig(ema_decay=-0.1).validate()


def test_optimizer_keeps_the_average_only_when_asked_and_skips_nonfinite_steps():
  params = {"w": jnp.ones((2, 2))}
  assert find_ema(make_optimizer(TrainConfig()).init(params)) is None
  tx = make_optimizer(TrainConfig(ema_decay=0.99, warmup_steps=1, learning_rate=0.1))
  opt_state = tx.init(params)
  _, opt_state = tx.update({"w": jnp.ones((2, 2))}, opt_state, params)
  before = find_ema(opt_state)
  assert isinstance(before, ParamEmaState) and int(before.count) == 1
  _, opt_state = tx.update({"w": jnp.full((2, 2), jnp.nan)}, opt_state, params)
  after = find_ema(opt_state)
  assert int(after.count) == 1  # the non-finite step changed nothing
  np.testing.assert_array_equal(after.ema["w"], before.ema["w"])
  state = TrainState(jnp.zeros((), jnp.int32), params, {}, opt_state)
  np.testing.assert_array_equal(evaluation_state(state).params["w"], after.ema["w"])


@pytest.fixture()
def toy_family():
  families.register("toy", ToyTask)
  yield
  families.unregister("toy")


def test_engine_evaluates_the_average(tmp_path, toy_family):
  config = _config(12)
  config.train.ema_decay = 0.8
  results = train_and_evaluate(config, str(tmp_path))
  _, task, graphdef, raw, _ = restore_run(str(tmp_path), averaged=False)
  _, _, _, averaged, _ = restore_run(str(tmp_path))
  ema = find_ema(raw.opt_state).ema
  np.testing.assert_array_equal(averaged.params["w"][...], ema["w"][...])
  assert not np.array_equal(np.asarray(raw.params["w"][...]), np.asarray(ema["w"][...]))
  # The run's own final evaluation is that of the average, not of the raw parameters.
  assert results["model"] == task.evaluate(graphdef, averaged, "test")["model"]
  assert results["model"] != task.evaluate(graphdef, raw, "test")["model"]
  assert jax.tree.structure(raw.params) == jax.tree.structure(averaged.params)
