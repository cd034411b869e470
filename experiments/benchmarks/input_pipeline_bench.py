r"""Input pipeline and train step throughput of any registered experiments, side by side in one run.

  python -m experiments.benchmarks.input_pipeline_bench [--experiments=sasrec_ml1m,quickstart] \
      [--data_dir=../shared/data] [--steps=20] [--out=experiments/results/input_pipeline_bench.json]

Each entry of --experiments is `name` or `name:field=value;field=value` (config overrides without the
`--config.` prefix), so variants of one experiment are measured in the same process, e.g. the report's
one-target-per-encoder-pass design against the multi-target one:
  --experiments='onerec_beauty,onerec_beauty:model.targets_per_window=0'
For each: (1) the engine's grain pipeline (onerec_jax.input.pipeline.step_dataset over the family's
Task.batch) iterated without and with a prefetch thread, no model; (2) the jitted train step of the one
engine on one of those batches. Reported per second: steps, examples (the family's unit) and supervised
targets. The pipeline keeps up when (1) >= (2). Compile time excluded (one warm-up step).
"""

from __future__ import annotations

import os
import time

import jax
import numpy as np
from absl import app, logging

from experiments import common_flags
from experiments import registry
from experiments.benchmarks import results

_EXPERIMENTS = common_flags.EXPERIMENTS  # default ["sasrec_ml1m", "quickstart"]
DEFAULT_EXPERIMENTS = ["sasrec_ml1m", "quickstart"]
_DATA_DIR = common_flags.DATA_DIR
_STEPS = common_flags.STEPS  # default 20
DEFAULT_STEPS = 20
_OUT = common_flags.OUT  # JSON results file (default experiments/results/input_pipeline_bench.json)


def _rate(fn, steps: int) -> float:
  """Seconds per call of fn, after one warm-up call."""
  fn()
  start = time.perf_counter()
  for _ in range(steps):
    fn()
  return (time.perf_counter() - start) / steps


def _targets(batch) -> int:
  """Supervised targets in a host batch (mask / target_mask where the family has one)."""
  mask = getattr(batch, "target_mask", None)
  if mask is None:
    mask = getattr(batch, "mask", None)
  if mask is not None:
    return int(np.asarray(mask).sum())
  return int(np.asarray(jax.tree.leaves(batch)[0]).shape[0])


def bench(entry: str, data_dir: str, steps: int) -> dict:
  from onerec_jax.input import pipeline
  from onerec_jax.sharding.rules import make_mesh, mesh_context
  from onerec_jax.train.checkpointing import build_state
  from onerec_jax.train.families import make_task
  from onerec_jax.train.train_step import make_train_step
  from onerec_jax.train.trainer import shard_batch

  name, _, spec = entry.partition(":")
  overrides = [f"--config.{o}" for o in spec.split(";") if o]
  config = registry.build_config(name, overrides, data_dir)
  tc = config.train
  task = make_task(config, None)
  dataset = pipeline.step_dataset(task.num_examples, tc.batch_size, tc.seed, task.batch)
  first = dataset[0]
  targets = _targets(first)
  out = {
    "experiment": entry,
    "family": config.family,
    "dataset": config.data.dataset,
    "example_unit": task.example_unit,
    "batch_size": tc.batch_size,
    "targets_per_batch": targets,
  }
  for prefetch in (0, 2):
    it = pipeline.train_iterator(dataset, 0, prefetch)
    seconds = _rate(lambda: next(it), steps * 3)
    it.close()
    out[f"pipeline_prefetch{prefetch}"] = {
      "seconds_per_step": seconds,
      "examples_per_second": tc.batch_size / seconds,
      "targets_per_second": targets / seconds,
    }
  mesh = make_mesh(tc.mesh_shape)
  with mesh_context(mesh, tc.sharding_rules):
    graphdef, state, tx = build_state(task, config)
    out["parameters"] = int(sum(np.prod(x.shape) for x in jax.tree.leaves(state.params)))
    step_fn = jax.jit(
      make_train_step(graphdef, tx, task.loss, router_bias_step=task.router_bias_step), donate_argnums=(0,)
    )
    batch = shard_batch(first, mesh)
    holder = [state]

    def one_step():
      holder[0], metrics = step_fn(holder[0], batch)
      jax.block_until_ready(metrics)

    seconds = _rate(one_step, steps)
  out["train_step"] = {
    "seconds_per_step": seconds,
    "examples_per_second": tc.batch_size / seconds,
    "targets_per_second": targets / seconds,
  }
  logging.warning(
    "%s: train step %.3f s = %.0f targets/s; pipeline %.0f targets/s",
    entry,
    seconds,
    targets / seconds,
    out["pipeline_prefetch2"]["targets_per_second"],
  )
  return out


def main(argv):
  del argv
  data_dir = _DATA_DIR.value or os.environ.get("ONEREC_DATA_DIR", "")
  runs = [bench(e, data_dir, (_STEPS.value or DEFAULT_STEPS)) for e in (_EXPERIMENTS.value or DEFAULT_EXPERIMENTS)]
  results.write(_OUT.value or "experiments/results/input_pipeline_bench.json", runs=runs)


if __name__ == "__main__":
  logging.set_verbosity(logging.WARNING)
  from onerec_jax.train.compilation_cache import enable_compilation_cache

  enable_compilation_cache()
  app.run(main)
