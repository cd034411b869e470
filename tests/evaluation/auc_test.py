"""AUC and GAUC against hand-computed cases."""

import numpy as np
import pytest

from onerec_jax.evaluation.auc import auc, gauc


def test_auc_by_hand():
  # Positives score 0.9, 0.4; negatives 0.5, 0.1, 0.4. Pairs (pos > neg): 0.9 beats all 3; 0.4 beats
  # 0.1, ties 0.4 (one half), loses to 0.5: (3 + 1 + 0.5) / 6 = 0.75.
  assert auc([0.9, 0.5, 0.4, 0.1, 0.4], [1, 0, 1, 0, 0]) == pytest.approx(0.75)
  assert auc([1, 2, 3], [0, 0, 1]) == 1.0 and auc([3, 2, 1], [0, 0, 1]) == 0.0
  assert auc([0.3, 0.3, 0.3, 0.3], [0, 1, 0, 1]) == 0.5
  assert np.isnan(auc([0.1, 0.2], [1, 1]))


def test_auc_matches_the_pair_count():
  rng = np.random.default_rng(0)
  scores = rng.integers(0, 5, 200).astype(float)  # many ties
  labels = rng.random(200) < 0.3
  pos, neg = scores[labels], scores[~labels]
  pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
  assert auc(scores, labels) == pytest.approx(pairs)


def test_gauc_by_hand():
  # User a: AUC 1 over 4 impressions; user b: AUC 0 over 2; user c: one class only (left out).
  scores = [0.9, 0.8, 0.2, 0.1, 0.3, 0.7, 0.5]
  labels = [1, 1, 0, 0, 1, 0, 1]
  groups = ["a", "a", "a", "a", "b", "b", "c"]
  value, users = gauc(scores, labels, groups)
  assert users == 2 and value == pytest.approx((4 * 1.0 + 2 * 0.0) / 6)
  assert gauc(scores, labels, groups, weighted=False)[0] == pytest.approx(0.5)
