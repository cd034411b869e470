"""Reward-model selection: the evaluator shows the top K of N beam candidates by P-Score, beside beam order."""

import numpy as np
import pytest

from experiments import registry
from onerec_jax.evaluation.reward_selection import select_by_reward
from onerec_jax.train.trainer import evaluate_workdir, train_and_evaluate


def test_select_by_reward_orders_candidates_and_keeps_padding_last():
  candidates = np.array([[5, 3, 9, -1], [1, 2, -1, -1]])
  scores = np.array([[0.1, 0.9, 0.5, 7.0], [0.0, 0.0, 3.0, 3.0]])
  np.testing.assert_array_equal(select_by_reward(candidates, scores, 3), [[3, 9, 5], [1, 2, -1]])


@pytest.mark.slow
def test_evaluator_reranks_beam_candidates_by_the_reward_model(tmp_path):
  sft = registry.get("quickstart_tiny")
  sft.train.num_steps = 10
  train_and_evaluate(sft, str(tmp_path / "sft"))
  train_and_evaluate(registry.get("reward_synthetic_tiny"), str(tmp_path / "reward"))
  results = evaluate_workdir(
    str(tmp_path / "sft"),
    overrides=[f"eval.select_by={tmp_path / 'reward'}", "eval.select_candidates=30"],
    out=str(tmp_path / "selected.json"),
  )
  assert results["selection"]["candidates"] == 30 and results["legal_rate"] == 1.0
  assert set(results["beam_order"]) == set(results["model"])
  truth = results["ground_truth_engagement@10"]
  assert "beam_order" in truth and truth["model"] != truth["beam_order"]  # a different top 10 was shown
  with pytest.raises(ValueError, match="not a reward-model"):
    evaluate_workdir(
      str(tmp_path / "sft"), overrides=[f"eval.select_by={tmp_path / 'sft'}"], out=str(tmp_path / "bad.json")
    )
