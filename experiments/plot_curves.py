r"""Curves of logged scalars across runs, one panel per tag, from each run's scalars.jsonl (PNG).

  python -m experiments.plot_curves --runs=ecpo=~/runs/ecpo_study/ecpo_g32,grpo=~/runs/ecpo_study/grpo_g32 \
      --tags=train/grad_norm_max,train/rl/ratio_max,train/rl/reward_mean --out=experiments/results/ecpo_vs_grpo.png

`--runs` is NAME=WORKDIR pairs (or bare workdirs, named by their folder). Callable from a notebook:
`plot_curves.plot({"a": dir_a}, ["train/loss"], "loss.png")`. A tag a run did not log is left out of its
panel, with a warning naming the run; a tag no run logged is an error.
"""

from __future__ import annotations

import logging
import os

from onerec_jax.train.summaries import read_scalars


def plot(runs: dict[str, str], tags: list[str], path: str, log_y: bool = False) -> dict:
  """One panel per tag, one line per run; writes `path` (PNG). Returns {tag: {run: (steps, values)}}."""
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  curves = {tag: {} for tag in tags}
  for name, workdir in runs.items():
    scalars = read_scalars(os.path.expanduser(workdir))
    for tag in tags:
      if tag in scalars:
        curves[tag][name] = scalars[tag]
      else:
        logging.warning("run %s (%s) logged no %r", name, workdir, tag)
  missing = [tag for tag, by_run in curves.items() if not by_run]
  if missing:
    raise ValueError(f"no run logged {missing}; runs: {runs}")
  fig, axes = plt.subplots(1, len(tags), figsize=(4.5 * len(tags), 3.5), squeeze=False)
  for ax, tag in zip(axes[0], tags):
    for name, (steps, values) in curves[tag].items():
      ax.plot(steps, values, marker=".", label=name)
    ax.set_title(tag, fontsize=9)
    ax.set_xlabel("step")
    if log_y:
      ax.set_yscale("log")
    ax.legend(fontsize=8)
  fig.tight_layout()
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return curves


def scatter_rows(rows: list[dict], x: str, y: str, path: str, reference: dict | None = None) -> str:
  """A sweep table's finished rows as labelled points (x, y) (for trade-offs, e.g. Recall@10 against
  true engagement); `reference` = {label: (x, y)} adds marked points such as the starting model."""
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  points = [(r[x], r[y], r["run"]) for r in rows if r.get("status") == "finished" and x in r and y in r]
  if not points:
    raise ValueError(f"no finished row has both {x!r} and {y!r}")
  fig, ax = plt.subplots(figsize=(6, 4.5))
  for px, py, run in points:
    ax.scatter(px, py, color="tab:blue")
    ax.annotate(run, (px, py), fontsize=7, xytext=(3, 3), textcoords="offset points")
  for label, (px, py) in (reference or {}).items():
    ax.scatter(px, py, color="black", marker="*", s=120)
    ax.annotate(label, (px, py), fontsize=8, xytext=(3, -10), textcoords="offset points")
  ax.set_xlabel(x)
  ax.set_ylabel(y)
  fig.tight_layout()
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def parse_runs(items: list[str]) -> dict[str, str]:
  """['name=dir', 'dir2'] -> {'name': 'dir', basename(dir2): 'dir2'}."""
  runs = {}
  for item in items:
    name, sep, workdir = item.partition("=")
    if not sep:
      name, workdir = os.path.basename(os.path.normpath(item)), item
    runs[name] = workdir
  return runs


def main(argv):
  from absl import flags

  del argv
  f = flags.FLAGS
  plot(parse_runs(f.runs), f.tags, f.out, f.log_y)
  print(f.out)


if __name__ == "__main__":
  from absl import app, flags

  flags.DEFINE_list("runs", [], "NAME=WORKDIR pairs (or workdirs) of the runs to compare")
  flags.DEFINE_list("tags", ["train/loss"], "scalar tags, one panel each (e.g. train/loss, train/grad_norm_max)")
  flags.DEFINE_string("out", "curves.png", "PNG to write")
  flags.DEFINE_bool("log_y", False, "logarithmic y axis")
  app.run(main)
