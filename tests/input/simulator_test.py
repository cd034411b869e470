"""Tests for onerec_jax.input.simulator."""

import dataclasses

import numpy as np
from absl.testing import absltest, parameterized

from onerec_jax.input import simulator as simulator_lib
from onerec_jax.input.simulator import Simulator, SimulatorConfig

_KEYS = ("items", "timestamps", "click", "long_view", "like", "play_time", "duration")
_DTYPES = dict(
  items=np.int32,
  timestamps=np.int64,
  click=np.int8,
  long_view=np.int8,
  like=np.int8,
  play_time=np.float32,
  duration=np.float32,
)


def _small(**overrides) -> SimulatorConfig:
  return SimulatorConfig(**{"num_users": 300, "num_items": 400, "num_authors": 80, **overrides})


def _assert_same_histories(test, a, b):
  test.assertEqual(len(a), len(b))
  for ha, hb in zip(a, b):
    for key in _KEYS:
      np.testing.assert_array_equal(ha[key], hb[key], err_msg=key)


class DeterminismTest(absltest.TestCase):
  def test_same_seed_same_world_and_histories(self):
    a, b = Simulator(_small(seed=3)), Simulator(_small(seed=3))
    np.testing.assert_array_equal(a.item_factors, b.item_factors)
    np.testing.assert_array_equal(a.item_content(), b.item_content())
    ids = np.arange(50)
    _assert_same_histories(self, a.histories(ids), b.histories(ids))
    np.testing.assert_array_equal(a.interest_at_end(ids), b.interest_at_end(ids))

  def test_different_seed_differs(self):
    a, b = Simulator(_small(seed=0)), Simulator(_small(seed=1))
    self.assertFalse(np.allclose(a.item_factors, b.item_factors))
    ha, hb = a.histories(np.arange(20)), b.histories(np.arange(20))
    self.assertTrue(any(len(x["items"]) != len(y["items"]) or np.any(x["items"] != y["items"]) for x, y in zip(ha, hb)))

  def test_user_same_alone_or_in_any_chunk(self):
    sim = Simulator(_small())
    ids = np.random.default_rng(0).permutation(300)[:64]
    chunk = sim.histories(ids)
    fresh = Simulator(_small())  # no cache, different chunk composition and order
    reversed_chunk = fresh.histories(ids[::-1])[::-1]
    _assert_same_histories(self, chunk, reversed_chunk)
    for pos in (0, 17, 63):
      _assert_same_histories(self, [chunk[pos]], fresh.histories([ids[pos]]))
      np.testing.assert_allclose(
        fresh.interest_at_end([ids[pos]])[0], sim.interest_at_end(ids)[pos], rtol=1e-6, atol=1e-6
      )
    static = sim.user_static(ids)
    for key, value in sim.user_static(ids[5:6]).items():
      self.assertEqual(value[0], static[key][5])

  def test_chunk_splitting_does_not_change_results(self):
    sim = Simulator(_small())
    ids = np.arange(40)
    whole = sim.histories(ids)
    original = simulator_lib._MAX_CHUNK_ENTRIES
    try:
      simulator_lib._MAX_CHUNK_ENTRIES = 7 * 400  # 7 users per internal chunk
      split = Simulator(_small()).histories(ids)
    finally:
      simulator_lib._MAX_CHUNK_ENTRIES = original
    _assert_same_histories(self, whole, split)


