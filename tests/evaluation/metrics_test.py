"""Ranking metrics against hand-computed cases (ties, duplicates, absent targets)."""

import numpy as np
import pytest

from onerec_jax.evaluation.metrics import dedupe_ranked, first_hit_rank, mrr, ndcg_at_k, ranking_metrics, recall_at_k


def test_hand_computed():
  ranked = np.array([[5, 3, 9], [1, 2, 3], [7, 7, 4], [-1, -1, -1]])
  targets = np.array([3, 9, 4, 0])
  np.testing.assert_array_equal(first_hit_rank(ranked, targets), [2, 0, 3, 0])
  assert recall_at_k(ranked, targets, 1) == 0.0
  assert recall_at_k(ranked, targets, 2) == 0.25
  assert recall_at_k(ranked, targets, 3) == 0.5
  assert ndcg_at_k(ranked, targets, 3) == pytest.approx((1 / np.log2(3) + 1 / np.log2(4)) / 4)
  assert mrr(ranked, targets) == pytest.approx((1 / 2 + 1 / 3) / 4)


def test_first_occurrence_counts_and_padding_never_hits():
  ranked = np.array([[2, 2, 2], [-1, 0, 0]])
  targets = np.array([2, -1])
  np.testing.assert_array_equal(first_hit_rank(ranked, targets), [1, 0])


def test_dedupe_keeps_order_and_pads():
  out = dedupe_ranked(np.array([[4, 4, -1, 2, 4, 7], [1, 1, 1, 1, 1, 1]]), 3)
  np.testing.assert_array_equal(out, [[4, 2, 7], [1, -1, -1]])


def test_ranking_metrics_keys():
  m = ranking_metrics(np.array([[1, 2]]), np.array([2]), ks=(1, 2))
  assert m == pytest.approx({"recall@1": 0.0, "ndcg@1": 0.0, "recall@2": 1.0, "ndcg@2": 1 / np.log2(3),
                             "mrr": 0.5})
