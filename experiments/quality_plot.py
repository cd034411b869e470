r"""Our runs against the published numbers of one dataset: a bar chart (PNG) and a markdown table.

  python -m experiments.quality_plot --dataset=amazon_beauty \
      --rows='onerec (2 seeds)=experiments/results/onerec_beauty_seeds.json,sasrec=experiments/results/sasrec_beauty_metrics.json' \
      --metrics=recall@10,ndcg@10 --out=experiments/results/quality_beauty.png

Each `--rows` entry is NAME=PATH: a run's workdir or metrics JSON (what `experiments.train` writes), or a
seed-spread JSON (`experiments.seed_spread`), drawn as its mean with the min-max range as the error bar;
`PATH#popularity` is the most-popular baseline the run evaluated beside the model.
The published models of the dataset (experiments.published) are vertical lines, the minimum target
solid. The table gives each row's value and its fraction of the minimum target.
"""

from __future__ import annotations

import json
import os

from experiments import published as published_lib
from experiments.seed_spread import read_metrics, reported


def read_row(path: str) -> dict[str, tuple[float, float, float]]:
  """{metric: (value, low, high)} of a metrics JSON or workdir (low = high = value; the figures the run
  reports, seed_spread.reported: its selected step's where it picked one) or a seed-spread JSON (mean, min,
  max). `PATH#popularity` reads the most-popular baseline evaluated beside the model; any
  `PATH#a.b` reads the block at that dotted path (e.g. `#best.test` of a JSON that keeps its reported
  evaluation under 'best')."""
  path, _, block = path.partition("#")
  file = os.path.join(path, "metrics.json") if os.path.isdir(path) else path
  if block:
    if not os.path.exists(file):
      raise FileNotFoundError(f"{file}: no metrics JSON (has the run finished its final evaluation?)")
    with open(file) as f:
      values = json.load(f)
    path_keys = block.split(".")
  else:
    block, values = reported(read_metrics(path))
    path_keys = []
  for key in path_keys:
    if not isinstance(values, dict) or key not in values:
      keys = sorted(values) if isinstance(values, dict) else type(values).__name__
      raise ValueError(f"{file}: no block {block!r} (at {key!r} found {keys})")
    values = values[key]
  if values and all(isinstance(v, dict) and "mean" in v for v in values.values()):
    return {name: (s["mean"], s["min"], s["max"]) for name, s in values.items()}
  metrics = {name: v for name, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
  if not metrics:
    raise ValueError(f"{file}: block {block!r} holds no metric values")
  return {name: (float(v), float(v), float(v)) for name, v in metrics.items()}


def quality_table(dataset: str, rows: dict[str, str], metrics: list[str]) -> list[dict]:
  """[{'row', metric: value, metric + '_low', metric + '_high', metric + '_of_min'}] in the order given.

  Raises ValueError naming the row that lacks a metric.
  """
  table = []
  for name, path in rows.items():
    values = read_row(path)
    missing = [m for m in metrics if m not in values]
    if missing:
      raise ValueError(f"row {name!r} ({path}) has no {missing}; it has {sorted(values)}")
    entry = {"row": name}
    for m in metrics:
      entry[m], entry[m + "_low"], entry[m + "_high"] = values[m]
    fractions = published_lib.fraction_of({m: entry[m] for m in metrics}, dataset)
    entry.update({m + "_of_min": f for m, f in fractions.items()})
    table.append(entry)
  return table


def markdown(dataset: str, table: list[dict], metrics: list[str]) -> str:
  """'| row | metric (of MINIMUM) | ...' with each value and its fraction of the minimum target."""
  target = published_lib.MINIMUM[dataset]
  lines = ["| row | " + " | ".join(f"{m} (of {target})" for m in metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
  for entry in table:
    cells = [
      f"{entry[m]:.4f} ({entry[m + '_of_min']:.0%})" if m + "_of_min" in entry else f"{entry[m]:.4f}" for m in metrics
    ]
    lines.append(f"| {entry['row']} | " + " | ".join(cells) + " |")
  reference = published_lib.published(dataset)
  for model, values in reference.items():
    lines.append(
      f"| {model} (published) | " + " | ".join(f"{values[m]:.4f}" if m in values else "-" for m in metrics) + " |"
    )
  return "\n".join(lines)


def plot(dataset: str, table: list[dict], metrics: list[str], path: str) -> str:
  """One panel per metric: a horizontal bar per row (error bar = min-max over seeds), a vertical line per
  published model (the minimum target solid, the rest dashed). Writes `path` (PNG)."""
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  reference = published_lib.published(dataset)
  target = published_lib.MINIMUM[dataset]
  fig, axes = plt.subplots(1, len(metrics), figsize=(4.8 * len(metrics), 0.45 * len(table) + 2.4), squeeze=False)
  colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
  for ax, m in zip(axes[0], metrics):
    names = [e["row"] for e in table][::-1]
    values = [e[m] for e in table][::-1]
    errors = [[e[m] - e[m + "_low"] for e in table][::-1], [e[m + "_high"] - e[m] for e in table][::-1]]
    ax.barh(names, values, color="tab:blue", alpha=0.8)
    ax.errorbar(values, names, xerr=errors, fmt="none", ecolor="black", capsize=3)  # zero for single runs
    for i, (model, published_values) in enumerate(reference.items()):
      if m in published_values:
        style = "-" if model == target else "--"
        ax.axvline(published_values[m], color=colors[(i + 1) % len(colors)], linestyle=style, label=model, lw=1.2)
    ax.set_title(f"{dataset}: test {m}", fontsize=9)
    ax.tick_params(axis="y", labelsize=8)
  handles, labels = axes[0][-1].get_legend_handles_labels()
  fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=7, frameon=False)
  fig.tight_layout(rect=(0, 0.08, 1, 1))
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def main(argv):
  from absl import flags

  from experiments.plot_curves import parse_runs

  del argv
  f = flags.FLAGS
  rows = parse_runs(f.rows)
  table = quality_table(f.dataset, rows, f.metrics)
  plot(f.dataset, table, f.metrics, f.out or f"quality_{f.dataset}.png")
  print(markdown(f.dataset, table, f.metrics))


if __name__ == "__main__":
  from absl import app, flags

  from experiments import common_flags  # noqa: F401  (defines --dataset, --out)

  flags.DEFINE_list("rows", [], "NAME=PATH pairs: metrics JSON, run workdir or seed-spread JSON")
  flags.DEFINE_list("metrics", ["recall@10", "ndcg@10"], "metric names, one panel each")
  app.run(main)
