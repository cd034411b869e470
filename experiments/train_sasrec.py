r"""Trains and evaluates a registered SASRec experiment (experiments/configs/sasrec.py).

  python -m experiments.train_sasrec --experiment=sasrec_ml1m --workdir=/tmp/sasrec_ml1m \
      [--data_dir=../shared/data] [--config.train.num_steps=2000 ...]

Restarting with the same workdir resumes from its latest checkpoint. The logic is in
`onerec_jax.train.sasrec_trainer.train_and_evaluate`.
"""

from __future__ import annotations

import json
import os

from absl import app, flags, logging

from experiments import common_flags

from experiments import registry
from onerec_jax.config_overrides import apply_overrides, split_config_args
from onerec_jax.train.sasrec_config import SasrecExperimentConfig

_EXPERIMENT = common_flags.EXPERIMENT  # a registered sasrec_* experiment
_WORKDIR = common_flags.WORKDIR
_DATA_DIR = common_flags.DATA_DIR
_OVERRIDES: list[str] = []


def parse_flags(argv: list[str]) -> list[str]:
  rest, overrides = split_config_args(argv)
  _OVERRIDES.extend(overrides)
  return flags.FLAGS(rest)


def build_config(experiment: str, overrides: list[str], data_dir: str | None) -> SasrecExperimentConfig:
  config = registry.get(experiment)
  if not isinstance(config, SasrecExperimentConfig):
    raise ValueError(f"{experiment!r} is not a SASRec experiment; use python -m experiments.train")
  apply_overrides(config, overrides)
  config.data.data_dir = data_dir or config.data.data_dir or os.environ.get("ONEREC_DATA_DIR", "")
  return config.validate()


def main(argv):
  del argv
  if not _EXPERIMENT.value or not _WORKDIR.value:
    raise app.UsageError("--experiment and --workdir are required")
  config = build_config(_EXPERIMENT.value, _OVERRIDES, _DATA_DIR.value)
  from onerec_jax.train.sasrec_trainer import train_and_evaluate
  results = train_and_evaluate(config, _WORKDIR.value)
  print(json.dumps({k: results[k] for k in ("dataset", "protocol", "exclude", "best")}, indent=1))


if __name__ == "__main__":
  logging.set_verbosity(logging.INFO)
  from onerec_jax.train.compilation_cache import enable_compilation_cache
  enable_compilation_cache()
  app.run(main, flags_parser=parse_flags)
