"""Residual k-means (RQ-Kmeans): item vectors -> L levels of discrete codes.

Level 1 clusters the item vectors; level l + 1 clusters the residuals left by level l (vector minus its
centroid). The codes of an item, one per level, are its semantic ID before collision handling
(`semantic_ids.py`). Shape legend: n items, d vector width, c codes per level, L levels.

Everything heavy runs inside one jit-compiled function per level (`_fit_level`, compiled once and reused
for every level since the shapes do not change):
- assignment is the argmin over codes of ||c||^2 - 2 x.c (||x||^2 is constant per row), one matmul,
  computed in row chunks of at most `_MAX_DIST_ELEMENTS` distances so c = 32,768 fits in memory;
- the update is a `segment_sum` of the assigned vectors;
- during the Lloyd iterations a centroid left without items splits one of the largest clusters (faiss'
  rule, deterministic); after the last iteration any code still unused is re-seeded at the items with
  the largest squared error and the items re-assigned (so every code is used when the items are
  distinct);
- greedy k-means++ runs on a subsample of `_KMEANSPP_SAMPLE_PER_CODE * c` items and picks the c seeds
  in at most `_KMEANSPP_MAX_ROUNDS` rounds of D^2 sampling without replacement (one seed per round, as
  in sklearn, when c - 1 <= the round count; a k-means|| style batch of seeds per round beyond it);
- the balanced variant (OneRec V1) gives every cluster floor(n / c) or ceil(n / c) items, by rounds in
  which every unassigned item proposes to its nearest non-full cluster and each cluster keeps its
  closest proposers up to its remaining capacity. It needs the whole [n, c] distance matrix.
"""

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from onerec_jax.tokenizer.config import TokenizerConfig

# Largest [rows, c] float32 block of distances the assignment materialises at once (16 MiB: 512 rows at
# c = 8,192). Small blocks stay in cache between the matmul and the argmin (an ad hoc measurement on the
# 2-core dev box, 32,768 x 256 against 8,192 codes, found 8,192-row blocks ~20% slower than 256-2,048).
_MAX_DIST_ELEMENTS = 1 << 22
# k-means++ seeding: rounds of D^2 sampling (each picks ceil((c - 1) / rounds) seeds) and subsample size.
_KMEANSPP_MAX_ROUNDS = 128
_KMEANSPP_SAMPLE_PER_CODE = 16
_KMEANSPP_TRIALS = 3  # candidates per seed (greedy k-means++)
# Re-seed/re-assign rounds after the last Lloyd iteration, while some code has no item.
_FINAL_REPAIR_ROUNDS = 8


@flax.struct.dataclass
class ResidualKMeans:
  """A fitted residual k-means quantiser.

  Attributes:
    codebooks: [L, c, d] float32 centroids; level l quantises the residual left by levels < l.
    codes: [n, L] int32 codes of the fitted vectors. With `balanced=True` these are the balanced
      assignments; `encode` (nearest centroid) may differ from them for a few items.
  """

  codebooks: jax.Array
  codes: jax.Array

  @property
  def num_levels(self) -> int:
    return self.codebooks.shape[0]

  @property
  def codebook_size(self) -> int:
    return self.codebooks.shape[1]

  @property
  def dim(self) -> int:
    return self.codebooks.shape[2]

  def encode(self, vectors: Any) -> jax.Array:
    """[n, d] -> [n, L] int32 nearest-centroid codes."""
    return encode(self.codebooks, vectors)

  def decode(self, codes: Any) -> jax.Array:
    """[n, L] -> [n, d] sum of the chosen centroids."""
    return decode(self.codebooks, codes)


# ----------------------------------------------------------------------------------------------------
# Building blocks (pure, traced inside the jitted level fit).


