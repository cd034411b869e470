"""experiments.tune_decoding: the grid parser and one tuning pass over a trained tiny run."""

import json
import os
import subprocess
import sys

import pytest

from experiments.tune_decoding import parse_grid


def test_grid_starts_with_the_models_distribution_and_drops_repeats():
  assert parse_grid("0.5,1,2; 1,1,1 ;0.5,1,2;", 3) == [(1.0, 1.0, 1.0), (0.5, 1.0, 2.0)]
  assert parse_grid("", 2) == [(1.0, 1.0)]


@pytest.mark.parametrize("grid, message", [("1,1", "candidate 0 .* 3 positive"), ("1,1,1;1,x,1", "candidate 1")])
def test_bad_grid_names_the_candidate(grid, message):
  with pytest.raises(ValueError, match=message):
    parse_grid(grid, 3)


@pytest.mark.slow
def test_tuning_pass_scores_each_candidate_on_valid(tmp_path):
  from experiments import registry
  from onerec_jax.config_overrides import apply_overrides
  from onerec_jax.train.trainer import train_and_evaluate

  config = registry.get("quickstart:tiny")
  apply_overrides(config, ["train.num_steps=3", "eval.max_users=40"])
  workdir = str(tmp_path / "run")
  train_and_evaluate(config, workdir)
  levels = config.tokenizer.id_length
  sharp_first = ",".join(["0.1"] + ["1"] * (levels - 1))
  out = str(tmp_path / "grid.json")
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  done = subprocess.run(
    [
      sys.executable,
      "-m",
      "experiments.tune_decoding",
      f"--workdir={workdir}",
      f"--out={out}",
      f"--grid={sharp_first}",
    ],
    cwd=root,
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert done.returncode == 0, done.stderr[-3000:]
  table = json.load(open(out))
  assert table["split"] == "valid" and table["num_users"] == 40
  assert [r["level_temperatures"] for r in table["rows"]] == [[1.0] * levels, [0.1] + [1.0] * (levels - 1)]
  for row in table["rows"]:
    assert 0 <= row["ndcg@10"] <= row["recall@10"] <= 1
  assert "best ndcg@10 on valid" in done.stdout or "best recall@10 on valid" in done.stdout