class HistoryTest(absltest.TestCase):
  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.config = SimulatorConfig(num_users=400)
    cls.sim = Simulator(cls.config)
    cls.ids = np.arange(400)
    cls.histories = cls.sim.histories(cls.ids)

  def test_lengths_dtypes_and_no_repeats(self):
    lengths = [len(h["items"]) for h in self.histories]
    self.assertGreaterEqual(min(lengths), self.config.min_history)
    self.assertLessEqual(max(lengths), self.config.max_history)
    self.assertGreater(len(set(lengths)), 10)  # lengths vary
    for h in self.histories:
      for key in _KEYS:
        self.assertEqual(h[key].dtype, _DTYPES[key], key)
        self.assertEqual(h[key].shape, h["items"].shape, key)
      self.assertEqual(len(np.unique(h["items"])), len(h["items"]))
      self.assertTrue(np.all((h["items"] >= 0) & (h["items"] < self.config.num_items)))

  def test_timestamps_strictly_increasing(self):
    for h in self.histories:
      self.assertTrue(np.all(np.diff(h["timestamps"]) >= 1))
      self.assertGreater(h["timestamps"][0], 1_500_000_000)

  def test_feedback_rates_and_ranges(self):
    cat = lambda key: np.concatenate([h[key] for h in self.histories])
    self.assertTrue(np.all(cat("click") == 1))
    long_view, like = cat("long_view").mean(), cat("like").mean()
    self.assertBetween(long_view, 0.2, 0.8)
    self.assertBetween(like, 0.01, 0.3)
    play, duration = cat("play_time"), cat("duration")
    self.assertTrue(np.all(play >= 0))
    self.assertTrue(np.all(play <= duration * (1 + 1e-6)))
    np.testing.assert_array_equal(duration, self.sim.item_duration[cat("items")])
    np.testing.assert_array_equal(cat("long_view"), (play >= 0.5 * duration).astype(np.int8))

  def test_histories_are_learnable(self):
    """The mean of the last 5 items' factors predicts the next item far better than popularity."""
    factors = self.sim.item_factors
    seq_hits = pop_hits = total = 0
    for h in self.histories[:200]:
      items = h["items"]
      for t in range(5, len(items), 3):
        seen = items[:t]
        seq = 5.0 * factors[items[t - 5 : t]].mean(0) @ factors.T + self.sim.item_popularity
        pop = self.sim.item_popularity.copy()
        seq[seen], pop[seen] = -np.inf, -np.inf
        seq_hits += items[t] in np.argpartition(-seq, 10)[:10]
        pop_hits += items[t] in np.argpartition(-pop, 10)[:10]
        total += 1
    self.assertGreater(seq_hits / total, 0.15)
    self.assertGreater(seq_hits, 1.5 * pop_hits)


class GroundTruthTest(absltest.TestCase):
  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.sim = Simulator(SimulatorConfig(num_users=300))
    cls.ids = np.arange(300)
    cls.probs = cls.sim.next_item_probs(cls.ids)

  def test_next_item_probs_normalised_and_zero_on_consumed(self):
    self.assertEqual(self.probs.shape, (300, 1000))
    np.testing.assert_allclose(self.probs.sum(-1), 1.0, rtol=1e-4)
    for row, h in zip(self.probs[:20], self.sim.histories(self.ids[:20])):
      self.assertTrue(np.all(row[h["items"]] == 0))

  def test_realised_next_items_well_above_chance(self):
    rng = np.random.default_rng(0)
    cdf = np.cumsum(self.probs.astype(np.float64), -1)
    realised = (cdf < rng.random((300, 1)) * cdf[:, -1:]).sum(-1)
    top10 = np.argsort(-self.probs, axis=1)[:, :10]
    hit = np.mean(np.any(top10 == realised[:, None], axis=1))
    self.assertGreater(hit, 0.15)  # chance is 10 / 1000
    self.assertGreater(np.take_along_axis(self.probs, top10, 1).sum(-1).mean(), 0.2)

  def test_ranks_preferred_items_above_random(self):
    top = np.argsort(-self.probs, axis=1)[:, :10]
    random_items = np.random.default_rng(1).integers(0, 1000, (300, 10))
    top_value = self.sim.ground_truth(self.ids, top)
    random_value = self.sim.ground_truth(self.ids, random_items)
    self.assertGreater(top_value.mean(), 3 * random_value.mean())
    # Per user, the preferred list wins almost always.
    self.assertGreater(np.mean(top_value.sum(-1) > random_value.sum(-1)), 0.9)
    # By affinity at the end of the history, too.
    affinity = self.sim.interest_at_end(self.ids) @ self.sim.item_factors.T
    by_affinity = np.argsort(-affinity, axis=1)[:, :10]
    self.assertGreater(self.sim.ground_truth(self.ids, by_affinity).mean(), top_value.mean())

  def test_range_empty_slots_repeats_and_sum(self):
    lists = np.array([[3, 5, 3, -1, 5, 7], [-1, -1, -1, -1, -1, -1]])
    value = self.sim.ground_truth([0, 1], lists)
    self.assertEqual(value.shape, (2, 6))
    self.assertEqual(value.dtype, np.float32)
    np.testing.assert_array_equal(value[:, 2:5], 0.0)
    np.testing.assert_array_equal(value[1], 0.0)
    self.assertTrue(np.all(value[0, [0, 1, 5]] > 0))
    np.testing.assert_allclose(self.sim.expected_engagement([0, 1], lists), value.sum(-1), rtol=1e-6)
    everything = np.tile(np.arange(1000), (4, 1))  # long lists take the whole-catalogue path
    full = self.sim.ground_truth(self.ids[:4], everything)
    self.assertTrue(np.all((full > 0) & (full < 2)))
    np.testing.assert_allclose(full[:, [3, 5]], self.sim.ground_truth(self.ids[:4], everything[:, [3, 5]]), rtol=1e-5)

  def test_rejects_bad_lists(self):
    with self.assertRaisesRegex(ValueError, "item ids"):
      self.sim.ground_truth([0], [[1000]])
    with self.assertRaisesRegex(ValueError, "item_lists"):
      self.sim.ground_truth([0, 1], [[1]])
    with self.assertRaisesRegex(ValueError, "user ids"):
      self.sim.histories([300])


