"""`train_and_evaluate(config, workdir)`: the whole OneRec chain for one experiment.

data -> RQ-Kmeans semantic IDs -> encoder-decoder trained by next-token prediction (Orbax checkpoints,
exact resume, TensorBoard, progress with steps/s and ETA) -> constrained beam search -> metrics beside
baselines, written to workdir/metrics.json. Importable from a notebook; the absl entry point
`experiments/train.py` only parses flags and calls this.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from onerec_jax.config import ExperimentConfig
from onerec_jax.config_overrides import apply_overrides, from_dict, to_dict
from onerec_jax.evaluation.evaluator import evaluate_run
from onerec_jax.input.features import TrainBatches
from onerec_jax.input import windows
from onerec_jax.input.sequences import Examples, leave_one_out
from onerec_jax.sharding.rules import make_mesh, mesh_context
from onerec_jax.train import checkpointing
from onerec_jax.train.assembly import RunData, build_model, prepare
from onerec_jax.train.optimizer import learning_rate_schedule, make_optimizer
from onerec_jax.train.train_step import init_state, make_train_step

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
BATCH_AXES = ("data", "fsdp", "expert")


def save_config(config: ExperimentConfig, workdir: str) -> None:
  if jax.process_index() == 0:
    with open(os.path.join(workdir, CONFIG_FILE), "w") as f:
      json.dump(to_dict(config), f, indent=1)


def load_config(workdir: str) -> ExperimentConfig:
  """The config a run in `workdir` was started with."""
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path} not found: is {workdir!r} the workdir of a training run?")
  with open(path) as f:
    return from_dict(ExperimentConfig, json.load(f))


def shard_batch(batch: dict, mesh) -> dict:
  """Host batch (this process's rows) -> global arrays split over the batch mesh axes."""
  sharding = lambda x: NamedSharding(mesh, PartitionSpec(BATCH_AXES, *([None] * (x.ndim - 1))))
  return {k: jax.make_array_from_process_local_data(sharding(v), v) for k, v in batch.items()}


class _Summaries:
  """TensorBoard scalars (tensorboardX), written by process 0 only."""

  def __init__(self, logdir: str):
    self.writer = None
    if jax.process_index() == 0:
      from tensorboardX import SummaryWriter
      self.writer = SummaryWriter(logdir)

  def scalars(self, step: int, values: dict) -> None:
    if self.writer:
      for k, v in values.items():
        self.writer.add_scalar(k, float(v), step)
      self.writer.flush()

  def close(self):
    if self.writer:
      self.writer.close()


def build_state(run: RunData, config: ExperimentConfig, mesh):
  """(graphdef, fresh TrainState, optimizer) on `mesh` (call inside mesh_context)."""
  model = build_model(run.model_config, config.train.seed)
  tx = make_optimizer(config.train)
  graphdef, state = init_state(model, tx)
  return graphdef, state, tx


def restore_run(workdir: str, step: int | None = None):
  """Loads a trained run: (config, RunData, graphdef, TrainState, mesh). For evaluation and notebooks."""
  config = load_config(workdir)
  run = prepare(config, workdir)
  mesh = make_mesh(config.train.mesh_shape)
  with mesh_context(mesh, config.train.sharding_rules):
    graphdef, state, _ = build_state(run, config, mesh)
    manager = checkpointing.make_manager(workdir, config.train.max_checkpoints)
    state = checkpointing.restore(manager, state, step)
    manager.close()
  return config, run, graphdef, state, mesh


def evaluate_workdir(workdir: str, experiment: str | None = None, overrides=(), step: int | None = None) -> dict:
  """Evaluates a run's checkpoint (latest by default) and writes workdir/metrics.json."""
  config, run, graphdef, state, mesh = restore_run(workdir, step)
  if experiment and config.name and experiment != config.name:
    raise ValueError(f"{workdir} was trained as {config.name!r}, not {experiment!r}")
  apply_overrides(config, overrides)
  config.validate()
  with mesh_context(mesh, config.train.sharding_rules):
    results = evaluate_run(run, graphdef, state, config.eval)
  results["checkpoint_step"] = int(state.step)
  with open(os.path.join(workdir, METRICS_FILE), "w") as f:
    json.dump(results, f, indent=1, default=float)
  return results


def train_and_evaluate(config: ExperimentConfig, workdir: str) -> dict:
  """Trains (resuming from workdir's latest checkpoint if any), evaluates, writes metrics.json.

  Returns:
    The evaluation results (see onerec_jax.evaluation.evaluator.evaluate_run) plus 'train'.
  """
  config.validate()
  os.makedirs(workdir, exist_ok=True)
  save_config(config, workdir)
  tc = config.train
  run = prepare(config, workdir)
  mesh = make_mesh(tc.mesh_shape)
  logging.info("mesh %s; model %s", dict(mesh.shape), dataclasses.asdict(run.model_config))
  with mesh_context(mesh, tc.sharding_rules):
    graphdef, state, tx = build_state(run, config, mesh)
    num_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state.params))
    logging.info("parameters: %d (%.2fM)", num_params, num_params / 1e6)
    manager = checkpointing.make_manager(workdir, tc.max_checkpoints)
    if manager.latest_step() is not None:
      state = checkpointing.restore(manager, state)
      logging.info("resumed from checkpoint at step %d", int(state.step))
    state_shardings = jax.tree.map(lambda x: x.sharding, state)
    step_fn = jax.jit(
        make_train_step(graphdef, tx, loss_reduction=tc.loss_reduction,
                        router_bias_step=run.model_config.router_bias_step if run.model_config.num_experts else 0.0),
        out_shardings=(state_shardings, None), donate_argnums=(0,))
    m = run.model_config.targets_per_window
    examples = training_examples(run, config)
    batches = TrainBatches(run.builder, examples, tc.batch_size, tc.seed)
    num_proc, proc = jax.process_count(), jax.process_index()
    if tc.batch_size % num_proc:
      raise ValueError(f"train.batch_size={tc.batch_size} is not divisible by {num_proc} processes")
    local = tc.batch_size // num_proc
    summaries = _Summaries(os.path.join(workdir, "tensorboard"))
    first = int(state.step)
    logging.info("training steps %d..%d on %d %s (%.1f epochs)", first, tc.num_steps, len(examples),
                 f"windows of {m} targets" if m else "examples", tc.num_steps / batches.steps_per_epoch)
    t0 = time.time()
    last_time, last_step, metrics = t0, first, None
    for step in range(first, tc.num_steps):
      indices = batches.indices(step)[proc * local:(proc + 1) * local]
      if m:
        batch = run.builder.window_batch(examples.user_rows[indices], examples.target_pos[indices], m,
                                         config.data.min_history)
      else:
        batch = run.builder.batch(examples, indices)
      batch.pop("target_item")
      state, metrics = step_fn(state, shard_batch(batch, mesh))
      done = step + 1
      if done % tc.log_every == 0 or done == tc.num_steps:
        values = {k: float(v) for k, v in jax.device_get(metrics).items()}
        now = time.time()
        steps_per_s = (done - last_step) / max(now - last_time, 1e-9)
        eta = (tc.num_steps - done) / max(steps_per_s, 1e-9)
        values.update(steps_per_second=steps_per_s, examples_per_second=steps_per_s * tc.batch_size,
                      learning_rate=float(learning_rate_schedule(tc)(done)))
        logging.info("step %d/%d loss %.4f item_acc %.3f | %.2f steps/s %.0f examples/s | ETA %s",
                     done, tc.num_steps, values["loss"], values["item_accuracy"], steps_per_s,
                     values["examples_per_second"], _hms(eta))
        summaries.scalars(done, {f"train/{k}": v for k, v in values.items()})
        last_time, last_step = now, done
      if done % tc.checkpoint_every == 0 or done == tc.num_steps:
        checkpointing.save(manager, done, state)
    manager.wait_until_finished()
    manager.close()
    train_seconds = time.time() - t0
    results = evaluate_run(run, graphdef, state, config.eval)
  results["train"] = {"steps": tc.num_steps, "resumed_from": first, "seconds_this_run": train_seconds,
                      "parameters": num_params, "tokenizer": run.tokenizer_metrics}
  summaries.scalars(tc.num_steps, {f"eval/{k}": v for k, v in results["model"].items()})
  summaries.close()
  if jax.process_index() == 0:
    with open(os.path.join(workdir, METRICS_FILE), "w") as f:
      json.dump(results, f, indent=1, default=float)
  return results


def training_examples(run: RunData, config: ExperimentConfig) -> Examples:
  """The training examples: one per target (the report's design), or one per window of m targets.

  With targets_per_window = m the windows tile each user's training targets (positions min_history ..
  len - 3) from the end in steps of m, so every target is supervised exactly once per epoch.
  """
  m = run.model_config.targets_per_window
  if not m:
    return leave_one_out(run.data, "train", config.data.min_history)
  rows, ends = windows.train_windows(run.data, run.model_config.short_len, m, config.data.min_history)
  return Examples(rows, ends)


def _hms(seconds: float) -> str:
  seconds = int(seconds)
  return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
