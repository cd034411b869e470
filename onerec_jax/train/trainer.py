"""`train_and_evaluate(config, workdir)`: the one training engine, for every model family.

config.family picks a Task (onerec_jax.train.families: OneRec, SASRec); the engine gives every family
the same machinery: the device mesh and logical-axis sharding rules, AdamW, a jitted train step with
named shardings and donated state, the grain input pipeline (batch s is a pure function of (seed, s)),
Orbax checkpoints with exact resume, progress logs (loss, steps/s, examples/s, ETA), TensorBoard,
evaluation every `eval.eval_every` steps on valid and test with the reported step picked on valid (its
state kept in workdir/selected_checkpoint, past the rolling checkpoints), and
multi-host through jax.distributed (each process feeds its rows of the global batch). Importable from a
notebook; the absl entry point `experiments/train.py` only parses flags and calls this.
"""

from __future__ import annotations

import json
import logging
import os
import time

import jax
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec

from onerec_jax.config import ExperimentConfig
from onerec_jax.config_overrides import apply_overrides
from onerec_jax.input import pipeline
from onerec_jax.models.parameter_count import count_parameters
from onerec_jax.sharding.rules import make_mesh, mesh_context
from onerec_jax.train import checkpointing
from onerec_jax.train.checkpointing import build_state, restore_run, save_config
from onerec_jax.train.param_ema import evaluation_state
from onerec_jax.train.families import make_task
from onerec_jax.train.optimizer import learning_rate_schedule
from onerec_jax.train.peak import measure_matmul_peak, mfu
from onerec_jax.train.summaries import Summaries
from onerec_jax.train.train_step import make_train_step

METRICS_FILE = "metrics.json"
HISTORY_FILE = "eval_history.json"
BATCH_AXES = ("data", "fsdp", "expert")


def shard_batch(batch, mesh):
  """Host batch (this process's rows; any pytree of arrays) -> global arrays split over the batch axes."""
  sharding = lambda x: NamedSharding(mesh, PartitionSpec(BATCH_AXES, *([None] * (x.ndim - 1))))
  return jax.tree.map(lambda v: jax.make_array_from_process_local_data(sharding(v), np.asarray(v)), batch)


def evaluate_workdir(
  workdir: str,
  experiment: str | None = None,
  overrides=(),
  step: int | None = None,
  out: str | None = None,
  selected: bool = False,
) -> dict:
  """Evaluates a run's checkpoint (latest by default; with `selected`, the step eval.select_metric
  picked on valid) on eval.split; writes `out` (default workdir/metrics.json)."""
  config, task, graphdef, state, mesh = restore_run(workdir, step, selected=selected)
  if experiment and config.name and experiment != config.name:
    raise ValueError(f"{workdir} was trained as {config.name!r}, not {experiment!r}")
  apply_overrides(config, overrides)
  config.validate()
  task.config = config
  with mesh_context(mesh, config.train.sharding_rules):
    results = task.evaluate(graphdef, state, config.eval.split)
  results["checkpoint_step"] = int(state.step)
  results["evaluated"] = {"workdir": os.path.abspath(workdir), "overrides": list(overrides)}
  if out and os.path.dirname(out):
    os.makedirs(os.path.dirname(out), exist_ok=True)
  _write_json(out or os.path.join(workdir, METRICS_FILE), results)
  return results


def _write_json(path: str, value) -> None:
  if jax.process_index() == 0:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
      json.dump(value, f, indent=1, default=float)
    os.replace(tmp, path)


def select(history: list[dict], metric: str) -> dict:
  """The evaluation entry reported: best `metric` on valid (earliest on ties), or the last if no metric."""
  if not metric:
    return history[-1]
  return max(history, key=lambda h: (h["valid"]["model"][metric], -h["step"]))


