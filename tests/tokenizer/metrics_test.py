"""Tests of tokenizer_metrics on hand-checkable codes."""

import numpy as np
import pytest

from onerec_jax.tokenizer import metrics


def test_metrics_on_known_codes():
  codebooks = np.zeros((2, 4, 2), np.float32)
  codebooks[0, :, 0] = [1, 2, 3, 4]
  codes = np.array([[0, 0], [1, 0], [2, 1], [3, 1], [3, 1]])
  x = codebooks[0][codes[:, 0]] + np.array([[0, 0.5]] * 5, np.float32)
  m = metrics.tokenizer_metrics(x, codebooks, codes)
  assert m['utilization/level_1'] == 1.0
  assert m['utilization/level_2'] == 0.5
  p = np.array([1, 1, 1, 2]) / 5
  assert m['entropy_bits/level_1'] == pytest.approx(-np.sum(p * np.log2(p)))
  assert m['entropy_norm/level_2'] == pytest.approx((-(0.4 * np.log2(0.4) + 0.6 * np.log2(0.6))) / 2)
  energy = np.mean(np.sum(x * x, -1))
  assert m['recon_loss_rel'] == pytest.approx(0.25 / energy)
  assert m['items_per_sid_max'] == 2.0
  assert m['items_per_sid_mean'] == pytest.approx(5 / 4)
  assert m['collision_share'] == pytest.approx(2 / 5)


def test_metrics_shape_check():
  with pytest.raises(ValueError, match='tokenizer_metrics'):
    metrics.tokenizer_metrics(np.zeros((5, 3)), np.zeros((2, 4, 2)), np.zeros((5, 2), np.int32))
