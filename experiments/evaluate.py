r"""Evaluates the latest checkpoint of a training run and writes WORKDIR/metrics.json.

  python -m experiments.evaluate --experiment=quickstart --workdir=/tmp/qs [--config.eval.split=valid ...]
"""

from __future__ import annotations

import json
import os

from absl import app, flags, logging

from onerec_jax.config_overrides import apply_overrides, split_config_args

_EXPERIMENT = flags.DEFINE_string("experiment", None, "registered experiment name the run was trained as")
_WORKDIR = flags.DEFINE_string("workdir", None, "the training run's workdir")
_STEP = flags.DEFINE_integer("step", None, "checkpoint step (default: the latest)")
_OVERRIDES: list[str] = []


def parse_flags(argv):
  rest, overrides = split_config_args(argv)
  _OVERRIDES.extend(overrides)
  return flags.FLAGS(rest)


def evaluate_workdir(workdir: str, experiment: str | None = None, overrides=(), step: int | None = None) -> dict:
  """Evaluates a run's checkpoint (latest by default) and writes workdir/metrics.json."""
  from onerec_jax.evaluation.evaluator import evaluate_run
  from onerec_jax.sharding.rules import mesh_context
  from onerec_jax.train.trainer import METRICS_FILE, restore_run
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


def main(argv):
  del argv
  if not _WORKDIR.value:
    raise app.UsageError("--workdir is required")
  from onerec_jax.evaluation.evaluator import format_results
  results = evaluate_workdir(_WORKDIR.value, _EXPERIMENT.value, _OVERRIDES, _STEP.value)
  print(format_results(results))
  print(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
  logging.set_verbosity(logging.INFO)
  from onerec_jax.train.compilation_cache import enable_compilation_cache
  enable_compilation_cache()
  app.run(main, flags_parser=parse_flags)