class WorldTest(absltest.TestCase):
  def test_item_arrays(self):
    cfg = SimulatorConfig()
    sim = Simulator(cfg)
    self.assertEqual(sim.item_factors.shape, (1000, 16))
    self.assertEqual(sim.item_factors.dtype, np.float32)
    for name, dtype in (
      ("item_category", np.int32),
      ("item_author", np.int32),
      ("item_duration", np.float32),
      ("item_popularity", np.float32),
    ):
      self.assertEqual(getattr(sim, name).shape, (1000,), name)
      self.assertEqual(getattr(sim, name).dtype, dtype, name)
    self.assertEqual(len(np.unique(sim.item_category)), cfg.num_categories)
    self.assertTrue(np.all(sim.item_author < cfg.num_authors))
    self.assertTrue(np.all((sim.item_duration >= 5) & (sim.item_duration <= 600)))
    np.testing.assert_allclose(np.exp(sim.item_popularity.astype(np.float64)).sum(), 1.0, rtol=1e-5)

  def test_content_recovers_categories(self):
    sim = Simulator(SimulatorConfig())
    content = sim.item_content()
    self.assertEqual(content.shape, (1000, 64))
    self.assertEqual(content.dtype, np.float32)
    means = np.stack([content[sim.item_category == k].mean(0) for k in range(20)])
    nearest = np.argmin(((content[:, None] - means[None]) ** 2).sum(-1), axis=1)
    self.assertGreater(np.mean(nearest == sim.item_category), 0.9)

  def test_user_static_and_factors(self):
    sim = Simulator(_small())
    ids = np.arange(200)
    static = sim.user_static(ids)
    self.assertEqual(set(static), {"age_bucket", "gender", "activity"})
    for key, high in (("age_bucket", 7), ("gender", 2), ("activity", 4)):
      self.assertEqual(static[key].shape, (200,))
      self.assertEqual(static[key].dtype, np.int32)
      self.assertTrue(np.all((static[key] >= 0) & (static[key] < high)), key)
    lengths = np.array([len(h["items"]) for h in sim.histories(ids)])
    self.assertTrue(np.all(np.diff(static["activity"][np.argsort(lengths)]) >= 0))
    start, end = sim.user_factors(ids), sim.interest_at_end(ids)
    self.assertEqual(start.shape, (200, 16))
    self.assertEqual(end.dtype, np.float32)
    self.assertFalse(np.allclose(start, end))  # interests drift

  def test_empty_batch(self):
    sim = Simulator(_small())
    self.assertEqual(sim.histories([]), [])
    self.assertEqual(sim.next_item_probs([]).shape, (0, 400))


class ConfigTest(parameterized.TestCase):
  def test_defaults_valid(self):
    SimulatorConfig().validate()

  @parameterized.parameters(
    ("num_users", 0),
    ("num_items", 0),
    ("num_categories", 0),
    ("num_authors", -1),
    ("latent_dim", 0),
    ("content_dim", 0),
    ("min_history", 0),
    ("max_history", 10),
    ("max_history", 1000),
    ("num_categories", 2000),
    ("popularity_alpha", -0.5),
    ("drift", -0.1),
    ("interest_pull", 1.5),
    ("temperature", 0.0),
    ("seed", -1),
  )
  def test_rejects_bad_value(self, field, value):
    config = dataclasses.replace(SimulatorConfig(), **{field: value})
    with self.assertRaisesRegex(ValueError, field):
      config.validate()
    with self.assertRaisesRegex(ValueError, field):
      Simulator(config)


if __name__ == "__main__":
  absltest.main()