def train_and_evaluate(config: ExperimentConfig, workdir: str) -> dict:
  """Trains (resuming from workdir's latest checkpoint if any), evaluates, writes metrics.json.

  Returns:
    The final evaluation of eval.split (the family's `Task.evaluate` dict: 'model', 'popularity', ...)
    plus 'train' (steps, seconds, parameters, the task's summary) and, with eval.eval_every > 0,
    'selected': the {'step', 'valid', 'test'} entry picked by eval.select_metric on valid.
  """
  config.validate()
  os.makedirs(workdir, exist_ok=True)
  checkpointing.check_resumable(workdir, config)
  save_config(config, workdir)
  tc, ec = config.train, config.eval
  task = make_task(config, workdir)
  mesh = make_mesh(tc.mesh_shape)
  logging.info("family %s; mesh %s", config.family, dict(mesh.shape))
  with mesh_context(mesh, tc.sharding_rules):
    graphdef, state, tx = build_state(task, config)
    counts = count_parameters(state.params, *task.experts)
    logging.info(
      "parameters: %d (%.2fM); non-embedding %d, activated non-embedding %d",
      counts["total"],
      counts["total"] / 1e6,
      counts["non_embedding"],
      counts["activated_non_embedding"],
    )
    manager = checkpointing.make_manager(workdir, tc.max_checkpoints)
    if manager.latest_step() is not None:
      state = checkpointing.restore(manager, state)
      logging.info("resumed from checkpoint at step %d", int(state.step))
    selected_manager = None
    if ec.eval_every and ec.select_metric:  # the picked step's state, kept past max_checkpoints
      selected_manager = checkpointing.make_manager(workdir, 1, checkpointing.SELECTED_DIR)
      checkpointing.drop_steps_after(selected_manager, int(state.step))
    state_shardings = jax.tree.map(lambda x: x.sharding, state)
    if hasattr(task, "make_train_step"):  # a family with its own step (ECPO: rollouts, several updates)
      step = task.make_train_step(graphdef, tx)
    else:
      step = make_train_step(
        graphdef, tx, task.loss, router_bias_step=task.router_bias_step, accum_steps=tc.grad_accum_steps
      )
    step_fn = jax.jit(step, out_shardings=(state_shardings, None), donate_argnums=(0,))
    dataset = pipeline.step_dataset(task.num_examples, tc.batch_size, tc.seed, task.batch)
    per_epoch = pipeline.steps_per_epoch(task.num_examples, tc.batch_size)
    summaries = Summaries(workdir)
    history_path = os.path.join(workdir, HISTORY_FILE)
    first = int(state.step)
    history = json.load(open(history_path)) if ec.eval_every and os.path.exists(history_path) else []
    history = [h for h in history if h["step"] <= first]

    def run_eval(step: int) -> None:
      t = time.time()
      evaluated = evaluation_state(state)
      entry = {
        "step": step,
        "valid": task.evaluate(graphdef, evaluated, "valid"),
        "test": task.evaluate(graphdef, evaluated, "test"),
        "seconds": 0.0,
      }
      entry["seconds"] = time.time() - t
      history.append(entry)
      logging.info(
        "eval step %d (%.0fs): valid %s | test %s",
        step,
        entry["seconds"],
        _fmt(entry["valid"]["model"]),
        _fmt(entry["test"]["model"]),
      )
      for split in ("valid", "test"):
        scalars = {f"{split}/{k}": v for k, v in entry[split]["model"].items()}
        if "heldout_loss" in entry[split]:  # generative families
          scalars[f"{split}/heldout_loss"] = entry[split]["heldout_loss"]["per_token"]
        summaries.scalars(step, scalars)
      _write_json(history_path, history)
      if selected_manager is not None and select(history, ec.select_metric)["step"] == step:
        checkpointing.save_selected(selected_manager, step, state)

    logging.info(
      "training steps %d..%d on %d %s (%.1f epochs)",
      first,
      tc.num_steps,
      task.num_examples,
      task.example_unit,
      tc.num_steps / max(per_epoch, 1),
    )
    iterator = pipeline.train_iterator(dataset, first, tc.prefetch)
    t0 = time.time()
    last_time, last_step, train_seconds = t0, first, 0.0
    compiled, flops_per_step, nonfinite_total, final_loss = None, 0.0, 0, float("nan")
    model_flops = float(task.train_flops(tc.batch_size))
    peak = measure_matmul_peak(task.compute_dtype, tc.peak_matmul_size) if tc.peak_matmul_size else 0.0
    if peak:
      logging.info(
        "matmul peak %.1f GFLOP/s per device (%s, [%d]^2, measured now); %d devices",
        peak / 1e9,
        task.compute_dtype,
        tc.peak_matmul_size,
        jax.device_count(),
      )
    try:
      for step in range(first, tc.num_steps):
        batch = shard_batch(next(iterator), mesh)
        if compiled is None:  # compiled once, ahead of the first step, for XLA's FLOP count
          compiled = step_fn.lower(state, batch).compile()
          flops_per_step = xla_flops(compiled)
          logging.info(
            "train step compiled: %.4g model FLOP per step (analytic matmuls), %.4g by XLA's cost "
            "analysis (XLA / analytic = %.2f)",
            model_flops,
            flops_per_step,
            flops_per_step / max(model_flops, 1.0),
          )
        state, metrics = compiled(state, batch)
        done = step + 1
        if done % tc.log_every == 0 or done == tc.num_steps:
          values = {k: float(v) for k, v in jax.device_get(metrics).items()}
          now = time.time()
          steps_per_s = (done - last_step) / max(now - last_time, 1e-9)
          eta = (tc.num_steps - done) / max(steps_per_s, 1e-9)
          values.update(
            steps_per_second=steps_per_s,
            examples_per_second=steps_per_s * tc.batch_size,
            learning_rate=float(learning_rate_schedule(tc)(done)),
          )
          accuracy = values.get("item_accuracy", values.get("accuracy", float("nan")))
          values["gflops_per_second"] = model_flops * steps_per_s / 1e9
          if peak:
            values["mfu"] = mfu(model_flops, steps_per_s, peak, jax.device_count())
          logging.info(
            "step %d/%d loss %.4f acc %.3f | %.2f steps/s %.0f %s/s %.3g GFLOP/s MFU %s | ETA %s",
            done,
            tc.num_steps,
            values["loss"],
            accuracy,
            steps_per_s,
            values["examples_per_second"],
            task.example_unit.split(" ")[0],
            values["gflops_per_second"],
            f"{values['mfu']:.1%}" if peak else "-",
            _hms(eta),
          )
          summaries.scalars(done, {f"train/{k}": v for k, v in values.items()})
          final_loss = values["loss"]
          last_time, last_step = now, done
          nonfinite_total = int(values.get("nonfinite_total", 0))
          if values.get("nonfinite_consecutive", 0) >= tc.max_nonfinite_steps:
            raise FloatingPointError(
              f"{int(values['nonfinite_consecutive'])} consecutive steps up to step {done} had a non-finite loss "
              f"or gradient and were skipped (train.max_nonfinite_steps={tc.max_nonfinite_steps}; "
              f"{nonfinite_total} in all); the parameters are those of the last finite step. Lower "
              "train.learning_rate, check the data, or raise the limit."
            )
          if values.get("nonfinite_consecutive", 0):
            logging.warning(
              "%d consecutive non-finite steps skipped (%d in all)", values["nonfinite_consecutive"], nonfinite_total
            )
        if done % tc.checkpoint_every == 0 or done == tc.num_steps:
          checkpointing.save(manager, done, state)
        if ec.eval_every and (done % ec.eval_every == 0 or done == tc.num_steps):
          train_seconds += time.time() - t0
          run_eval(done)
          t0 = time.time()
    finally:  # also when interrupted: the last checkpoint is complete on disk before the error propagates
      iterator.close()
      manager.wait_until_finished()
      if selected_manager is not None:
        selected_manager.wait_until_finished()
    train_seconds += time.time() - t0
    manager.close()
    if isinstance(state.opt_state, optax.ApplyIfFiniteState):
      nonfinite_total = int(jax.device_get(state.opt_state.total_notfinite))
    if ec.eval_every:
      if not history or history[-1]["step"] != int(state.step):
        run_eval(int(state.step))
      results = dict(history[-1][ec.split])
      chosen = select(history, ec.select_metric)
      results["selected"] = {
        "metric": ec.select_metric or "last",
        "step": chosen["step"],
        "valid": chosen["valid"]["model"],
        "test": chosen["test"]["model"],
      }
      if selected_manager is not None:
        selected_manager.wait_until_finished()
        selected_manager.close()
        results["selected"]["checkpoint"] = os.path.join(os.path.abspath(workdir), checkpointing.SELECTED_DIR)
    else:
      results = task.evaluate(graphdef, evaluation_state(state), ec.split)
  results["train"] = {
    "family": config.family,
    "steps": tc.num_steps,
    "resumed_from": first,
    "seconds_this_run": train_seconds,
    "parameters": counts["total"],
    "parameter_counts": counts,
    "batch_size": tc.batch_size,
    "xla_flops_per_step": flops_per_step,
    "model_flops_per_step": model_flops,
    "matmul_peak_flops_per_device": peak,
    "nonfinite_steps_skipped": nonfinite_total,
    "final_loss": final_loss,
    "epochs": tc.num_steps / max(per_epoch, 1),
    **task.summary(),
  }
  summaries.scalars(tc.num_steps, {f"eval/{k}": v for k, v in results["model"].items()})
  summaries.close()
  _write_json(os.path.join(workdir, METRICS_FILE), results)
  return results


def xla_flops(compiled) -> float:
  """FLOPs of one call of a compiled function by XLA's cost analysis (0 if the backend gives none)."""
  cost = compiled.cost_analysis()
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else {}
  return float((cost or {}).get("flops", 0.0))


def _fmt(metrics: dict) -> str:
  return " ".join(f"{k} {v:.4f}" for k, v in metrics.items() if not k.startswith("recall@"))


def _hms(seconds: float) -> str:
  seconds = int(seconds)
  return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
