r"""Training throughput and MFU of registered experiments, float32 and bfloat16, side by side in one run.

  python -m experiments.benchmarks.train_bench [--experiments=onerec_synthetic_tiny,onerec_synthetic_0015b] \
      [--dtypes=float32,bfloat16] [--steps=10] [--repeats=3] [--data_dir=../shared/data] \
      [--out=experiments/results/train_bench.json]

Each entry of --experiments is `name` or `name:field=value;field=value` (config overrides without the
`--config.` prefix), e.g. the TIGER peer's size on Beauty (PROTOCOLS.md):
  'onerec_beauty_user_token:model.targets_per_window=0;model.num_encoder_layers=4;model.num_decoder_layers=4;\
model.num_heads=6;model.head_dim=64;model.ffn_dim=1024;train.batch_size=256'
For each entry and dtype: the engine's jitted train step (the same `make_train_step`, donated state) on
real batches of the family's pipeline, `repeats` timings of `steps` steps after a warm-up step; the median
is reported as examples/s, tokens/s (encoder + decoder tokens of the batch), model FLOP/s (analytic,
onerec_jax.models.flops; XLA's count beside it) and MFU against the matmul peak of that dtype measured
in the same process ([4096]^2 by default, PROTOCOLS.md), and the compiled step's memory (arguments +
temporaries, XLA's memory analysis). Compilation excluded.
"""

from __future__ import annotations

import os
import statistics
import time

import jax
import numpy as np
from absl import app, flags, logging

from experiments import common_flags, registry
from experiments.benchmarks import results
from onerec_jax.input.batches import OneRecBatch, RewardBatch

_EXPERIMENTS = common_flags.EXPERIMENTS  # default ["onerec_synthetic_tiny", "onerec_synthetic_0015b"]
DEFAULT_EXPERIMENTS = ["onerec_synthetic_tiny", "onerec_synthetic_0015b"]
_DTYPES = flags.DEFINE_list("dtypes", ["float32", "bfloat16"], "compute dtypes (model.dtype)")
_STEPS = common_flags.STEPS  # default 10
DEFAULT_STEPS = 10
_REPEATS = flags.DEFINE_integer("repeats", 3, "repeats; the median is reported")
_PEAK_SIZE = flags.DEFINE_integer("peak_size", 4096, "matmul size of the peak measurement")
_OUT = common_flags.OUT  # JSON results file (default experiments/results/train_bench.json)


def _tokens(batch) -> int:
  """Encoder + decoder input tokens of a OneRec batch, positions of a SASRec batch, history + candidate
  of a reward-model batch."""
  if isinstance(batch, OneRecBatch):
    b = batch.user_id.shape[0]
    encoder = 1 + sum(p.items.shape[1] for p in (batch.short, batch.positive, batch.lifelong) if p is not None)
    return int(b * encoder + np.prod(batch.target_sid.shape))
  if isinstance(batch, RewardBatch):
    return int(np.prod(batch.history_items.shape) + batch.item.shape[0])
  return int(np.prod(np.asarray(batch.inputs).shape))


def _targets(batch) -> int:
  """Supervised targets of a batch: one per example (the report's design; a reward-model impression),
  the masked targets of a multi-target window, or the supervised positions of a SASRec window."""
  if isinstance(batch, OneRecBatch):
    if batch.target_mask is not None:
      return int(np.asarray(batch.target_mask).sum())
    return int(batch.target_sid.shape[0])
  if isinstance(batch, RewardBatch):
    return int(batch.item.shape[0])
  return int(np.asarray(batch.mask).sum())


