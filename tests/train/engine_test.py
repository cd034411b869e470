"""The engine is model-family agnostic: a toy family (not OneRec, not SASRec) trains, logs, checkpoints,
resumes exactly and is evaluated with selection on valid, through the same `train_and_evaluate`."""

import json
import logging
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from onerec_jax.config import ExperimentConfig
from onerec_jax.evaluation.config import EvalConfig
from onerec_jax.train import families
from onerec_jax.train.checkpointing import restore_run
from onerec_jax.train.config import TrainConfig
from onerec_jax.train.trainer import evaluate_workdir, train_and_evaluate

N, D = 96, 4
_W = np.random.default_rng(0).normal(size=(D,))


class Killed(RuntimeError):
  pass


class ToyModel(nnx.Module):
  def __init__(self, rngs):
    self.w = nnx.Param(jnp.zeros((D,)))
    self.dropout = nnx.Dropout(0.1, rngs=rngs)  # RNG state in the model: resume must restore it

  def __call__(self, x):
    return self.dropout(x) @ self.w[...]


class ToyTask:
  """Linear regression y = x . w*: a family with no semantic IDs and no items at all."""

  family = "toy"
  num_examples = N
  example_unit = "points"
  router_bias_step = 0.0
  experts = (0, 0)
  compute_dtype = "float32"

  crash_at_call = 0  # > 0: the batch of that call (= that step, counting from 1) raises, like a killed run
  nan_from, nan_to = -1, -1  # steps (0-based) in [nan_from, nan_to) get a NaN loss, as a diverging run
  valid_peak = 0  # > 0: valid hr@1 peaks at this step (an over-fitting run), test still follows w*

  def __init__(self, config, workdir):
    self.config = config
    self.calls = 0
    rng = np.random.default_rng(1)
    self.x = rng.normal(size=(N, D)).astype(np.float32)
    self.y = (self.x @ _W).astype(np.float32)

  def build_model(self):
    return ToyModel(nnx.Rngs(params=0, dropout=1))

  def loss(self, model, batch, step):
    err = model(batch["x"]) - batch["y"]
    loss = jnp.mean(err**2)
    loss = jnp.where((step >= ToyTask.nan_from) & (step < ToyTask.nan_to), jnp.nan, loss)
    return loss, {"loss": loss}, {}

  def batch(self, indices):
    self.calls += 1
    if self.calls == ToyTask.crash_at_call:
      raise Killed(f"killed while building the batch of step {self.calls}")
    return {"x": self.x[indices], "y": self.y[indices]}

  def evaluate(self, graphdef, state, split):
    w = np.asarray(state.params["w"][...])
    err = float(np.linalg.norm(w - _W))
    if split == "valid" and ToyTask.valid_peak:
      err = abs(int(state.step) - ToyTask.valid_peak)
    return {"split": split, "num_users": N, "model": {"hr@1": 1.0 / (1.0 + err)}, "popularity": {"hr@1": 0.0}}

  def train_flops(self, batch_size):
    return 3 * 2 * batch_size * D  # forward x . w, times 3 for training

  def summary(self):
    return {"toy": True}


@pytest.fixture(autouse=True)
def toy_family():
  families.register("toy", ToyTask)
  yield
  families.unregister("toy")


def _config(num_steps):
  return ExperimentConfig(
    family="toy",
    train=TrainConfig(
      batch_size=16,
      num_steps=num_steps,
      learning_rate=0.1,
      warmup_steps=1,
      log_every=2,
      checkpoint_every=3,
      weight_decay=0.0,
      prefetch=1,
    ),
    eval=EvalConfig(ks=(1,), num_beams=1, eval_every=3, select_metric="hr@1"),
  )


