"""The Yinyang probe's bounds are exact: the same codes as plain Lloyd, with less ideal distance work."""

import numpy as np

from experiments.benchmarks import kmeans_bounds_probe as probe


def test_yinyang_gives_plain_lloyds_codes_and_skips_work_on_clustered_data():
  rng = np.random.default_rng(1)
  centers = rng.standard_normal((16, 8)).astype(np.float32) * 4.0
  x = (centers[rng.integers(0, 16, 2000)] + rng.standard_normal((2000, 8))).astype(np.float32)
  x_sq = np.sum(x * x, 1)
  init = x[rng.choice(2000, 64, replace=False)].copy()
  plain = probe.plain(x, x_sq, init, 8)
  codes, ideal, done = probe.yinyang(x, x_sq, init, 8, num_groups=8, block=128)
  np.testing.assert_array_equal(codes, plain)
  assert 0.0 < ideal <= done <= 1.0 and ideal < 0.5  # clustered data: most group bounds hold
