"""Tests of residual k-means: recovery, residual levels, determinism, repair, balance, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from onerec_jax.tokenizer import metrics
from onerec_jax.tokenizer import residual_kmeans as rk
from onerec_jax.tokenizer.config import TokenizerConfig


def _blobs(num_clusters=8, per_cluster=100, dim=16, spread=20.0, seed=0):
  rng = np.random.default_rng(seed)
  centers = rng.normal(size=(num_clusters, dim)) * spread
  labels = np.repeat(np.arange(num_clusters), per_cluster)
  return (centers[labels] + rng.normal(size=(labels.size, dim))).astype(np.float32), labels


def _with_inf():
  x = np.ones((100, 4), np.float32)
  x[7, 2] = -np.inf
  return x


def _same_partition(a, b):
  """True when the two labelings define the same clusters (up to renaming)."""
  pairs = set(zip(a.tolist(), b.tolist()))
  return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize('batch_size', [0, 200])
def test_recovers_well_separated_clusters(batch_size):
  x, labels = _blobs()
  cfg = TokenizerConfig(num_levels=1, codebook_size=8, num_iters=10, batch_size=batch_size)
  model = rk.fit_residual_kmeans(x, cfg)
  assert model.codebooks.shape == (1, 8, 16)
  assert model.codes.shape == (800, 1) and model.codes.dtype == jnp.int32
  assert _same_partition(np.asarray(model.codes[:, 0]), labels)


def test_reconstruction_error_falls_with_each_level():
  x = np.random.default_rng(1).normal(size=(2000, 16)).astype(np.float32)
  model = rk.fit_residual_kmeans(x, TokenizerConfig(num_levels=3, codebook_size=16, num_iters=8))
  m = metrics.tokenizer_metrics(x, model.codebooks, model.codes)
  losses = [m[f'recon_loss_rel/level_{l}'] for l in (1, 2, 3)]
  assert 1.0 > losses[0] > losses[1] > losses[2] > 0.0, losses
  assert m['recon_loss_rel'] == pytest.approx(metrics.reconstruction_loss(x, model.codebooks, model.codes), rel=1e-4)
  # Encoding the training vectors greedily gives the fitted codes, and decode inverts up to the residual.
  np.testing.assert_array_equal(np.asarray(model.encode(x)), np.asarray(model.codes))
  assert model.decode(model.codes).shape == x.shape


def test_deterministic_by_seed():
  x = np.random.default_rng(2).normal(size=(1000, 8)).astype(np.float32)
  fit = lambda seed: rk.fit_residual_kmeans(x, TokenizerConfig(num_levels=2, codebook_size=16, num_iters=5, seed=seed))
  a, b, c = fit(0), fit(0), fit(1)
  np.testing.assert_array_equal(np.asarray(a.codebooks), np.asarray(b.codebooks))
  np.testing.assert_array_equal(np.asarray(a.codes), np.asarray(b.codes))
  assert not np.array_equal(np.asarray(a.codes), np.asarray(c.codes))


def test_update_splits_largest_cluster_for_empty_centroid():
  x, _ = _blobs(num_clusters=4, per_cluster=50, dim=4)
  x = jnp.asarray(x)
  centroids = jnp.concatenate([x[::50][:2], x[100:101], jnp.full((1, 4), 1e4)])  # 3 can win no item
  codes, _ = rk._assign(x, centroids, chunk_rows=64)  # chunked path (200 rows in blocks of 64)
  counts = np.bincount(np.asarray(codes), minlength=4)
  assert counts[3] == 0
  largest = int(np.argmax(counts))
  mean = np.asarray(x)[np.asarray(codes) == largest].mean(0)
  new = np.asarray(rk._update(x, codes, centroids))
  sign = np.array([1, -1, 1, -1]) / 1024.0
  np.testing.assert_allclose(new[3], mean * (1 + sign), rtol=1e-5)
  np.testing.assert_allclose(new[largest], mean * (1 - sign), rtol=1e-5)
  codes, _ = rk._assign(x, jnp.asarray(new), chunk_rows=1000)
  after = np.bincount(np.asarray(codes), minlength=4)
  assert after[3] > 0 and after[largest] > 0


def test_reseed_moves_empty_centroid_to_worst_item():
  x, _ = _blobs(num_clusters=4, per_cluster=50, dim=4)
  x = jnp.asarray(x)
  centroids = jnp.concatenate([x[::50][:3], jnp.full((1, 4), 1e4)])
  codes, sq = rk._assign(x, centroids, chunk_rows=1000)
  new = rk._reseed(centroids, rk._counts(codes, 4) == 0, x, sq)
  np.testing.assert_allclose(np.asarray(new[3]), np.asarray(x[jnp.argmax(sq)]))
  np.testing.assert_allclose(np.asarray(new[:3]), np.asarray(centroids[:3]))


@pytest.mark.parametrize('init', ['random', 'kmeans++'])
def test_no_empty_codes_when_items_far_outnumber_codes(init):
  rng = np.random.default_rng(3)
  # A dense blob plus a few far points: random seeds crowd the blob and Lloyd tends to strand some.
  x = np.concatenate([rng.normal(size=(3000, 8)) * 0.01, rng.normal(size=(60, 8)) * 100]).astype(np.float32)
  model = rk.fit_residual_kmeans(x, TokenizerConfig(num_levels=2, codebook_size=64, num_iters=5, init=init))
  m = metrics.tokenizer_metrics(x, model.codebooks, model.codes)
  assert m['utilization/level_1'] == 1.0 and m['utilization/level_2'] == 1.0


@pytest.mark.parametrize('n', [1000, 1003])
def test_balanced_gives_equal_cluster_sizes(n):
  rng = np.random.default_rng(4)
  x = np.concatenate([rng.normal(size=(n - 100, 4)), rng.normal(size=(100, 4)) * 10 + 30]).astype(np.float32)
  model = rk.fit_residual_kmeans(x, TokenizerConfig(num_levels=2, codebook_size=8, num_iters=4, balanced=True))
  for level in range(2):
    sizes = np.bincount(np.asarray(model.codes[:, level]), minlength=8)
    assert sizes.sum() == n
    assert set(sizes.tolist()) <= {n // 8, -(-n // 8)}, sizes
    assert np.sum(sizes == n // 8 + 1) == n % 8


def test_balanced_assignment_prefers_near_clusters():
  x, labels = _blobs(num_clusters=4, per_cluster=25, dim=4)
  codes = rk._balanced_assign(jnp.asarray(x), jnp.asarray(x[::25]))  # centroids at one item per blob
  np.testing.assert_array_equal(np.asarray(codes), labels)


@pytest.mark.parametrize(
  'vectors, cfg, match',
  [
    (np.full((100, 4), np.nan, np.float32), TokenizerConfig(codebook_size=4), 'NaN or Inf'),
    (_with_inf(), TokenizerConfig(codebook_size=4), 'NaN or Inf'),
    (np.zeros((10, 4), np.float32), TokenizerConfig(codebook_size=16), 'at least codebook_size'),
    (np.zeros((100,), np.float32), TokenizerConfig(codebook_size=4), '2-D'),
    (np.zeros((100, 4), np.int32), TokenizerConfig(codebook_size=4), 'floating'),
    (np.zeros((100, 4), np.float32), TokenizerConfig(codebook_size=4, init='bad'), 'init'),
    (np.zeros((100, 4), np.float32), TokenizerConfig(codebook_size=4, balanced=True, batch_size=8), 'balanced'),
    (np.zeros((100, 4), np.float32), TokenizerConfig(codebook_size=4, dedup='x'), 'dedup'),
    (np.zeros((100, 4), np.float32), TokenizerConfig(codebook_size=4, batch_size=200), 'batch_size'),
    (np.zeros((100, 4), np.float32), TokenizerConfig(codebook_size=1), 'codebook_size'),
  ],
)
def test_bad_inputs_raise(vectors, cfg, match):
  with pytest.raises(ValueError, match=match):
    rk.fit_residual_kmeans(vectors, cfg)


def test_encode_decode_shape_checks():
  with pytest.raises(ValueError, match='encode'):
    rk.encode(np.zeros((2, 3, 4)), np.zeros((5, 3)))
  with pytest.raises(ValueError, match='decode'):
    rk.decode(np.zeros((2, 3, 4)), np.zeros((5, 3), np.int32))


def test_model_is_a_pytree():
  model = rk.ResidualKMeans(codebooks=jnp.zeros((2, 4, 3)), codes=jnp.zeros((5, 2), jnp.int32))
  assert len(jax.tree_util.tree_leaves(model)) == 2
  assert (model.num_levels, model.codebook_size, model.dim) == (2, 4, 3)
