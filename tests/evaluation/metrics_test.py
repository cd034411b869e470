"""Ranking metrics against hand-computed cases (ties, duplicates, absent targets, exclusion)."""

import numpy as np
import pytest

from onerec_jax.evaluation.metrics import (
  dedupe_ranked,
  first_hit_rank,
  history_share,
  metrics_from_ranks,
  ranking_metrics,
)


def test_hand_computed():
  ranked = np.array([[5, 3, 9], [1, 2, 3], [7, 7, 4], [-1, -1, -1]])
  targets = np.array([3, 9, 4, 0])
  np.testing.assert_array_equal(first_hit_rank(ranked, targets), [2, 0, 3, 0])
  m = ranking_metrics(ranked, targets, ks=(1, 2, 3))
  assert m["recall@1"] == 0.0
  assert m["recall@2"] == 0.25
  assert m["hr@3"] == m["recall@3"] == 0.5
  assert m["ndcg@3"] == pytest.approx((1 / np.log2(3) + 1 / np.log2(4)) / 4)
  assert m["mrr@3"] == pytest.approx((1 / 2 + 1 / 3) / 4)


def test_mrr_is_cut_at_the_largest_k():
  m = metrics_from_ranks(np.array([1, 4, 0]), ks=(2, 3))
  assert set(m) == {"hr@2", "recall@2", "ndcg@2", "hr@3", "recall@3", "ndcg@3", "mrr@3"}
  assert m["mrr@3"] == pytest.approx(1 / 3)  # rank 4 is beyond K = 3


def test_first_occurrence_counts_and_padding_never_hits():
  ranked = np.array([[2, 2, 2], [-1, 0, 0]])
  targets = np.array([2, -1])
  np.testing.assert_array_equal(first_hit_rank(ranked, targets), [1, 0])


def test_dedupe_keeps_order_and_pads():
  out = dedupe_ranked(np.array([[4, 4, -1, 2, 4, 7], [1, 1, 1, 1, 1, 1]]), 3)
  np.testing.assert_array_equal(out, [[4, 2, 7], [1, -1, -1]])


def test_dedupe_excludes_history_and_fills_k_from_further_down():
  out = dedupe_ranked(np.array([[4, 5, 4, 2, 7, 8]]), 3, exclude=np.array([[5, 2, -1]]))
  np.testing.assert_array_equal(out, [[4, 7, 8]])


def test_ranking_metrics_keys():
  m = ranking_metrics(np.array([[1, 2]]), np.array([2]), ks=(1, 2))
  assert m == pytest.approx(
    {"recall@1": 0.0, "hr@1": 0.0, "ndcg@1": 0.0, "recall@2": 1.0, "hr@2": 1.0, "ndcg@2": 1 / np.log2(3), "mrr@2": 0.5}
  )


def test_history_share_counts_filled_slots_holding_earlier_items():
  ranked = np.array([[5, 1, 9, -1], [7, 8, 2, 3]])
  history = np.array([[1, 9, -1], [3, -1, -1]])
  assert history_share(ranked, history) == pytest.approx(3 / 7)  # 2 of row 0's 3 filled slots, 1 of row 1's 4
  assert history_share(ranked, np.full((2, 3), -1)) == 0.0
