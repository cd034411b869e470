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
