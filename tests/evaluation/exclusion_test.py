"""The protocols' exclusion rules: what each user's ranking drops (HSTU: its 200-item history window,
whatever window the model reads). Both families call input.windows.excluded_items."""

import numpy as np
import pytest

from onerec_jax.evaluation.config import EvalConfig
from onerec_jax.input.windows import excluded_items
from tests.input.windows_pipeline_test import toy

ROWS, POS = np.array([0, 2]), np.array([6, 4])  # the last item of users 0 (7 items) and 2 (5 items)


def test_none_all_and_window():
  data = toy()
  assert excluded_items(data, ROWS, POS, "none", 3) is None
  everything = excluded_items(data, ROWS, POS, "all", 3)
  assert sorted(everything[0][everything[0] >= 0]) == list(range(6))
  assert sorted(everything[1][everything[1] >= 0]) == [20, 21, 22, 23]
  np.testing.assert_array_equal(excluded_items(data, ROWS, POS, "window", 3), [[3, 4, 5], [21, 22, 23]])
  # A window longer than the history is -1 padded in front.
  np.testing.assert_array_equal(excluded_items(data, ROWS, POS, "window", 5), [[1, 2, 3, 4, 5], [-1, 20, 21, 22, 23]])
  with pytest.raises(ValueError, match="'none', 'window' or 'all'"):
    excluded_items(data, ROWS, POS, "history", 3)


def test_exclude_window_is_validated():
  with pytest.raises(ValueError, match="exclude_window.*needs eval.exclude='window'"):
    EvalConfig(exclude="none", exclude_window=200).validate()
  with pytest.raises(ValueError, match="exclude_window"):
    EvalConfig(exclude="window", exclude_window=-1).validate()
