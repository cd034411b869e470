r"""Scaling laws fitted to a sweep table: L(N) = E + A / N^alpha (and the compute form L(C)), with
bootstrap confidence intervals, and their plot. Callable from a notebook on any sweep's rows:

  from experiments import scaling_law, sweep
  rows = sweep.collect(registry.get_sweep("..."), "~/runs/...")       # or json.load(sweep.json)["rows"]
  law = scaling_law.fit_rows(rows, x="params_non_embedding", y="valid_loss")
  scaling_law.plot(law, "law.png")

  python -m experiments.scaling_law --table=~/runs/sweep/sweep.json --x=params_non_embedding --y=loss \
      --out=experiments/results/scaling.png [--compute] [--fit_runs=d8,d16,d32]

--fit_runs fits only the named rows (the dense ones of a sweep with MoE rows); the other finished rows are
drawn beside the law at --extra_x (default: their activated non-embedding parameters) and listed in the
JSON as not fitted.

With --compute, L(C) is fitted on the compute-optimal frontier: every run's held-out loss at each of its
evaluations (eval_history.json) against the training FLOPs spent so far, and the points no cheaper point
of any run beats (`compute_curves`, `pareto_frontier`, `plot_compute`; written as OUT_compute.png).

The fit: for a fixed alpha the law is linear in (E, A), so E and A come from least squares and alpha from
a one-dimensional search (a grid, then golden-section refinement) of the squared error; the bootstrap
refits resampled points. OneRec-V2 reports alpha = 0.489 over dense models of 0.1B to 8B (PAPER.md).
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np


@dataclasses.dataclass
class Law:
  """L(x) = E + A / x^alpha with bootstrap percentile intervals (lo, hi) at `level`."""

  E: float
  A: float
  alpha: float
  x: np.ndarray
  y: np.ndarray
  intervals: dict[str, tuple[float, float]]
  level: float = 0.9
  x_name: str = "N"
  y_name: str = "L"

  def __call__(self, x) -> np.ndarray:
    return self.E + self.A / np.asarray(x, np.float64) ** self.alpha

  def summary(self) -> dict:
    return {
      "E": self.E,
      "A": self.A,
      "alpha": self.alpha,
      "points": int(len(self.x)),
      "level": self.level,
      "intervals": {k: list(v) for k, v in self.intervals.items()},
      "x": self.x_name,
      "y": self.y_name,
    }


def _linear_fit(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[float, float, float]:
  """(E, A, squared error) of the least-squares fit of y = E + A x^-alpha, alpha fixed."""
  design = np.stack([np.ones_like(x), x**-alpha], axis=1)
  (e, a), *_ = np.linalg.lstsq(design, y, rcond=None)
  return float(e), float(a), float(np.sum((design @ np.array([e, a]) - y) ** 2))


def _fit_alpha(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> tuple[float, float, float]:
  grid = np.linspace(lo, hi, 200)
  errors = [_linear_fit(x, y, a)[2] for a in grid]
  i = int(np.argmin(errors))
  a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
  ratio = (np.sqrt(5) - 1) / 2
  for _ in range(60):  # golden-section search on the bracketing interval
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    if _linear_fit(x, y, c)[2] < _linear_fit(x, y, d)[2]:
      b = d
    else:
      a = c
  alpha = (a + b) / 2
  e, amp, _ = _linear_fit(x, y, alpha)
  return e, amp, alpha


def fit(
  x,
  y,
  *,
  bootstrap: int = 1000,
  level: float = 0.9,
  alpha_range=(0.01, 3.0),
  seed: int = 0,
  x_name: str = "N",
  y_name: str = "L",
) -> Law:
  """Fits L = E + A / x^alpha to points (x [n] > 0, y [n]); n >= 4 (three parameters and some slack)."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  ok = np.isfinite(x) & np.isfinite(y) & (x > 0)
  x, y = x[ok], y[ok]
  if len(x) < 4 or len(np.unique(x)) < 3:
    raise ValueError(f"a power law needs 4 or more points at 3 or more distinct x; got {len(x)} points")
  # Scale x so that x^-alpha stays well conditioned for x in the billions.
  scale = float(np.exp(np.mean(np.log(x))))
  e, a, alpha = _fit_alpha(x / scale, y, *alpha_range)
  rng = np.random.default_rng(seed)
  draws = []
  for _ in range(bootstrap):
    idx = rng.integers(0, len(x), len(x))
    if len(np.unique(x[idx])) < 3:
      continue
    be, ba, balpha = _fit_alpha(x[idx] / scale, y[idx], *alpha_range)
    draws.append((be, ba * scale**balpha, balpha))
  draws = np.asarray(draws)
  q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
  intervals = (
    {name: tuple(float(v) for v in np.percentile(draws[:, j], q)) for j, name in enumerate(("E", "A", "alpha"))}
    if len(draws)
    else {}
  )
  return Law(e, a * scale**alpha, alpha, x, y, intervals, level, x_name, y_name)


