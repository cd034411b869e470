r"""Mean and spread of one recipe's test metrics over seeds (or any repeated runs).

  python -m experiments.seed_spread --runs=W0,W1/seed_1,W2/seed_2 \
      [--metrics=recall@10,ndcg@10] [--out=experiments/results/onerec_beauty_seeds.json]

Each entry of `--runs` is a run's workdir (its `metrics.json` is read) or a metrics JSON file itself
(what `experiments.train` writes and what experiments/results/ holds). Per metric: the values in the
order given, their mean, the sample standard deviation (ddof 1), min and max; the markdown line printed
last is the table cell BENCHMARKS.md takes ("mean ± std (min-max)"). The most-popular baseline of the
same files is summarised beside the model's: it depends on the split only, so a spread in it means the
runs did not share their data.

A run that picked its step by a valid metric (eval.select_metric) reports the test figures of that step:
its file's `selected.test` block, not the top-level `model` block (the last step's). `reported` chooses,
and the summary's 'blocks' says which block each run gave.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np


def read_metrics(path: str) -> dict:
  """The metrics dictionary of a run: `path` is a workdir holding metrics.json, or the JSON file."""
  file = os.path.join(path, "metrics.json") if os.path.isdir(path) else path
  if not os.path.exists(file):
    raise FileNotFoundError(f"{file}: no metrics JSON (has the run finished its final evaluation?)")
  with open(file) as f:
    metrics = json.load(f)
  if "model" not in metrics:
    raise ValueError(f"{file}: expected a metrics JSON with a 'model' block, got keys {sorted(metrics)}")
  return metrics


def reported(metrics: dict) -> tuple[str, dict]:
  """(block name, model metrics) a run reports: `selected.test` where the run picked its step by a valid
  metric, else `model` (the final step's evaluation)."""
  selected = metrics.get("selected")
  if isinstance(selected, dict) and isinstance(selected.get("test"), dict):
    return "selected.test", selected["test"]
  return "model", metrics["model"]


def spread(values: Sequence[float]) -> dict:
  """{'values', 'n', 'mean', 'std' (ddof 1; 0 for one value), 'min', 'max'} of `values`."""
  array = np.asarray(values, dtype=np.float64)
  return {
    "values": [float(v) for v in array],
    "n": int(array.size),
    "mean": float(array.mean()),
    "std": float(array.std(ddof=1)) if array.size > 1 else 0.0,
    "min": float(array.min()),
    "max": float(array.max()),
  }


def seed_spread(runs: Sequence[str], metrics: Sequence[str] = ()) -> dict:
  """The spread of each metric over `runs` for the model and the most-popular baseline.

  Raises ValueError naming the run that lacks a metric, so a half-evaluated run never shrinks the sample.
  """
  if not runs:
    raise ValueError("--runs is empty: give the workdirs (or metrics JSON files) of the seeds")
  loaded = [read_metrics(run) for run in runs]
  blocks, model = zip(*(reported(m) for m in loaded))
  names = list(metrics) or sorted(model[0])
  for run, block, values in zip(runs, blocks, model):
    missing = [name for name in names if name not in values]
    if missing:
      raise ValueError(f"{run}: its {block} metrics have no {missing} (has {sorted(values)})")
  summary = {"runs": list(runs), "blocks": list(blocks), "model": {}, "popularity": {}}
  for name in names:
    summary["model"][name] = spread([values[name] for values in model])
    values = [m.get("popularity", {}).get(name) for m in loaded]
    if None not in values:  # a baseline some files lack is left out, not summarised over fewer runs
      summary["popularity"][name] = spread(values)
  return summary


def markdown(summary: dict, block: str = "model") -> str:
  """'| name | mean ± std (min-max) | ...' over the summarised metrics of `block`."""
  cells = [f"{s['mean']:.4f} ± {s['std']:.4f} ({s['min']:.4f}-{s['max']:.4f})" for s in summary[block].values()]
  return "| " + " | ".join(summary[block]) + " |\n| " + " | ".join(cells) + " |"


def main(argv):
  from absl import flags

  del argv
  f = flags.FLAGS
  summary = seed_spread(f.runs, f.metrics)
  text = json.dumps(summary, indent=1)
  if f.out:
    os.makedirs(os.path.dirname(f.out) or ".", exist_ok=True)
    with open(f.out, "w") as fh:
      fh.write(text)
  print(text)
  print(markdown(summary))


if __name__ == "__main__":
  from absl import app, flags
  from experiments import common_flags  # noqa: F401  (defines --out)

  flags.DEFINE_list("runs", [], "run workdirs or metrics JSON files, one per seed")
  flags.DEFINE_list("metrics", [], "metric names to summarise (default: every metric of the first run)")
  app.run(main)
