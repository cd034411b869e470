"""The reward model family: labels and the day split, no leakage into the history, the preference label,
and an end-to-end run through the engine that reports AUC / GAUC beside the item-rate baseline."""

import numpy as np
import pytest

from experiments import registry
from onerec_jax.input import interactions as ix
from onerec_jax.input.impressions import impression_data, reward_batch
from onerec_jax.models.reward import RewardConfig
from onerec_jax.train.reward_task import preference_labels
from onerec_jax.train.trainer import train_and_evaluate


def _loaded():
  """Two users over four days; labels click and like; user 1 has one impression per day."""
  user = np.array([1, 1, 1, 1, 2, 2, 2, 2, 2])
  item = np.array([0, 1, 2, 3, 3, 2, 1, 0, 1])
  time = np.array([1, 2, 3, 4, 1, 2, 3, 4, 5], float)
  date = np.array([20220101, 20220102, 20220103, 20220104, 20220101, 20220101, 20220102, 20220103, 20220104])
  click = np.array([1, 0, 1, 1, 0, 1, 1, 0, 1], np.float32)
  like = np.array([0, 0, 1, 0, 0, 0, 1, 0, 0], np.float32)
  inter = ix.Interactions.build(user, item, time, None, None, "test")
  side = ix.ItemSide(
    np.arange(4, dtype=np.int32), np.zeros(4, np.int32), np.eye(4, dtype=np.float32), 5, 1, np.arange(4)
  )
  return ix.pack_sequences(inter, side, name="t", columns={"label/click": click, "label/like": like, "date": date})


def test_day_split_and_labels():
  imp = impression_data(_loaded())
  assert imp.objectives == ("click", "like")
  assert "valid 20220103, test 20220104" in imp.split_rule
  rows, pos = imp.positions("test")
  assert list(zip(rows, pos)) == [(0, 3), (1, 4)]  # each user's impression on the last day
  np.testing.assert_array_equal(imp.labels[1, :5, 0], [0, 1, 1, 0, 1])


def test_history_holds_only_earlier_impressions():
  imp = impression_data(_loaded())
  batch = reward_batch(imp, np.array([1, 1]), np.array([0, 3]), history_len=3)
  np.testing.assert_array_equal(batch.history_items[0], [-1, -1, -1])  # the first impression: no past
  np.testing.assert_array_equal(batch.history_items[1], imp.data.items[1, :3])  # positions 0..2, not 3+
  np.testing.assert_array_equal(batch.history_labels[1, :, 0], imp.labels[1, :3, 0])
  assert batch.item[1] == imp.data.items[1, 3] and batch.labels[1, 0] == imp.labels[1, 3, 0]


def test_preference_label_by_hand():
  objectives = ("is_click", "long_view", "is_like", "is_hate")
  labels = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 1, 1], [0, 0, 1, 0]], np.float32)
  got = preference_labels(labels, objectives, RewardConfig())
  np.testing.assert_array_equal(got, [0, 1, 0, 1])  # click alone is not a preference; hate vetoes
  with pytest.raises(ValueError, match="not among the objectives"):
    preference_labels(labels, objectives, RewardConfig(preference_from=("is_follow",)))


def test_reward_family_trains_and_reports_auc_beside_the_baseline(tmp_path):
  config = registry.get("reward_synthetic_tiny")
  results = train_and_evaluate(config, str(tmp_path / "reward"))
  assert results["train"]["family"] == "reward" and results["objectives"] == ["long_view", "like"]
  for policy in ("model", "item_rate"):
    assert set(results[policy]) >= {"auc/long_view", "gauc/long_view", "auc/preference", "gauc/preference"}
  assert results["selected"]["metric"] == "gauc/preference"
  # It learned: the model ranks long views better than each item's training rate does (tiny world).
  assert results["model"]["auc/long_view"] > results["item_rate"]["auc/long_view"]