def fit_rows(rows: list[dict], x: str, y: str, runs=None, **kwargs) -> Law:
  """Fits the law to a sweep table's finished rows (experiments.sweep.collect / sweep.json), or to those
  of them named in `runs` (for example the dense rows of a sweep that also has MoE rows)."""
  if runs:
    unknown = set(runs) - {r.get("run") for r in rows}
    if unknown:
      raise ValueError(f"runs {sorted(unknown)} are not rows of the table (rows: {[r.get('run') for r in rows]})")
    rows = [r for r in rows if r.get("run") in set(runs)]
  points = [(r[x], r[y]) for r in rows if r.get("status", "finished") == "finished" and x in r and y in r]
  if not points:
    raise ValueError(f"no finished row has both {x!r} and {y!r}")
  xs, ys = zip(*points)
  return fit(xs, ys, x_name=x, y_name=y, **kwargs)


def plot(law: Law, path: str, reference_alpha: float | None = 0.489, extra=()) -> str:
  """Log-x plot of the points, the fitted law and (dashed) a law with the reference exponent through the
  same E and the middle point; `extra` (label, x, y) points not in the fit (for example MoE runs at their
  activated size) are drawn beside them. Writes a PNG and returns its path."""
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(6, 4))
  grid = np.geomspace(law.x.min() / 1.5, law.x.max() * 1.5, 200)
  ax.scatter(law.x, law.y, color="black", zorder=3, label="runs (fitted)")
  for label, px, py in extra:
    ax.scatter([px], [py], marker="^", zorder=3, label=label)
  ci = law.intervals.get("alpha")
  label = f"fit: {law.E:.3g} + {law.A:.3g} / N^{law.alpha:.3f}" + (f" (alpha {ci[0]:.2f}..{ci[1]:.2f})" if ci else "")
  ax.plot(grid, law(grid), label=label)
  if reference_alpha is not None:
    mid = np.argsort(law.x)[len(law.x) // 2]
    a_ref = (law.y[mid] - law.E) * law.x[mid] ** reference_alpha
    ax.plot(grid, law.E + a_ref / grid**reference_alpha, "--", label=f"alpha = {reference_alpha} (OneRec-V2)")
  ax.set_xscale("log")
  ax.set_xlabel(law.x_name)
  ax.set_ylabel(law.y_name)
  ax.legend(fontsize=8)
  fig.tight_layout()
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return path


def compute_curves(sweep_dir: str, rows: list[dict], split: str = "valid") -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """{run: (training FLOPs C at each evaluation, held-out loss per token)} from each finished run's
  eval_history.json (runs evaluated every eval.eval_every steps); C = analytic FLOPs per step x step."""
  curves = {}
  for row in rows:
    if row.get("status") != "finished":
      continue
    path = os.path.join(os.path.expanduser(sweep_dir), row["run"], "eval_history.json")
    if not os.path.exists(path):
      raise FileNotFoundError(f"{path}: run {row['run']!r} has no evaluation history (train with eval.eval_every > 0)")
    history = json.load(open(path))
    points = [
      (h["step"] * row["flops_per_step"], h[split]["heldout_loss"]["per_token"]) for h in history if h["step"] > 0
    ]
    if points:
      c, loss = zip(*sorted(points))
      curves[row["run"]] = (np.asarray(c, np.float64), np.asarray(loss, np.float64))
  if not curves:
    raise ValueError(f"no finished run under {sweep_dir} has an evaluation history")
  return curves


def pareto_frontier(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
  """The compute-optimal points: those with a lower loss than every point of any run at less compute
  (the lower envelope of the loss-compute curves). Returns (C [m], L [m], run of each point)."""
  points = sorted((c, l, run) for run, (cs, ls) in curves.items() for c, l in zip(cs, ls))
  keep, best = [], np.inf
  for c, l, run in points:
    if l < best:
      keep.append((c, l, run))
      best = l
  c, l, runs = zip(*keep)
  return np.asarray(c), np.asarray(l), list(runs)


def plot_compute(curves, law: Law | None, frontier, path: str) -> str:
  """Loss against training FLOPs: each run's curve, the compute-optimal frontier and its fit L(C)."""
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(6.5, 4))
  for run, (c, l) in curves.items():
    ax.plot(c, l, marker=".", alpha=0.7, label=run)
  fc, fl, _ = frontier
  ax.scatter(fc, fl, s=60, facecolors="none", edgecolors="black", zorder=3, label="frontier")
  if law is not None:
    grid = np.geomspace(fc.min() / 1.5, fc.max() * 1.5, 200)
    ax.plot(grid, law(grid), "k--", label=f"L(C) = {law.E:.3g} + {law.A:.3g} / C^{law.alpha:.3f}")
  ax.set_xscale("log")
  ax.set_xlabel("training FLOPs (analytic matmuls)")
  ax.set_ylabel("held-out loss (nats per ID token)")
  ax.legend(fontsize=7)
  fig.tight_layout()
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return path


def main(argv):
  from absl import flags

  del argv
  f = flags.FLAGS
  table = json.load(open(os.path.expanduser(f.table)))
  rows = table["rows"] if isinstance(table, dict) else table
  law = fit_rows(rows, f.x, f.y, runs=f.fit_runs)
  fitted = {r.get("run") for r in rows} if not f.fit_runs else set(f.fit_runs)
  others = [r for r in rows if r.get("run") not in fitted and r.get("status") == "finished" and f.y in r]
  extra = [(f"{r['run']} (at {f.extra_x})", r[f.extra_x], r[f.y]) for r in others if f.extra_x in r]
  out = f.out or "scaling.png"
  plot(law, out, extra=extra)
  summary = {"size": law.summary(), "not_fitted": [{"run": lab, "x": x, "y": y} for lab, x, y in extra]}
  if f.compute:  # the compute form from the runs' evaluation histories, beside the sweep table
    curves = compute_curves(os.path.dirname(os.path.expanduser(f.table)), [r for r in rows if r.get("run") in fitted])
    frontier = pareto_frontier(curves)
    compute_law = fit(frontier[0], frontier[1], x_name="C", y_name=f.y) if len(frontier[0]) >= 4 else None
    plot_compute(curves, compute_law, frontier, os.path.splitext(out)[0] + "_compute.png")
    summary["compute"] = {
      "law": compute_law.summary() if compute_law else None,
      "frontier": [{"flops": float(c), "loss": float(l), "run": r} for c, l, r in zip(*frontier)],
    }
  with open(os.path.splitext(out)[0] + ".json", "w") as fh:
    json.dump(summary, fh, indent=1)
  print(json.dumps(summary, indent=1))


if __name__ == "__main__":
  from absl import app, flags
  from experiments import common_flags  # noqa: F401  (defines --out)

  flags.DEFINE_string("table", None, "sweep.json (or a JSON list of rows)")
  flags.DEFINE_string("x", "params_non_embedding", "column of the size (or compute: train_flops)")
  flags.DEFINE_string("y", "loss", "column of the loss")
  flags.DEFINE_bool("compute", False, "also fit L(C) on the compute-optimal frontier of the runs' eval histories")
  flags.DEFINE_list("fit_runs", [], "fit only these rows (default: every finished row); the others are drawn beside")
  flags.DEFINE_string("extra_x", "params_activated_non_embedding", "x column of the rows drawn but not fitted")
  app.run(main)
