r"""Trains and evaluates a registered experiment.

  python -m experiments.train --experiment=quickstart --workdir=/tmp/qs [--data_dir=DIR] \
      [--config.train.num_steps=500 ...]

Restarting with the same workdir resumes from its latest checkpoint. Kept short: the logic is in
`onerec_jax.train.trainer.train_and_evaluate`, importable from a notebook.
"""

from __future__ import annotations

import json
import os
import sys

from absl import app, flags, logging

from experiments import registry
from onerec_jax.config_overrides import apply_overrides, split_config_args

_EXPERIMENT = flags.DEFINE_string("experiment", None, "registered experiment name (python -m experiments.list)")
_WORKDIR = flags.DEFINE_string("workdir", None, "where checkpoints, TensorBoard logs and metrics.json go")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "folder of real datasets (default $ONEREC_DATA_DIR)")
_OVERRIDES: list[str] = []


def parse_flags(argv: list[str]) -> list[str]:
  """absl parses everything except --config.* overrides, which are kept for the typed config."""
  rest, overrides = split_config_args(argv)
  _OVERRIDES.extend(overrides)
  return flags.FLAGS(rest)


def build_config(experiment: str, overrides: list[str], data_dir: str | None):
  config = registry.get(experiment)
  apply_overrides(config, overrides)
  config.data.data_dir = data_dir or config.data.data_dir or os.environ.get("ONEREC_DATA_DIR", "")
  return config.validate()


def main(argv):
  del argv
  if not _EXPERIMENT.value or not _WORKDIR.value:
    raise app.UsageError("--experiment and --workdir are required")
  config = build_config(_EXPERIMENT.value, _OVERRIDES, _DATA_DIR.value)
  from onerec_jax.train.trainer import train_and_evaluate  # imports JAX after flag errors are reported
  from onerec_jax.evaluation.evaluator import format_results
  results = train_and_evaluate(config, _WORKDIR.value)
  print(format_results(results))
  print(json.dumps({k: results[k] for k in ("model", "popularity")}, indent=1))


if __name__ == "__main__":
  logging.set_verbosity(logging.INFO)
  from onerec_jax.train.compilation_cache import enable_compilation_cache
  enable_compilation_cache()
  app.run(main, flags_parser=parse_flags)
