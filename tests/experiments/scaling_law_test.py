"""The scaling-law fit recovers a known exponent; the bootstrap interval covers it; the plot is written."""

import numpy as np
import pytest

from experiments import scaling_law


def test_exact_points_give_the_law_back():
  n = np.geomspace(1e5, 1e9, 8)
  law = scaling_law.fit(n, 3.13 + 3660 / n**0.489, bootstrap=50)
  assert law.alpha == pytest.approx(0.489, abs=1e-3)
  assert law.E == pytest.approx(3.13, rel=1e-3) and law.A == pytest.approx(3660, rel=2e-2)


def test_noisy_points_bootstrap_interval_covers_the_exponent(tmp_path):
  rng = np.random.default_rng(0)
  n = np.repeat(np.geomspace(1e4, 1e8, 6), 3)
  loss = 2.0 + 50.0 / n**0.3 * np.exp(rng.normal(0, 0.01, n.shape))
  law = scaling_law.fit(n, loss, bootstrap=200)
  lo, hi = law.intervals["alpha"]
  assert lo <= 0.3 <= hi and hi - lo < 0.3
  assert abs(law.alpha - 0.3) < 0.1
  path = scaling_law.plot(law, str(tmp_path / "law.png"))
  assert open(path, "rb").read(8).startswith(b"\x89PNG")


def test_rows_and_errors():
  rows = [{"status": "finished", "p": float(p), "loss": 1 + 1 / p**0.5} for p in (10, 100, 1000, 10000)]
  rows.append({"status": "failed", "p": 5.0})
  law = scaling_law.fit_rows(rows, "p", "loss", bootstrap=20)
  assert law.alpha == pytest.approx(0.5, abs=1e-2) and law.summary()["points"] == 4
  with pytest.raises(ValueError, match="4 or more points"):
    scaling_law.fit([1, 2, 3], [1, 1, 1])
  # Only the named rows are fitted: an off-law row (an MoE run at its total size) leaves the law as it is.
  named = [dict(r, run=f"d{i}") for i, r in enumerate(rows)] + [
    {"run": "moe", "status": "finished", "p": 50.0, "loss": 9.0}
  ]
  law = scaling_law.fit_rows(named, "p", "loss", runs=["d0", "d1", "d2", "d3"], bootstrap=20)
  assert law.alpha == pytest.approx(0.5, abs=1e-2) and law.summary()["points"] == 4
  with pytest.raises(ValueError, match="not rows of the table"):
    scaling_law.fit_rows(named, "p", "loss", runs=["d0", "nope"])


def test_compute_frontier_from_eval_histories(tmp_path):
  """Two runs: the small one is best early, the large one later; the frontier takes each where it wins."""
  import json

  histories = {"small": [(1, 3.0), (2, 2.6), (3, 2.5)], "large": [(1, 3.5), (2, 2.4), (3, 2.0)]}
  flops = {"small": 1.0, "large": 4.0}
  rows = []
  for run, points in histories.items():
    (tmp_path / run).mkdir()
    history = [{"step": s, "valid": {"heldout_loss": {"per_token": l}}} for s, l in points]
    (tmp_path / run / "eval_history.json").write_text(json.dumps(history))
    rows.append({"run": run, "status": "finished", "flops_per_step": flops[run]})
  rows.append({"run": "broken", "status": "failed"})
  curves = scaling_law.compute_curves(str(tmp_path), rows)
  np.testing.assert_array_equal(curves["large"][0], [4.0, 8.0, 12.0])
  c, loss, runs = scaling_law.pareto_frontier(curves)
  assert list(c) == [1.0, 2.0, 3.0, 8.0, 12.0] and runs == ["small", "small", "small", "large", "large"]
  assert np.all(np.diff(loss) < 0)
  path = scaling_law.plot_compute(curves, None, (c, loss, runs), str(tmp_path / "c.png"))
  assert open(path, "rb").read(4) == b"\x89PNG"
  rows[0]["run"] = "missing"
  with pytest.raises(FileNotFoundError, match="no evaluation history"):
    scaling_law.compute_curves(str(tmp_path), rows)
