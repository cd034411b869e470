r"""Trains and evaluates a registered experiment, of any model family (OneRec, SASRec), through one engine.

  python -m experiments.train --experiment=quickstart --workdir=/tmp/qs [--data_dir=DIR] \
      [--config.train.num_steps=500 ...]

Restarting with the same workdir resumes from its latest checkpoint. Kept short: the logic is in
`onerec_jax.train.trainer.train_and_evaluate`, importable from a notebook.
"""

from __future__ import annotations

import json

from absl import app, flags, logging

from experiments import common_flags

from experiments import registry
from onerec_jax.logs import quiet_library_logs

_EXPERIMENT = common_flags.EXPERIMENT
_WORKDIR = common_flags.WORKDIR
_DATA_DIR = common_flags.DATA_DIR
_DISTRIBUTED = flags.DEFINE_bool(
  "distributed",
  False,
  "multi-host: join the other processes (jax.distributed.initialize); on TPU pods, "
  "SLURM and Open MPI everything is detected, elsewhere give the three flags below",
)
_COORDINATOR = flags.DEFINE_string(
  "coordinator_address", None, "--distributed: host:port of process 0 (default $JAX_COORDINATOR_ADDRESS or detected)"
)
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "--distributed: processes in the job")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "--distributed: this process's index")
_OVERRIDES: list[str] = []


parse_flags = common_flags.overrides_parser(_OVERRIDES)


def main(argv):
  del argv
  quiet_library_logs(not common_flags.LIBRARY_LOGS.value)
  if not _EXPERIMENT.value or not _WORKDIR.value:
    raise app.UsageError("--experiment and --workdir are required")
  config = registry.build_config(_EXPERIMENT.value, _OVERRIDES, _DATA_DIR.value)
  if _DISTRIBUTED.value:
    from onerec_jax.train import distributed

    distributed.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
  from onerec_jax.train.trainer import train_and_evaluate  # imports JAX after flag errors are reported
  from onerec_jax.evaluation.evaluator import format_results

  results = train_and_evaluate(config, _WORKDIR.value)
  print(format_results(results))
  print(json.dumps({k: results[k] for k in ("model", "popularity", "item_rate", "selected") if k in results}, indent=1))


if __name__ == "__main__":
  logging.set_verbosity(logging.INFO)
  from onerec_jax.train.compilation_cache import enable_compilation_cache

  enable_compilation_cache()
  app.run(main, flags_parser=parse_flags)