def _chunk_rows(num_rows: int, num_codes: int) -> int:
  return max(1, min(num_rows, _MAX_DIST_ELEMENTS // num_codes))


def _assign(x: jax.Array, centroids: jax.Array, chunk_rows: int) -> tuple[jax.Array, jax.Array]:
  """Nearest centroid. x [n, d], centroids [c, d] -> codes [n] int32, squared distances [n] float32."""
  c_sq = jnp.sum(centroids * centroids, axis=-1)  # [c]
  minus_2ct = -2.0 * centroids.T  # [d, c], scaled once instead of once per block

  def block(xb):  # [b, d]
    scores = jnp.dot(xb, minus_2ct) + c_sq[None, :]  # [b, c]
    codes = jnp.argmin(scores, axis=-1).astype(jnp.int32)
    best = jnp.min(scores, axis=-1)
    return codes, jnp.maximum(best + jnp.sum(xb * xb, axis=-1), 0.0)

  n, d = x.shape
  if n <= chunk_rows:
    return block(x)
  num_blocks = -(-n // chunk_rows)
  pad = num_blocks * chunk_rows - n
  xp = jnp.pad(x, ((0, pad), (0, 0))) if pad else x
  codes, sq = lax.map(block, xp.reshape(num_blocks, chunk_rows, d))
  return codes.reshape(-1)[:n], sq.reshape(-1)[:n]


def _counts(codes: jax.Array, num_codes: int) -> jax.Array:
  return jax.ops.segment_sum(jnp.ones_like(codes), codes, num_segments=num_codes)  # [c] int32


def _reseed(centroids: jax.Array, empty: jax.Array, x: jax.Array, sq: jax.Array) -> jax.Array:
  """Moves the empty centroids onto the items with the largest squared error, one distinct item each."""
  num_far = min(centroids.shape[0], x.shape[0])
  _, far = lax.top_k(sq, num_far)  # [num_far] item indices, largest error first
  rank = jnp.clip(jnp.cumsum(empty) - 1, 0, num_far - 1)  # k-th empty centroid takes the k-th item
  return jnp.where(empty[:, None], x[far[rank]], centroids)


def _split_largest(centroids: jax.Array, empty: jax.Array, counts: jax.Array) -> jax.Array:
  """Moves each empty centroid onto a copy of a large cluster's centroid and splits the pair apart.

  The k-th empty centroid takes the k-th largest cluster (one distinct cluster each); the two copies are
  pushed apart by a relative 1/1024 in alternating coordinates (faiss' rule, made deterministic), so
  the next assignment shares that cluster's items between them. Clusters with fewer than two items are
  never split; an empty centroid left without one keeps its place (the final assignment repairs it).
  """
  num_codes, d = centroids.shape
  _, largest = lax.top_k(counts, num_codes)  # clusters by size, largest first
  rank = jnp.clip(jnp.cumsum(empty) - 1, 0, num_codes - 1)
  source = largest[rank]  # [c] the cluster each empty centroid splits
  ok = empty & (counts[source] >= 2)
  sign = jnp.where(jnp.arange(d) % 2 == 0, 1.0, -1.0) / 1024.0  # [d]
  moved = centroids[source] * (1.0 + sign)  # the empty centroid's new place
  out = jnp.where(ok[:, None], moved, centroids)
  split_sources = jax.ops.segment_sum(ok.astype(jnp.int32), source, num_segments=num_codes) > 0
  return jnp.where(split_sources[:, None], centroids * (1.0 - sign), out)


def _update(x, codes, centroids):
  """Lloyd update: centroid = mean of its items; empty ones split a large cluster (`_split_largest`)."""
  num_codes = centroids.shape[0]
  sums = jax.ops.segment_sum(x, codes, num_segments=num_codes)  # [c, d]
  counts = _counts(codes, num_codes)
  means = jnp.where((counts > 0)[:, None], sums / jnp.maximum(counts, 1)[:, None], centroids)
  empty = counts == 0
  return lax.cond(jnp.any(empty), lambda: _split_largest(means, empty, counts), lambda: means)


def _kmeanspp(key, x, num_codes: int, sample_size: int):
  """Greedy D^2 seeding on a subsample, several seeds per round.

  Each round samples `_KMEANSPP_TRIALS` candidates per new seed with probability ~ D^2 (Gumbel top-k,
  without replacement) and keeps, per seed slot, the candidate that lowers the potential sum(D^2) most
  (sklearn's greedy k-means++; slots of one round are scored independently of each other).
  """
  n, d = x.shape
  k_sample, k_first, k_rounds = jax.random.split(key, 3)
  if sample_size < n:
    x = x[jax.random.choice(k_sample, n, (sample_size,), replace=False)]
  m = x.shape[0]
  rounds = min(num_codes - 1, _KMEANSPP_MAX_ROUNDS)
  per_round = -(-(num_codes - 1) // rounds)
  rounds = -(-(num_codes - 1) // per_round)
  trials = min(_KMEANSPP_TRIALS, m // per_round)
  first = x[jax.random.randint(k_first, (), 0, m)]
  seeds = jnp.zeros((1 + rounds * per_round, d), x.dtype).at[0].set(first)
  d2 = jnp.sum((x - first) ** 2, axis=-1)  # [m] squared distance to the nearest seed so far
  x_sq = jnp.sum(x * x, axis=-1)

  def one_round(r, state):
    seeds, d2 = state
    gumbel = jax.random.gumbel(jax.random.fold_in(k_rounds, r), (m,))
    logits = jnp.where(d2 > 0, jnp.log(jnp.maximum(d2, 1e-30)), -jnp.inf) + gumbel
    _, idx = lax.top_k(logits, trials * per_round)  # [t * p] candidates, sampled ~ d2
    cand = x[idx]
    dist = x_sq[:, None] - 2.0 * jnp.dot(x, cand.T) + jnp.sum(cand * cand, axis=-1)[None, :]  # [m, t*p]
    dist = jnp.minimum(d2[:, None], jnp.maximum(dist, 0.0))
    potential = jnp.sum(dist, axis=0).reshape(trials, per_round)  # [t, p]
    best = jnp.argmin(potential, axis=0) * per_round + jnp.arange(per_round)  # [p] columns of dist
    seeds = lax.dynamic_update_slice(seeds, cand[best], (1 + r * per_round, 0))
    return seeds, jnp.min(dist[:, best], axis=-1)

  seeds, _ = lax.fori_loop(0, rounds, one_round, (seeds, d2))
  return seeds[:num_codes]


def _balanced_assign(x: jax.Array, centroids: jax.Array) -> jax.Array:
  """Capacity-constrained assignment: cluster j gets exactly floor(n/c) (+1 for j < n mod c) items.

  Rounds of: each unassigned item proposes to its nearest non-full cluster; each cluster accepts its
  closest proposers up to its remaining capacity. An item is only turned away by a cluster that is full
  after the round, so there are at most c rounds, and all capacities sum to n, so all items are placed.
  """
  n = x.shape[0]
  num_codes = centroids.shape[0]
  capacity = n // num_codes + (jnp.arange(num_codes) < n % num_codes).astype(jnp.int32)  # [c]
  dist = jnp.sum(centroids * centroids, axis=-1)[None, :] - 2.0 * jnp.dot(x, centroids.T)  # [n, c]
  rows = jnp.arange(n)

  def body(state):
    codes, remaining = state
    masked = jnp.where((remaining <= 0)[None, :], jnp.inf, dist)
    proposal = jnp.argmin(masked, axis=-1).astype(jnp.int32)
    proposal_dist = masked[rows, proposal]
    bucket = jnp.where(codes < 0, proposal, num_codes)  # assigned items go to a sentinel bucket
    order = jnp.lexsort((proposal_dist, bucket))  # by cluster, then by distance
    sorted_bucket = bucket[order]
    rank = rows - jnp.searchsorted(sorted_bucket, sorted_bucket, side='left')  # rank within the cluster
    accept_sorted = (sorted_bucket < num_codes) & (rank < remaining[jnp.minimum(sorted_bucket, num_codes - 1)])
    accept = jnp.zeros((n,), bool).at[order].set(accept_sorted)
    codes = jnp.where(accept, proposal, codes)
    taken = jax.ops.segment_sum(accept_sorted.astype(jnp.int32), sorted_bucket, num_segments=num_codes)
    return codes, remaining - taken

  codes, _ = lax.while_loop(lambda s: jnp.any(s[0] < 0), body, (jnp.full((n,), -1, jnp.int32), capacity))
  return codes


def _minibatch_lloyd(key, x, centroids, num_epochs: int, batch_size: int, chunk_rows: int):
  """Mini-batch k-means (Sculley 2010): per-centroid learning rate 1 / items seen so far."""
  n = x.shape[0]
  num_codes = centroids.shape[0]
  num_batches = n // batch_size

  def epoch(e, state):
    perm = jax.random.permutation(jax.random.fold_in(key, e), n)

    def step(i, state):
      centroids, seen = state
      xb = x[lax.dynamic_slice(perm, (i * batch_size,), (batch_size,))]  # [b, d]
      codes, sq = _assign(xb, centroids, chunk_rows)
      sums = jax.ops.segment_sum(xb, codes, num_segments=num_codes)
      counts = _counts(codes, num_codes)
      seen = seen + counts
      centroids = centroids + (sums - counts[:, None] * centroids) / jnp.maximum(seen, 1)[:, None]
      empty = seen == 0
      centroids = lax.cond(jnp.any(empty), lambda: _reseed(centroids, empty, xb, sq), lambda: centroids)
      return centroids, seen

    return lax.fori_loop(0, num_batches, step, state)

  centroids, _ = lax.fori_loop(0, num_epochs, epoch, (centroids, jnp.zeros((num_codes,), jnp.int32)))
  return centroids


def _final_assign(x, centroids, chunk_rows: int):
  """Assigns all items; while a code is unused, re-seeds it at a worst-fit item and re-assigns."""
  num_codes = centroids.shape[0]

  def cond(state):
    _, codes, _, r = state
    return jnp.any(_counts(codes, num_codes) == 0) & (r < _FINAL_REPAIR_ROUNDS)

  def body(state):
    centroids, codes, sq, r = state
    centroids = _reseed(centroids, _counts(codes, num_codes) == 0, x, sq)
    codes, sq = _assign(x, centroids, chunk_rows)
    return centroids, codes, sq, r + 1

  codes, sq = _assign(x, centroids, chunk_rows)
  centroids, codes, _, _ = lax.while_loop(cond, body, (centroids, codes, sq, 0))
  return centroids, codes


def _fit_level(key, x, *, num_codes, num_iters, init, balanced, batch_size):
  """One level: x [n, d] -> centroids [c, d], codes [n] int32, residuals [n, d]."""
  n = x.shape[0]
  k_init, k_batches = jax.random.split(key)
  if init == 'kmeans++':
    sample_size = min(n, _KMEANSPP_SAMPLE_PER_CODE * num_codes)
    centroids = _kmeanspp(k_init, x, num_codes, sample_size)
  else:
    centroids = x[jax.random.choice(k_init, n, (num_codes,), replace=False)]

  if balanced:

    def body(_, centroids):
      codes = _balanced_assign(x, centroids)
      sums = jax.ops.segment_sum(x, codes, num_segments=num_codes)
      return sums / jnp.maximum(_counts(codes, num_codes), 1)[:, None]  # every cluster is non-empty

    centroids = lax.fori_loop(0, num_iters, body, centroids)
    codes = _balanced_assign(x, centroids)
  else:
    chunk_rows = _chunk_rows(n, num_codes)
    if batch_size:
      centroids = _minibatch_lloyd(k_batches, x, centroids, num_iters, batch_size, _chunk_rows(batch_size, num_codes))
    else:

      def body(_, centroids):
        codes, _ = _assign(x, centroids, chunk_rows)
        return _update(x, codes, centroids)

      centroids = lax.fori_loop(0, num_iters, body, centroids)
    centroids, codes = _final_assign(x, centroids, chunk_rows)
  return centroids, codes, x - centroids[codes]


_fit_level_jit = jax.jit(_fit_level, static_argnames=('num_codes', 'num_iters', 'init', 'balanced', 'batch_size'))


# ----------------------------------------------------------------------------------------------------
# Public API.


def _check_vectors(vectors: Any, name: str = 'vectors') -> jax.Array:
  x = jnp.asarray(vectors)
  if x.ndim != 2:
    raise ValueError(f'{name} must be a 2-D [n, d] array, got shape {x.shape}.')
  if not jnp.issubdtype(x.dtype, jnp.floating):
    raise ValueError(f'{name} must be floating point, got dtype {x.dtype}.')
  x = x.astype(jnp.float32)
  finite = jnp.isfinite(x).all(axis=-1)
  if not bool(finite.all()):
    bad = np.flatnonzero(~np.asarray(finite))
    raise ValueError(
      f'{name} has NaN or Inf in {bad.size} of {x.shape[0]} rows (first rows: {bad[:5].tolist()}); '
      'clean or drop them before fitting, they are not repaired silently.'
    )
  return x


def fit_residual_kmeans(vectors: Any, config: TokenizerConfig) -> ResidualKMeans:
  """Fits L levels of k-means, each on the residuals of the previous levels.

  Args:
    vectors: [n, d] float item vectors (numpy or jax), all finite, n >= config.codebook_size.
    config: the tokenizer config (num_levels, codebook_size, num_iters, init, balanced, batch_size, seed).

  Returns:
    ResidualKMeans with codebooks [L, c, d] float32 and the fitted codes [n, L] int32.

  Raises:
    ValueError: on a bad config, non-2-D or non-finite vectors, or fewer items than codes.
  """
  config.validate()
  x = _check_vectors(vectors)
  n = x.shape[0]
  if n < config.codebook_size:
    raise ValueError(
      f'fit_residual_kmeans needs at least codebook_size={config.codebook_size} items, got {n}; '
      'lower TokenizerConfig.codebook_size.'
    )
  if config.batch_size > n:
    raise ValueError(f'TokenizerConfig.batch_size ({config.batch_size}) exceeds the item count ({n}).')
  key = jax.random.PRNGKey(config.seed)
  codebooks, codes = [], []
  for level in range(config.num_levels):
    centroids, level_codes, x = _fit_level_jit(
      jax.random.fold_in(key, level),
      x,
      num_codes=config.codebook_size,
      num_iters=config.num_iters,
      init=config.init,
      balanced=config.balanced,
      batch_size=config.batch_size,
    )
    codebooks.append(centroids)
    codes.append(level_codes)
  return ResidualKMeans(codebooks=jnp.stack(codebooks), codes=jnp.stack(codes, axis=1))


@jax.jit
def _encode(codebooks, x):
  codes = []
  chunk_rows = _chunk_rows(x.shape[0], codebooks.shape[1])
  for level in range(codebooks.shape[0]):
    level_codes, _ = _assign(x, codebooks[level], chunk_rows)
    x = x - codebooks[level][level_codes]
    codes.append(level_codes)
  return jnp.stack(codes, axis=1)


def encode(codebooks: Any, vectors: Any) -> jax.Array:
  """Greedy residual encoding. codebooks [L, c, d], vectors [n, d] -> codes [n, L] int32."""
  codebooks = jnp.asarray(codebooks, jnp.float32)
  x = jnp.asarray(vectors, jnp.float32)
  if x.ndim != 2 or codebooks.ndim != 3 or x.shape[1] != codebooks.shape[2]:
    raise ValueError(f'encode needs vectors [n, d] and codebooks [L, c, d]; got {x.shape}, {codebooks.shape}.')
  return _encode(codebooks, x)


@jax.jit
def _decode(codebooks, codes):
  out = jnp.zeros((codes.shape[0], codebooks.shape[2]), codebooks.dtype)
  for level in range(codebooks.shape[0]):
    out = out + codebooks[level][codes[:, level]]
  return out


def decode(codebooks: Any, codes: Any) -> jax.Array:
  """Sum of the chosen centroids. codebooks [L, c, d], codes [n, L] -> [n, d] float32."""
  codebooks = jnp.asarray(codebooks, jnp.float32)
  codes = jnp.asarray(codes, jnp.int32)
  if codes.ndim != 2 or codebooks.ndim != 3 or codes.shape[1] != codebooks.shape[0]:
    raise ValueError(f'decode needs codes [n, L] and codebooks [L, c, d]; got {codes.shape}, {codebooks.shape}.')
  return _decode(codebooks, codes)
