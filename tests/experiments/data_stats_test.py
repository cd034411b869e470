"""The multi-target window fill that sets model.target_capacity, by hand on a toy dataset."""

import numpy as np
import pytest

from experiments.data_stats import window_fill
from onerec_jax.input.sequences import SequenceDataset


def test_window_fill_by_hand():
  lengths = (7, 3, 5)  # training targets: user 0 positions 1..4, user 1 none, user 2 positions 1..2
  items = np.full((3, 7), -1, np.int32)
  for r, m in enumerate(lengths):
    items[r, :m] = 10 * r + np.arange(m)
  data = SequenceDataset(
    items=items,
    lengths=np.array(lengths, np.int32),
    feedback=np.zeros((3, 7, 4), np.float32),
    positive=items >= 0,
    user_ids=np.arange(3, dtype=np.int64),
    user_static=np.zeros((3, 1), np.int32),
    static_vocab_sizes=(1,),
    item_category=np.zeros(30, np.int32),
    item_author=np.zeros(30, np.int32),
    item_content=np.zeros((30, 2), np.float32),
    num_categories=1,
    num_authors=1,
    name="toy",
  )
  # Windows of 3 with 3 targets: user 0 -> targets {2, 3, 4} and {1}, user 2 -> {1, 2}: 3, 1, 2 valid.
  fill = window_fill(data, 3, 3, batch=3, batches=5)
  assert fill["windows"] == 3 and fill["valid_per_window"] == pytest.approx(2.0)
  assert fill["batch_valid_max"] == 6 and fill["batch_slots"] == 9 and fill["batch_valid_std"] == 0.0
  assert fill["max_batch_fill"] == pytest.approx(6 / 9)
  two = window_fill(data, 3, 3, batch=2, batches=200)
  assert two["batch_valid_max"] == 5 and two["batch_slots"] == 6
