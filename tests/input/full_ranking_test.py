"""Full-catalogue ranking with history exclusion, by hand (ties, absent and excluded targets).

(Lives in tests/input for file-ownership reasons; its natural home is tests/evaluation.)
"""

import numpy as np
import pytest

from onerec_jax.evaluation.full_ranking import full_ranking_metrics, target_ranks, top_k_items
from onerec_jax.evaluation.metrics import metrics_from_ranks, ranking_metrics

SCORES = np.array(
  [
    [0.1, 0.9, 0.5, 0.9, 0.0],  # tie between items 1 and 3 at the top
    [0.3, 0.2, 0.1, 0.0, 0.4],
    [0.5, 0.5, 0.5, 0.5, 0.5],  # all tied
  ]
)


def test_ranks_by_hand_with_ties():
  # Tie rule: lower item index first. Row 0: order 1, 3, 2, 0, 4.
  np.testing.assert_array_equal(target_ranks(SCORES, np.array([3, 0, 2])), [2, 2, 3])
  np.testing.assert_array_equal(target_ranks(SCORES, np.array([1, 4, 0])), [1, 1, 1])
  np.testing.assert_array_equal(top_k_items(SCORES, 3), [[1, 3, 2], [4, 0, 1], [0, 1, 2]])


def test_exclusion_removes_history_and_absent_targets_miss():
  exclude = np.array([[1, -1], [4, 0], [0, 2]])
  # Row 0 without item 1: 3, 2, 0, 4 -> target 3 is first. Row 1 without 4, 0: 1, 2, 3 -> target 3 third.
  # Row 2's target 2 is in the history: absent (rank 0).
  np.testing.assert_array_equal(target_ranks(SCORES, np.array([3, 3, 2]), exclude), [1, 3, 0])
  np.testing.assert_array_equal(top_k_items(SCORES, 4, exclude), [[3, 2, 0, 4], [1, 2, 3, -1], [1, 3, 4, -1]])
  np.testing.assert_array_equal(target_ranks(SCORES, np.array([-1, 0, 0])), [0, 2, 1])  # no target: a miss


def test_metrics_by_hand():
  m = full_ranking_metrics(SCORES, np.array([3, 3, 2]), ks=(1, 3), exclude=np.array([[1, -1], [4, 0], [0, 2]]))
  assert m["hr@1"] == pytest.approx(1 / 3) and m["recall@3"] == pytest.approx(2 / 3)
  assert m["ndcg@3"] == pytest.approx((1 + 1 / np.log2(4)) / 3)
  assert m["mrr@3"] == pytest.approx((1 + 1 / 3) / 3)


def test_agrees_with_list_metrics():
  rng = np.random.default_rng(0)
  scores = rng.integers(0, 4, (50, 30)).astype(float)  # many ties
  targets = rng.integers(0, 30, 50)
  history = rng.integers(-1, 30, (50, 6))
  ranks = target_ranks(scores, targets, history)
  ranked = top_k_items(scores, 30, history)
  listed = ranking_metrics(ranked, targets, ks=(1, 5, 10))
  ours = metrics_from_ranks(ranks, ks=(1, 5, 10))
  for k in (1, 5, 10):
    assert ours[f"recall@{k}"] == pytest.approx(listed[f"recall@{k}"])
    assert ours[f"ndcg@{k}"] == pytest.approx(listed[f"ndcg@{k}"])
  assert ours["mrr@10"] == pytest.approx(listed["mrr@10"])