def test_toy_family_learns_resumes_exactly_and_selects_on_valid(tmp_path):
  straight = train_and_evaluate(_config(12), str(tmp_path / "straight"))
  assert straight["train"]["family"] == "toy" and straight["train"]["toy"]
  assert straight["model"]["hr@1"] > 0.5  # it learned w* (hr@1 = 1 / (1 + |w - w*|))
  history = json.load(open(tmp_path / "straight" / "eval_history.json"))
  assert [h["step"] for h in history] == [3, 6, 9, 12]
  best = max(history, key=lambda h: h["valid"]["model"]["hr@1"])
  assert straight["selected"]["step"] == best["step"]
  assert os.listdir(tmp_path / "straight" / "tensorboard")
  # Killed while step 8 is being fed (last checkpoint: step 6), restarted with the same command: the
  # same final parameters, optimiser state and dropout RNG state as the uninterrupted run.
  ToyTask.crash_at_call = 8
  with pytest.raises(Killed):
    train_and_evaluate(_config(12), str(tmp_path / "resumed"))
  ToyTask.crash_at_call = 0
  resumed = train_and_evaluate(_config(12), str(tmp_path / "resumed"))
  assert resumed["train"]["resumed_from"] == 6
  _, _, _, a, _ = restore_run(str(tmp_path / "straight"))
  _, _, _, b, _ = restore_run(str(tmp_path / "resumed"))
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    x = jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x
    y = jax.random.key_data(y) if jax.dtypes.issubdtype(y.dtype, jax.dtypes.prng_key) else y
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_the_selected_step_is_kept_past_the_rolling_checkpoints_and_restores(tmp_path):
  """Valid peaks at step 6 of 12; with max_checkpoints=2 the rolling checkpoints end as 9 and 12, and
  workdir/selected_checkpoint holds step 6. A run killed after step 6's evaluation (its rolling
  checkpoints, 3 kept, still hold step 6) re-evaluates on resume and selects the same state, equal to that
  rolling step-6 checkpoint and to the first run's selected one."""
  ToyTask.valid_peak = 6
  try:
    config = _config(12)
    config.train.max_checkpoints = 2
    results = train_and_evaluate(config, str(tmp_path / "run"))
    assert results["selected"]["step"] == 6
    assert results["selected"]["checkpoint"] == str(tmp_path / "run" / "selected_checkpoint")
    assert sorted(int(s) for s in os.listdir(tmp_path / "run" / "checkpoints")) == [9, 12]
    assert os.listdir(tmp_path / "run" / "selected_checkpoint") == ["6"]
    _, _, _, picked, _ = restore_run(str(tmp_path / "run"), selected=True)
    assert int(picked.step) == 6
    with pytest.raises(ValueError, match="not both"):
      restore_run(str(tmp_path / "run"), step=12, selected=True)
    evaluated = evaluate_workdir(str(tmp_path / "run"), out=str(tmp_path / "sel.json"), selected=True)
    assert evaluated["checkpoint_step"] == 6  # experiments.evaluate --selected
    assert evaluate_workdir(str(tmp_path / "run"), out=str(tmp_path / "last.json"))["checkpoint_step"] == 12
    ToyTask.crash_at_call = 8
    with pytest.raises(Killed):
      train_and_evaluate(_config(12), str(tmp_path / "killed"))
    ToyTask.crash_at_call = 0
    assert train_and_evaluate(_config(12), str(tmp_path / "killed"))["selected"]["step"] == 6
    _, _, _, again, _ = restore_run(str(tmp_path / "killed"), selected=True)
    _, _, _, rolling_6, _ = restore_run(str(tmp_path / "killed"), step=6)
    for state in (picked, again):
      np.testing.assert_array_equal(np.asarray(state.params["w"][...]), np.asarray(rolling_6.params["w"][...]))
  finally:
    ToyTask.valid_peak = 0
  plain = _config(3)  # no select_metric: nothing is selected, and asking for it says why
  plain.eval.select_metric = ""
  train_and_evaluate(plain, str(tmp_path / "plain"))
  assert not os.path.exists(tmp_path / "plain" / "selected_checkpoint")
  with pytest.raises(FileNotFoundError, match="selected_checkpoint"):
    restore_run(str(tmp_path / "plain"), selected=True)


def test_unknown_family_is_named():
  with pytest.raises(ValueError, match="family='nope' is unknown"):
    ExperimentConfig(family="nope").validate()


def test_nonfinite_steps_are_skipped_and_counted(tmp_path):
  ToyTask.nan_from, ToyTask.nan_to = 4, 6
  try:
    result = train_and_evaluate(_config(12), str(tmp_path / "nan"))
  finally:
    ToyTask.nan_from = ToyTask.nan_to = -1
  assert result["train"]["nonfinite_steps_skipped"] == 2
  _, _, _, state, _ = restore_run(str(tmp_path / "nan"))
  assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(state.params))
  assert result["model"]["hr@1"] > 0.5  # it still learned


def test_a_skipped_step_changes_no_parameter_or_optimiser_state():
  from onerec_jax.train.optimizer import make_optimizer
  from onerec_jax.train.train_step import init_state, make_train_step

  task = ToyTask(None, None)
  tx = make_optimizer(_config(12).train)
  graphdef, state = init_state(task.build_model(), tx)
  step = jax.jit(make_train_step(graphdef, tx, task.loss))
  batch = task.batch(np.arange(16))
  state, _ = step(state, batch)
  ToyTask.nan_from, ToyTask.nan_to = 1, 2  # read when the step is traced: trace a new one
  try:
    after, metrics = jax.jit(make_train_step(graphdef, tx, task.loss))(state, batch)
  finally:
    ToyTask.nan_from = ToyTask.nan_to = -1
  assert int(after.step) == 2 and int(metrics["nonfinite_consecutive"]) == 1
  for x, y in zip(
    jax.tree.leaves((state.params, state.opt_state.inner_state)),
    jax.tree.leaves((after.params, after.opt_state.inner_state)),
  ):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_repeated_nonfinite_steps_stop_the_run_with_a_clear_error(tmp_path):
  config = _config(12)
  config.train.max_nonfinite_steps, config.train.log_every = 3, 1
  ToyTask.nan_from, ToyTask.nan_to = 2, 100
  try:
    with pytest.raises(FloatingPointError, match="3 consecutive steps up to step 5 had a non-finite"):
      train_and_evaluate(config, str(tmp_path / "diverged"))
  finally:
    ToyTask.nan_from = ToyTask.nan_to = -1


def test_resuming_under_another_state_defining_config_is_refused(tmp_path, caplog):
  workdir = str(tmp_path / "run")
  train_and_evaluate(_config(3), workdir)  # checkpoint at step 3
  changed = _config(6)
  changed.data.min_history = 7  # other training examples: another run
  changed.train.seed = 5
  with pytest.raises(ValueError, match=r"config.json: .*data.min_history: saved 3, now 7; train.seed: saved 0, now 5"):
    train_and_evaluate(changed, workdir)
  # The schedule's length, evaluation and paths may change: the run resumes and goes on.
  longer = _config(6)
  longer.eval.eval_every, longer.data.data_dir = 2, "/elsewhere"
  with caplog.at_level(logging.WARNING):
    assert train_and_evaluate(longer, workdir)["train"]["resumed_from"] == 3
  # ... but a cosine schedule of another length changes the rate at the checkpoint: that is said.
  assert any("the learning rate at step 3 was" in r.getMessage() for r in caplog.records)
