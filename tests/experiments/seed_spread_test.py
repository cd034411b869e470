"""experiments.seed_spread: mean and sample spread over seeds, and clear errors for unfinished runs."""

import json
import subprocess
import sys

import numpy as np
import pytest

from experiments import seed_spread


def _write(path, recall, ndcg, popular=0.011):
  path.mkdir(parents=True, exist_ok=True)
  metrics = {"model": {"recall@10": recall, "ndcg@10": ndcg}, "popularity": {"recall@10": popular}}
  (path / "metrics.json").write_text(json.dumps(metrics))
  return str(path)


def test_spread_over_workdirs_and_files(tmp_path):
  runs = [_write(tmp_path / "s0", 0.05, 0.030), _write(tmp_path / "s1", 0.06, 0.028)]
  runs.append(str(tmp_path / "s2.json"))
  (tmp_path / "s2.json").write_text(json.dumps({"model": {"recall@10": 0.07, "ndcg@10": 0.035}}))
  summary = seed_spread.seed_spread(runs, ["recall@10", "ndcg@10"])
  recall = summary["model"]["recall@10"]
  assert recall["values"] == [0.05, 0.06, 0.07]
  assert recall["mean"] == pytest.approx(0.06)
  assert recall["std"] == pytest.approx(np.std([0.05, 0.06, 0.07], ddof=1))
  assert (recall["min"], recall["max"], recall["n"]) == (0.05, 0.07, 3)
  # The third file has no popularity block: the baseline is not summarised over a partial sample.
  assert summary["popularity"] == {}
  table = seed_spread.markdown(summary)
  assert "0.0600 ± 0.0100 (0.0500-0.0700)" in table


def test_one_run_has_zero_spread_and_defaults_to_all_metrics(tmp_path):
  summary = seed_spread.seed_spread([_write(tmp_path / "s0", 0.05, 0.03)])
  assert sorted(summary["model"]) == ["ndcg@10", "recall@10"]
  assert summary["model"]["ndcg@10"]["std"] == 0.0
  assert summary["popularity"]["recall@10"]["mean"] == 0.011


def test_errors_name_the_run(tmp_path):
  with pytest.raises(FileNotFoundError, match="unfinished"):
    seed_spread.seed_spread([str(tmp_path / "unfinished")])
  run = _write(tmp_path / "s0", 0.05, 0.03)
  with pytest.raises(ValueError, match="s0.*no \\['hr@200'\\]"):
    seed_spread.seed_spread([run], ["hr@200"])
  with pytest.raises(ValueError, match="empty"):
    seed_spread.seed_spread([])


def test_command_line_writes_the_summary(tmp_path):
  runs = ",".join([_write(tmp_path / "a", 0.05, 0.03), _write(tmp_path / "b", 0.07, 0.04)])
  out = tmp_path / "spread.json"
  subprocess.run(
    [sys.executable, "-m", "experiments.seed_spread", f"--runs={runs}", "--metrics=recall@10", f"--out={out}"],
    check=True,
    capture_output=True,
  )
  assert json.loads(out.read_text())["model"]["recall@10"]["mean"] == pytest.approx(0.06)


def test_runs_that_picked_a_step_give_that_steps_test_figures(tmp_path):
  """A run with eval.select_metric reports its selected step's test block, not the last step's `model`."""
  picked = tmp_path / "picked.json"
  picked.write_text(
    json.dumps(
      {
        "model": {"recall@10": 0.060, "ndcg@10": 0.030},  # the last step
        "selected": {"metric": "recall@10", "step": 6000, "test": {"recall@10": 0.066, "ndcg@10": 0.036}},
      }
    )
  )
  summary = seed_spread.seed_spread([str(picked), _write(tmp_path / "plain", 0.064, 0.034)], ["recall@10"])
  assert summary["blocks"] == ["selected.test", "model"]
  assert summary["model"]["recall@10"]["values"] == [0.066, 0.064]
