r"""Tunes the per-level decoding temperatures of a trained generative run on valid (never on test).

Restores one checkpoint once and evaluates eval.split (default valid) under each candidate
`eval.level_temperatures`, writing one row per candidate (the ranking metrics, history share) to --out:

  python -m experiments.tune_decoding --workdir=~/runs/beauty_noid/no_item_id_8k_seed_2 --selected \
      --data_dir=../shared/data --out=experiments/results/beauty_level_temperatures.json \
      --grid="1,1,1,1;0.7,1,1,1;1.5,1,1,1"

Each candidate is one value per semantic-ID level (the tokenizer's levels, then the disambiguation token);
the first row of the table is always the model's own distribution (all 1). The picked candidate is then
measured once on test with `python -m experiments.evaluate --selected --config.eval.level_temperatures=...`.
"""

from __future__ import annotations

import json
import os
import time

from absl import app, flags, logging

from experiments import common_flags
from onerec_jax.logs import quiet_library_logs

_WORKDIR = common_flags.WORKDIR
_OUT = common_flags.OUT
_STEP = common_flags.CHECKPOINT_STEP
_SELECTED = common_flags.SELECTED
_GRID = flags.DEFINE_string(
  "grid", "", "candidates separated by ';', each one comma-separated temperature per semantic-ID level"
)
_OVERRIDES: list[str] = []


def parse_grid(text: str, num_levels: int) -> list[tuple[float, ...]]:
  """'1,1,1;0.5,1,1' -> [(1, 1, 1), (0.5, 1, 1)], with the all-ones row first and no duplicates.

  Raises ValueError naming the candidate that is not num_levels positive numbers.
  """
  candidates = [tuple([1.0] * num_levels)]
  for i, part in enumerate(p for p in text.split(";") if p.strip()):
    try:
      values = tuple(float(t) for t in part.split(","))
    except ValueError as e:
      raise ValueError(f"--grid candidate {i} ({part!r}) is not comma-separated numbers: {e}") from None
    if len(values) != num_levels or not all(v > 0 for v in values):
      raise ValueError(f"--grid candidate {i} ({part!r}) must be {num_levels} positive temperatures, one per level")
    if values not in candidates:
      candidates.append(values)
  return candidates


parse_flags = common_flags.overrides_parser(_OVERRIDES)


def main(argv):
  del argv
  quiet_library_logs(not common_flags.LIBRARY_LOGS.value)
  if not _WORKDIR.value or not _OUT.value:
    raise app.UsageError("--workdir and --out are required")
  from onerec_jax.config_overrides import apply_overrides
  from onerec_jax.sharding.rules import mesh_context
  from onerec_jax.train.trainer import restore_run

  config, task, graphdef, state, mesh = restore_run(_WORKDIR.value, _STEP.value, selected=_SELECTED.value)
  if config.family not in ("onerec", "ecpo"):
    raise app.UsageError(f"{_WORKDIR.value} is a {config.family!r} run: decoding temperatures need a generative one")
  apply_overrides(config, ["eval.split=valid", *_OVERRIDES])  # valid unless an override says otherwise
  rows = []
  for temperatures in parse_grid(_GRID.value, config.tokenizer.id_length):
    config.eval.level_temperatures = temperatures
    config.validate()
    task.config = config
    start = time.time()
    with mesh_context(mesh, config.train.sharding_rules):
      results = task.evaluate(graphdef, state, config.eval.split)
    k = max(config.eval.ks)
    row = {
      "level_temperatures": list(temperatures),
      **results["model"],
      f"history_share@{k}": results[f"history_share@{k}"],
      "seconds": round(time.time() - start, 1),
    }
    rows.append(row)
    logging.info("T=%s: %s", temperatures, {m: round(v, 4) for m, v in results["model"].items()})
    table = {
      "workdir": os.path.abspath(_WORKDIR.value),
      "checkpoint_step": int(state.step),
      "split": config.eval.split,
      "num_users": results["num_users"],
      "overrides": list(_OVERRIDES),
      "rows": rows,
    }
    if os.path.dirname(_OUT.value):
      os.makedirs(os.path.dirname(_OUT.value), exist_ok=True)
    with open(_OUT.value, "w") as f:  # rewritten after every candidate: a stopped run keeps what it measured
      json.dump(table, f, indent=1, default=float)
  metric = config.eval.select_metric or f"ndcg@{max(config.eval.ks)}"
  best = max(rows, key=lambda r: r[metric])
  print(f"best {metric} on {config.eval.split}: {best[metric]:.4f} at T={tuple(best['level_temperatures'])}")


if __name__ == "__main__":
  logging.set_verbosity(logging.INFO)
  from onerec_jax.train.compilation_cache import enable_compilation_cache

  enable_compilation_cache()
  app.run(main, flags_parser=parse_flags)
