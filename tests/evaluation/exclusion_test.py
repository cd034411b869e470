"""The protocols' exclusion rules: what each user's ranking drops (HSTU: its 200-item history window,
whatever window the model reads)."""

import numpy as np
import pytest

from onerec_jax.config import ExperimentConfig
from onerec_jax.evaluation.config import EvalConfig
from onerec_jax.evaluation.evaluator import excluded_items
from onerec_jax.models.sasrec import SasrecConfig
from tests.input.windows_pipeline_test import toy

ROWS, POS = np.array([0, 2]), np.array([6, 4])  # the last item of users 0 (7 items) and 2 (5 items)


def test_none_all_and_the_model_window():
  data = toy()
  assert excluded_items(data, ROWS, POS, EvalConfig(exclude="none"), 3) is None
  everything = excluded_items(data, ROWS, POS, EvalConfig(exclude="all"), 3)
  assert sorted(everything[0][everything[0] >= 0]) == list(range(6))
  assert sorted(everything[1][everything[1] >= 0]) == [20, 21, 22, 23]
  window = excluded_items(data, ROWS, POS, EvalConfig(exclude="window"), 3)  # the model reads 3 items
  np.testing.assert_array_equal(window, [[3, 4, 5], [21, 22, 23]])


def test_protocol_window_longer_than_the_model_window():
  data = toy()
  config = EvalConfig(exclude="window", exclude_window=5)
  window = excluded_items(data, ROWS, POS, config, 3)  # the protocol's 5, not the model's 3
  np.testing.assert_array_equal(window, [[1, 2, 3, 4, 5], [-1, 20, 21, 22, 23]])


def test_exclude_window_is_validated():
  with pytest.raises(ValueError, match="exclude_window.*needs eval.exclude='window'"):
    EvalConfig(exclude="none", exclude_window=200).validate()
  with pytest.raises(ValueError, match="exclude_window"):
    EvalConfig(exclude="window", exclude_window=-1).validate()
  sasrec = ExperimentConfig(
    family="sasrec", sasrec=SasrecConfig(max_len=50), eval=EvalConfig(exclude="window", exclude_window=200)
  )
  with pytest.raises(ValueError, match="sasrec.max_len=50"):
    sasrec.validate()
