"""Training windows by hand, and the grain pipeline: determinism, resume, per-host shards, eval padding."""

import numpy as np
import pytest

from onerec_jax.input import pipeline, windows
from onerec_jax.input.sequences import SequenceDataset


def toy(lengths=(7, 3, 5)) -> SequenceDataset:
  """User r's history is 10 * r + (0, 1, ...): items identify (user, position)."""
  u, n = len(lengths), max(lengths)
  items = np.full((u, n), -1, np.int32)
  for r, m in enumerate(lengths):
    items[r, :m] = 10 * r + np.arange(m)
  return SequenceDataset(
    items=items,
    lengths=np.array(lengths, np.int32),
    feedback=np.zeros((u, n, 4), np.float32),
    positive=items >= 0,
    user_ids=np.arange(u, dtype=np.int64),
    user_static=np.zeros((u, 1), np.int32),
    static_vocab_sizes=(1,),
    item_category=np.zeros(30, np.int32),
    item_author=np.zeros(30, np.int32),
    item_content=np.zeros((30, 2), np.float32),
    num_categories=1,
    num_authors=1,
    name="toy",
  )


def supervised(data, rows, ends, t, stride, min_history=1):
  b = windows.gather_windows(data, rows, ends, t, stride, min_history)
  return sorted(int(x) for x in b["targets"][b["mask"]]), b


def test_windows_by_hand():
  data = toy()
  rows, ends = windows.train_windows(data, max_len=3, stride=3)
  # user 0: training targets are positions 1..4 (5, 6 held out): windows end at 4 and 1.
  np.testing.assert_array_equal(rows, [0, 0, 2])
  np.testing.assert_array_equal(ends, [4, 1, 2])  # user 1 (length 3) has no training target; user 2: 1..2
  b = windows.gather_windows(data, rows[:2], ends[:2], 3, 3)
  np.testing.assert_array_equal(b["inputs"], [[1, 2, 3], [-1, -1, 0]])
  np.testing.assert_array_equal(b["targets"], [[2, 3, 4], [-1, -1, 1]])
  np.testing.assert_array_equal(b["mask"], [[True, True, True], [False, False, True]])


@pytest.mark.parametrize("t, stride, min_history", [(3, 3, 1), (3, 1, 1), (4, 2, 2), (2, 2, 1)])
def test_every_training_target_supervised_exactly_once(t, stride, min_history):
  data = toy((9, 3, 6, 4))
  rows, ends = windows.train_windows(data, t, stride, min_history)
  got, b = supervised(data, rows, ends, t, stride, min_history)
  want = sorted(int(data.items[r, p]) for r in range(4) for p in range(min_history, data.lengths[r] - 2))
  assert got == want
  # Each supervised target's input history is the t items before it (within the window).
  tgt = np.where(b["mask"], b["targets"], 0)
  assert (b["inputs"][b["mask"]] == tgt[b["mask"]] - 1).all()


def test_latest_only_keeps_each_users_last_window():
  data = toy((9, 3, 6, 4))
  rows, ends = windows.train_windows(data, 3, 3, latest_only=True)
  np.testing.assert_array_equal(rows, [0, 2, 3])  # user 1 has no training target
  np.testing.assert_array_equal(ends, [6, 3, 1])  # each user's last training target (length - 3)
  got, _ = supervised(data, rows, ends, 3, 3)
  assert got == [4, 5, 6, 21, 22, 23, 31]  # the targets of the latest windows only


def test_history_windows_and_exclusion_lists():
  data = toy()
  np.testing.assert_array_equal(windows.history_windows(data, [0, 1], [6, 2], 4), [[2, 3, 4, 5], [-1, -1, 10, 11]])
  np.testing.assert_array_equal(windows.history_before(data, [1], [2])[0, :4], [10, 11, -1, -1])


def _windows_dataset(data, batch_size=4, seed=0, **kw):
  rows, ends = windows.train_windows(data, 3, 1)
  fn = lambda idx: windows.gather_windows(data, rows[idx], ends[idx], 3, 1)
  return pipeline.step_dataset(len(rows), batch_size, seed, fn, **kw), len(rows)