def bench(entry: str, dtype: str, data_dir: str, steps: int, repeats: int, peaks: dict) -> dict:
  from onerec_jax.input import pipeline
  from onerec_jax.sharding.rules import make_mesh, mesh_context
  from onerec_jax.train.checkpointing import build_state
  from onerec_jax.train.families import make_task
  from onerec_jax.train.peak import mfu
  from onerec_jax.train.train_step import make_train_step
  from onerec_jax.train.trainer import shard_batch, xla_flops
  from onerec_jax.models.parameter_count import count_parameters

  name, _, spec = entry.partition(":")
  overrides = [f"--config.{o}" for o in spec.split(";") if o]
  config = registry.build_config(name, overrides, data_dir)
  if config.family == "onerec":
    config.model.dtype = dtype
  elif dtype != "float32":
    return {"experiment": entry, "dtype": dtype, "skipped": f"family {config.family} computes in float32 only"}
  tc = config.train
  task = make_task(config, None)
  dataset = pipeline.step_dataset(task.num_examples, tc.batch_size, tc.seed, task.batch)
  host_batches = [dataset[i] for i in range(min(4, len(dataset)))]
  mesh = make_mesh(tc.mesh_shape)
  with mesh_context(mesh, tc.sharding_rules):
    graphdef, state, tx = build_state(task, config)
    counts = count_parameters(state.params, *task.experts)
    step_fn = jax.jit(
      make_train_step(graphdef, tx, task.loss, router_bias_step=task.router_bias_step, accum_steps=tc.grad_accum_steps),
      donate_argnums=(0,),
    )
    batches = [shard_batch(b, mesh) for b in host_batches]
    compiled = step_fn.lower(state, batches[0]).compile()
    memory = compiled.memory_analysis()
    holder = [state]

    def run(n):
      for i in range(n):
        holder[0], metrics = compiled(holder[0], batches[i % len(batches)])
      jax.block_until_ready(metrics)

    run(1)  # warm-up
    seconds = []
    for _ in range(repeats):
      start = time.perf_counter()
      run(steps)
      seconds.append((time.perf_counter() - start) / steps)
  step = statistics.median(seconds)
  model_flops = float(task.train_flops(tc.batch_size))
  out = {
    "experiment": entry,
    "dtype": dtype,
    "family": config.family,
    "batch_size": tc.batch_size,
    "example_unit": task.example_unit,
    "parameters": counts,
    "seconds_per_step": step,
    "seconds_per_step_repeats": seconds,
    "examples_per_second": tc.batch_size / step,
    "tokens_per_second": _tokens(host_batches[0]) / step,
    # The peer's examples are targets (one per example): the comparable rate of a multi-target design.
    "targets_per_second": float(np.mean([_targets(b) for b in host_batches])) / step,
    "model_flops_per_step": model_flops,
    "xla_flops_per_step": xla_flops(compiled),
    "model_gflops_per_second": model_flops / step / 1e9,
    "mfu": mfu(model_flops, 1.0 / step, peaks[dtype], jax.device_count()),
    "memory_bytes": {
      "arguments": memory.argument_size_in_bytes,
      "temporaries": memory.temp_size_in_bytes,
      "outputs": memory.output_size_in_bytes,
    }
    if memory is not None
    else None,
  }
  logging.warning(
    "%s %s: %.4f s/step, %.0f examples/s, %.1f GFLOP/s, MFU %.1f%%",
    entry,
    dtype,
    step,
    out["examples_per_second"],
    out["model_gflops_per_second"],
    100 * out["mfu"],
  )
  return out


def main(argv):
  del argv
  from onerec_jax.train.peak import measure_matmul_peak

  data_dir = common_flags.DATA_DIR.value or os.environ.get("ONEREC_DATA_DIR", "")
  peaks = {dtype: measure_matmul_peak(dtype, _PEAK_SIZE.value, repeats=5) for dtype in _DTYPES.value}
  logging.warning("matmul peaks (GFLOP/s per device): %s", {k: round(v / 1e9, 1) for k, v in peaks.items()})
  runs = [
    bench(e, dtype, data_dir, (_STEPS.value or DEFAULT_STEPS), _REPEATS.value, peaks)
    for e in (_EXPERIMENTS.value or DEFAULT_EXPERIMENTS)
    for dtype in _DTYPES.value
  ]
  results.write(
    _OUT.value or "experiments/results/train_bench.json",
    matmul_peak_flops_per_device=peaks,
    peak_size=_PEAK_SIZE.value,
    runs=runs,
  )


if __name__ == "__main__":
  logging.set_verbosity(logging.WARNING)
  from onerec_jax.train.compilation_cache import enable_compilation_cache

  enable_compilation_cache()
  app.run(main)
