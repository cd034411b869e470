r"""Generation throughput: trie-constrained beam search batched over users, per beam width, side by side.

  python -m experiments.benchmarks.generate_bench [--experiments=quickstart] [--beams=32,128,512] \
      [--users=16] [--steps=5] [--repeats=3] [--data_dir=../shared/data] \
      [--out=experiments/results/generate_bench.json]

For each experiment (entry `name` or `name:field=v;field=v`) the model is built with fresh parameters
(speed does not depend on the weights) and the engine's generation function (the evaluator's: encoder
once per user, cross-attention keys/values shared by the beams, KV-cached decoder, trie mask on device)
is compiled once per (users, beams) shape; after a warm-up call, `repeats` timings of `steps` calls give
the median seconds per call, users/s and milliseconds per user, with the compiled call's memory.
"""

from __future__ import annotations

import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags, logging

from experiments import common_flags, registry
from experiments.benchmarks import results

_EXPERIMENTS = common_flags.EXPERIMENTS  # default ["quickstart"]
DEFAULT_EXPERIMENTS = ["quickstart"]
_STEPS = common_flags.STEPS  # default 5
DEFAULT_STEPS = 5
_BEAMS = flags.DEFINE_list("beams", ["32", "128", "512"], "beam widths")
_USERS = flags.DEFINE_integer("users", 16, "users per generation call")
_GEN_REPEATS = flags.DEFINE_integer("generate_repeats", 3, "repeats; the median is reported")


def bench(entry: str, beams: list[int], users: int, steps: int, repeats: int, data_dir: str = "") -> dict:
  from onerec_jax.evaluation.evaluator import make_generate_fn
  from onerec_jax.input.sequences import leave_one_out
  from onerec_jax.sharding.rules import make_mesh, mesh_context
  from onerec_jax.train.checkpointing import build_state
  from onerec_jax.train.families import make_task

  name, _, spec = entry.partition(":")
  config = registry.build_config(name, [f"--config.{o}" for o in spec.split(";") if o], data_dir)
  if config.family != "onerec":
    raise ValueError(f"{entry}: generation is for OneRec runs, not family {config.family!r}")
  task = make_task(config, None)
  run = task.run
  examples = leave_one_out(run.data, "test")
  rows, pos = examples.user_rows[:users], examples.target_pos[:users]
  if len(rows) < users:
    rows, pos = np.resize(rows, users), np.resize(pos, users)
  batch = run.builder.history_before(rows, pos)
  trie = run.sid_table.trie()
  children, leaf = jnp.asarray(trie.children), jnp.asarray(trie.leaf_item)
  out = {"experiment": entry, "users_per_call": users, "num_items": run.data.num_items, "beams": []}
  mesh = make_mesh(config.train.mesh_shape)
  with mesh_context(mesh, config.train.sharding_rules):
    graphdef, state, _ = build_state(task, config)
    for w in beams:
      generate = make_generate_fn(graphdef, w)
      compiled = generate.lower(state, batch, children, leaf).compile()
      jax.block_until_ready(compiled(state, batch, children, leaf))  # warm-up
      seconds = []
      for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
          result = compiled(state, batch, children, leaf)
        jax.block_until_ready(result)
        seconds.append((time.perf_counter() - start) / steps)
      call = statistics.median(seconds)
      memory = compiled.memory_analysis()
      row = {
        "beams": w,
        "seconds_per_call": call,
        "seconds_per_call_repeats": seconds,
        "users_per_second": users / call,
        "ms_per_user": 1000 * call / users,
        "legal_rate": float(np.mean(np.asarray(result.items)[np.asarray(result.scores) > -1e29] >= 0)),
        "memory_bytes": None
        if memory is None
        else {"arguments": memory.argument_size_in_bytes, "temporaries": memory.temp_size_in_bytes},
      }
      out["beams"].append(row)
      logging.warning("%s beam %d: %.3f s per call of %d users = %.1f users/s", entry, w, call, users, users / call)
  return out


def main(argv):
  del argv
  data_dir = common_flags.DATA_DIR.value or os.environ.get("ONEREC_DATA_DIR", "")
  beams = [int(b) for b in _BEAMS.value]
  runs = [
    bench(e, beams, _USERS.value, _STEPS.value or DEFAULT_STEPS, _GEN_REPEATS.value, data_dir)
    for e in (_EXPERIMENTS.value or DEFAULT_EXPERIMENTS)
  ]
  results.write(common_flags.OUT.value or "experiments/results/generate_bench.json", runs=runs)


if __name__ == "__main__":
  logging.set_verbosity(logging.WARNING)
  from onerec_jax.train.compilation_cache import enable_compilation_cache

  enable_compilation_cache()
  app.run(main)
