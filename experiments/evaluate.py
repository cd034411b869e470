r"""Evaluates the latest checkpoint of a training run and writes WORKDIR/metrics.json (or --out).

  python -m experiments.evaluate --experiment=quickstart --workdir=/tmp/qs [--out=FILE] [--selected | --step=N] \
      [--config.eval.split=valid --config.eval.num_beams=50 ...]

--selected evaluates the step that eval.select_metric picked on valid (kept in WORKDIR/selected_checkpoint
by runs with eval.eval_every and eval.select_metric), not the latest.
"""

from __future__ import annotations

import json

from absl import app, logging

from experiments import common_flags

from onerec_jax.logs import quiet_library_logs

_EXPERIMENT = common_flags.EXPERIMENT
_WORKDIR = common_flags.WORKDIR
_OUT = common_flags.OUT  # the metrics JSON to write (default WORKDIR/metrics.json)
_STEP = common_flags.CHECKPOINT_STEP
_SELECTED = common_flags.SELECTED
_OVERRIDES: list[str] = []


parse_flags = common_flags.overrides_parser(_OVERRIDES)


def main(argv):
  del argv
  quiet_library_logs(not common_flags.LIBRARY_LOGS.value)
  if not _WORKDIR.value:
    raise app.UsageError("--workdir is required")
  from onerec_jax.evaluation.evaluator import format_results
  from onerec_jax.train.trainer import evaluate_workdir

  results = evaluate_workdir(_WORKDIR.value, _EXPERIMENT.value, _OVERRIDES, _STEP.value, _OUT.value, _SELECTED.value)
  print(format_results(results))
  print(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
  logging.set_verbosity(logging.INFO)
  from onerec_jax.train.compilation_cache import enable_compilation_cache

  enable_compilation_cache()
  app.run(main, flags_parser=parse_flags)
