"""The report's lifelong compression: hierarchical k-means representatives of a long history."""

import numpy as np
import pytest

from onerec_jax.input.features import FeatureBuilder
from onerec_jax.input.lifelong import hierarchical_clusters, representatives
from onerec_jax.input.sequences import SequenceDataset


def test_clusters_partition_the_history_and_respect_the_caps():
  x = np.random.default_rng(0).normal(size=(500, 4))
  clusters = hierarchical_clusters(x, leaf_size=10, max_clusters=1000)
  rows = np.concatenate(clusters)
  assert sorted(rows.tolist()) == list(range(500))  # every interaction in exactly one cluster
  assert max(len(c) for c in clusters) <= 10
  capped = hierarchical_clusters(x, leaf_size=10, max_clusters=20)
  assert len(capped) <= 20 and sorted(np.concatenate(capped).tolist()) == list(range(500))
  assert hierarchical_clusters(np.ones((30, 3)), leaf_size=4, max_clusters=10) != []  # identical vectors


def test_representatives_are_the_members_nearest_their_centroids():
  rng = np.random.default_rng(1)
  x = np.concatenate([rng.normal(0, 0.1, (40, 2)), rng.normal(5, 0.1, (60, 2))])  # two far groups
  feedback = np.concatenate([np.zeros((40, 1)), np.ones((60, 1))]).astype(np.float32)
  rows, means = representatives(x, feedback, max_representatives=2, leaf_size=5)
  assert len(rows) == 2
  assert {int(r) < 40 for r in rows} == {True, False}  # one representative per group
  np.testing.assert_allclose(sorted(means[:, 0]), [0.0, 1.0])  # continuous features: cluster means
  group = np.arange(40) if rows[0] < 40 else np.arange(40, 100)
  centre = x[group].mean(0)
  assert rows[0] == group[np.argmin(((x[group] - centre) ** 2).sum(1))]


def _data(n=120):
  rng = np.random.default_rng(2)
  items = np.arange(n, dtype=np.int32)[None, :]  # one user, item i at position i
  content = np.concatenate([rng.normal(0, 0.1, (n // 2, 3)), rng.normal(4, 0.1, (n - n // 2, 3))])
  data = SequenceDataset(
    items=items,
    lengths=np.array([n], np.int32),
    feedback=rng.random((1, n, 2)).astype(np.float32),
    positive=np.ones((1, n), bool),
    user_ids=np.zeros(1, np.int64),
    user_static=np.zeros((1, 1), np.int32),
    static_vocab_sizes=(1,),
    item_category=np.zeros(n, np.int32),
    item_author=np.zeros(n, np.int32),
    item_content=content.astype(np.float32),
    num_categories=1,
    num_authors=1,
    name="toy",
  )
  data.validate()
  return data


@pytest.mark.parametrize("history", [0, 50])
def test_builder_compresses_only_the_past(history):
  data = _data()
  builder = FeatureBuilder(
    data,
    np.zeros((120, 2), np.int32),
    short_len=4,
    positive_len=0,
    lifelong_len=6,
    lifelong_compression="hkmeans",
    lifelong_history=history,
  )
  out = builder.history_before(np.array([0, 0]), np.array([100, 30]))
  for b, target in enumerate((100, 30)):
    items = out.lifelong.items[b]
    kept = items[items >= 0]
    assert 1 <= len(kept) <= 6 and len(set(kept.tolist())) == len(kept)
    assert (kept < target).all()  # nothing at or after the target
    if history:
      assert (kept >= target - history).all()
    assert (items[: 6 - len(kept)] == -1).all()  # right-aligned, -1 padding in front
  # The far group (items 60..) is represented when the history covers it.
  first = out.lifelong.items[0]
  assert (first >= 60).any() and (first[first >= 0] < 60).any()