def test_pipeline_deterministic_by_seed_and_resumable():
  data = toy((9, 8, 4))  # 6 + 5 + 1 = 12 windows at stride 1: 3 batches of 4
  ds, _ = _windows_dataset(data, process_index=0, process_count=1)
  again, _ = _windows_dataset(data, process_index=0, process_count=1)
  other, _ = _windows_dataset(data, seed=1, process_index=0, process_count=1)
  for s in range(6):
    np.testing.assert_array_equal(ds[s]["targets"], again[s]["targets"])
  assert any((ds[s]["targets"] != other[s]["targets"]).any() for s in range(6))
  it = pipeline.train_iterator(ds, start_step=0, prefetch=2)
  first = [next(it) for _ in range(7)]
  state = it.get_state()
  it.close()
  assert state == {"next_index": 7}
  resumed = pipeline.train_iterator(ds, start_step=4, prefetch=2)
  for s in range(4, 7):
    np.testing.assert_array_equal(next(resumed)["inputs"], first[s]["inputs"])
  resumed.close()
  # One epoch (12 windows = 3 batches) visits every window once; the next epoch is a new permutation.
  epoch = sorted(int(x) for s in range(3) for x in ds[s]["targets"][ds[s]["mask"]])
  assert epoch == sorted(int(data.items[r, p]) for r in range(3) for p in range(1, data.lengths[r] - 2))


def test_processes_split_each_global_batch():
  data = toy((9, 8, 7, 9))
  whole, total = _windows_dataset(data, process_index=0, process_count=1)
  parts = [_windows_dataset(data, process_index=i, process_count=2)[0] for i in range(2)]
  for s in range(total // 4):
    for key in ("inputs", "targets", "mask"):  # the two processes' rows are the global batch, in order
      np.testing.assert_array_equal(np.concatenate([p[s][key] for p in parts]), whole[s][key])
  assert len(parts[0][0]["targets"]) == 2  # local batch = 4 / 2 processes
  with pytest.raises(ValueError, match="not divisible by 3 processes"):
    _windows_dataset(data, process_index=0, process_count=3)


def test_eval_batches_pad_the_last_batch():
  data = toy((9, 8, 7))
  batches = list(pipeline.eval_batches(data, "test", max_len=4, batch_size=2, exclude="all"))
  assert [n for _, n in batches] == [2, 1]
  last, _ = batches[1]
  np.testing.assert_array_equal(last["targets"], [26, 26])  # user 2's last item, repeated as padding
  np.testing.assert_array_equal(last["inputs"][0], [22, 23, 24, 25])
  np.testing.assert_array_equal(batches[0][0]["exclude"][1, :8], [10, 11, 12, 13, 14, 15, 16, -1])
  window = next(pipeline.eval_batches(data, "test", max_len=4, batch_size=2, exclude="window", exclude_window=6))
  np.testing.assert_array_equal(window[0]["exclude"][0], [2, 3, 4, 5, 6, 7])  # the protocol's 6, not max_len 4
  assert next(pipeline.eval_batches(data, "test", max_len=4, batch_size=2))[0]["exclude"] is None


def test_window_fill_by_hand():
  """experiments.data_stats' window fill (it sets model.target_capacity). Windows of 3 with 3 targets:
  user 0 -> targets {2, 3, 4} and {1}, user 1 none, user 2 -> {1, 2}: 3, 1, 2 valid."""
  from experiments.data_stats import window_fill

  fill = window_fill(toy(), 3, 3, batch=3, batches=5)
  assert fill["windows"] == 3 and fill["valid_per_window"] == pytest.approx(2.0)
  assert fill["batch_valid_max"] == 6 and fill["batch_slots"] == 9 and fill["batch_valid_std"] == 0.0
  assert fill["max_batch_fill"] == pytest.approx(6 / 9)
  two = window_fill(toy(), 3, 3, batch=2, batches=200)
  assert two["batch_valid_max"] == 5 and two["batch_slots"] == 6
