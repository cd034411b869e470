r"""Input pipeline examples/s next to the train step examples/s it has to feed (SASRec and OneRec).

  python -m experiments.benchmarks.input_pipeline_bench [--sasrec=sasrec_ml1m] [--onerec=quickstart] \
      [--data_dir=../shared/data] [--steps=20] [--out=experiments/results/input_pipeline_bench.json]

Measured: (1) the grain window pipeline of the SASRec experiment (examples = windows) iterated without
and with a prefetch thread, no model; (2) the jitted SASRec train step on those batches; (3) the OneRec
feature builder (TrainBatches, the existing step-indexed pipeline) of the OneRec experiment; (4) the
jitted OneRec train step. The pipeline keeps up when (1) >= (2) and (3) >= (4). Compile time excluded.
"""

from __future__ import annotations

import json
import os
import platform
import time

import jax
import jax.numpy as jnp
from absl import app, flags, logging

from experiments import common_flags

from experiments import registry

_SASREC = flags.DEFINE_string("sasrec", "sasrec_ml1m", "registered SASRec experiment")
_ONEREC = flags.DEFINE_string("onerec", "quickstart", "registered OneRec experiment ('' = skip)")
_DATA_DIR = common_flags.DATA_DIR
_STEPS = flags.DEFINE_integer("steps", 20, "timed steps per measurement")
_OUT = common_flags.OUT  # JSON results file (default experiments/results/input_pipeline_bench.json)


def _rate(fn, steps: int, batch_size: int) -> dict:
  fn()  # warm-up (compilation, first batch)
  start = time.perf_counter()
  for _ in range(steps):
    fn()
  seconds = time.perf_counter() - start
  return {"examples_per_second": steps * batch_size / seconds, "seconds_per_step": seconds / steps,
          "batch_size": batch_size, "steps": steps}


def bench_sasrec(name: str, data_dir: str, steps: int) -> dict:
  from onerec_jax.input import pipeline
  from onerec_jax.input.datasets import load_sequences
  from onerec_jax.train.optimizer import make_optimizer
  from onerec_jax.train.sasrec_trainer import _pipeline_config, build_model, make_train_step
  from onerec_jax.train.train_step import init_state
  config = registry.get(name)
  config.data.data_dir = data_dir
  data, _ = load_sequences(config.data)
  pcfg = _pipeline_config(config)
  dataset = pipeline.train_dataset(data, pcfg)
  out = {"experiment": name, "dataset": data.name, "window": config.model.max_len,
         "stride": config.train.window_stride}
  for prefetch in (0, 2):
    it = pipeline.train_iterator(dataset, 0, prefetch)
    out[f"pipeline_prefetch{prefetch}"] = _rate(lambda: next(it), steps * 5, pcfg.batch_size)
    it.close()
  tx = make_optimizer(config.train)
  graphdef, state = init_state(build_model(config, data.num_items), tx)
  step_fn = jax.jit(make_train_step(graphdef, tx, data.num_items, config.train.num_negatives, 0),
                    donate_argnums=(0,))
  batch = {k: jnp.asarray(v) for k, v in dataset[0].items()}
  holder = [state]

  def one_step():
    holder[0], metrics = step_fn(holder[0], batch)
    jax.block_until_ready(metrics)

  out["train_step"] = _rate(one_step, steps, pcfg.batch_size)
  return out


def bench_onerec(name: str, data_dir: str, steps: int) -> dict:
  from onerec_jax.input.features import TrainBatches
  from onerec_jax.input.sequences import leave_one_out
  from onerec_jax.sharding.rules import make_mesh, mesh_context
  from onerec_jax.train.assembly import prepare
  from onerec_jax.train.train_step import make_train_step
  from onerec_jax.train.trainer import build_state, shard_batch
  config = registry.get(name)
  config.data.data_dir = data_dir
  tc = config.train
  run = prepare(config.validate())
  examples = leave_one_out(run.data, "train", config.data.min_history)
  batches = TrainBatches(run.builder, examples, tc.batch_size, tc.seed)
  counter = [0]

  def one_batch():
    batch = batches(counter[0])
    counter[0] += 1
    return batch

  out = {"experiment": name, "dataset": run.data.name, "feature_builder": _rate(one_batch, steps * 5, tc.batch_size)}
  mesh = make_mesh(tc.mesh_shape)
  with mesh_context(mesh, tc.sharding_rules):
    graphdef, state, tx = build_state(run, config, mesh)
    step_fn = jax.jit(make_train_step(graphdef, tx, loss_reduction=tc.loss_reduction,
                                      router_bias_step=run.model_config.router_bias_step
                                      if run.model_config.num_experts else 0.0), donate_argnums=(0,))
    host = batches(0)
    host.pop("target_item")
    batch = shard_batch(host, mesh)
    holder = [state]

    def one_step():
      holder[0], metrics = step_fn(holder[0], batch)
      jax.block_until_ready(metrics)

    out["train_step"] = _rate(one_step, steps, tc.batch_size)
  return out


def main(argv):
  del argv
  data_dir = _DATA_DIR.value or os.environ.get("ONEREC_DATA_DIR", "")
  results = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                         "devices": [str(d) for d in jax.devices()],
                         "load_average": list(os.getloadavg())},
             "sasrec": bench_sasrec(_SASREC.value, data_dir, _STEPS.value)}
  if _ONEREC.value:
    results["onerec"] = bench_onerec(_ONEREC.value, data_dir, _STEPS.value)
  out = _OUT.value or "experiments/results/input_pipeline_bench.json"
  os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
  with open(out, "w") as f:
    json.dump(results, f, indent=1)
  print(json.dumps(results, indent=1))


if __name__ == "__main__":
  logging.set_verbosity(logging.WARNING)
  app.run(main)
