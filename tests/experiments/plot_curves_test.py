"""Curves of several runs' scalars and the labelled scatter of a sweep table are written as PNG."""

import pytest

from experiments import plot_curves
from onerec_jax.train.summaries import Summaries


def test_curves_and_scatter(tmp_path):
  for name, scale in (("a", 1.0), ("b", 2.0)):
    s = Summaries(str(tmp_path / name))
    for step in (1, 2, 3):
      s.scalars(step, {"train/loss": scale / step})
    s.close()
  runs = plot_curves.parse_runs([f"first={tmp_path / 'a'}", str(tmp_path / "b")])
  assert list(runs) == ["first", "b"]
  curves = plot_curves.plot(runs, ["train/loss"], str(tmp_path / "c.png"))
  assert curves["train/loss"]["b"] == ([1, 2, 3], [2.0, 1.0, 2.0 / 3])
  assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
  with pytest.raises(ValueError, match="no run logged"):
    plot_curves.plot(runs, ["train/nothing"], str(tmp_path / "d.png"))
  rows = [{"run": "x", "status": "finished", "r": 0.1, "e": 6.0}, {"run": "y", "status": "failed"}]
  path = plot_curves.scatter_rows(rows, "r", "e", str(tmp_path / "s.png"), reference={"start": (0.2, 5.0)})
  assert open(path, "rb").read(4) == b"\x89PNG"
