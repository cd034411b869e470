"""Collaborative item vectors from interactions, and a retrieval probe of any item vectors.

Only the training part of each history (positions < length - 2, leave-one-out) is read, so the
validation and test items of a user never shape the vectors that later name them.
- `cooccurrence`: symmetric counts of item pairs at most `window` positions apart in a history.
- `ppmi_svd`: the positive pointwise mutual information matrix of those counts (context distribution
  smoothed by alpha, as word2vec) factorised by a truncated SVD: item vector = U sqrt(S) (Levy & Goldberg
  2014: this is what skip-gram with negative sampling factorises implicitly). Items with no training
  co-occurrence get a tiny random vector, so they do not all collapse onto one code tuple.
- `positive_pairs`: the (a, b) pairs the alignment's InfoNCE trains on.
- `neighbour_probe`: do an item's nearest neighbours (cosine) co-occur with it in training, and does the
  validation item's neighbourhood contain the user's held-out test item?
Shape legend: u users, n longest history, i items, m pairs, d width.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from onerec_jax.input.sequences import SequenceDataset
from onerec_jax.tokenizer.config import ItemVectorsConfig


def _training_mask(data: SequenceDataset) -> np.ndarray:
  return np.arange(data.items.shape[1])[None, :] < (data.lengths - 2)[:, None]  # [u, n]


def positive_pairs(data: SequenceDataset, window: int) -> np.ndarray:
  """[m, 2] int32 ordered pairs (earlier, later) of distinct items <= window apart in training histories."""
  mask = _training_mask(data)
  out = []
  for offset in range(1, window + 1):
    ok = mask[:, :-offset] & mask[:, offset:]
    a, b = data.items[:, :-offset][ok], data.items[:, offset:][ok]
    keep = a != b
    out.append(np.stack([a[keep], b[keep]], 1))
  return np.concatenate(out).astype(np.int32) if out else np.zeros((0, 2), np.int32)


def cooccurrence(data: SequenceDataset, window: int) -> scipy.sparse.csr_matrix:
  """[i, i] symmetric float64 co-occurrence counts (training part, pairs <= window apart)."""
  pairs = positive_pairs(data, window)
  i = data.num_items
  rows = np.concatenate([pairs[:, 0], pairs[:, 1]])
  cols = np.concatenate([pairs[:, 1], pairs[:, 0]])
  return scipy.sparse.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(i, i))


def ppmi_svd(counts: scipy.sparse.spmatrix, dim: int, alpha: float = 0.75, seed: int = 0) -> np.ndarray:
  """[i, dim] float32 item vectors U sqrt(S) of the PPMI matrix of symmetric co-occurrence counts."""
  counts = scipy.sparse.csr_matrix(counts, dtype=np.float64)
  i = counts.shape[0]
  if dim >= i:
    raise ValueError(f'collaborative dimension {dim} must be smaller than the item count {i}')
  coo = counts.tocoo()
  row_sum = np.asarray(counts.sum(1)).ravel()
  context = row_sum**alpha
  total, context_total = row_sum.sum(), context.sum()
  if total == 0:
    raise ValueError('no item pairs co-occur in the training histories; collaborative vectors need some')
  # log( p(a, b) / (p(a) p_alpha(b)) ), p_alpha the smoothed context distribution
  pmi = np.log(coo.data / total) - np.log(row_sum[coo.row] / total) - np.log(context[coo.col] / context_total)
  keep = pmi > 0
  ppmi = scipy.sparse.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=(i, i))
  v0 = np.random.default_rng(seed).normal(size=i)
  u, s, _ = scipy.sparse.linalg.svds(ppmi, k=dim, v0=v0)
  order = np.argsort(-s)
  vec = (u[:, order] * np.sqrt(s[order])[None, :]).astype(np.float32)
  norms = np.linalg.norm(vec, axis=1)
  cold = norms < 1e-8
  if cold.any():
    scale = 1e-3 * float(norms[~cold].mean()) if (~cold).any() else 1e-3
    vec[cold] = (
      np.random.default_rng(seed + 1).normal(size=(int(cold.sum()), dim)).astype(np.float32) * scale / np.sqrt(dim)
    )
  return vec


def collaborative_vectors(data: SequenceDataset, config: ItemVectorsConfig, seed: int = 0) -> np.ndarray:
  """[i, collab_dim] PPMI-SVD item vectors of a dataset's training histories."""
  return ppmi_svd(cooccurrence(data, config.window), config.collab_dim, config.ppmi_alpha, seed)


def _unit(x: np.ndarray) -> np.ndarray:
  x = np.asarray(x, np.float32)
  return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def nearest_neighbours(vectors: np.ndarray, k: int, chunk: int = 4096) -> np.ndarray:
  """[i, k] int32 indices of each item's k nearest other items by cosine similarity."""
  x = _unit(vectors)
  out = np.empty((x.shape[0], k), np.int32)
  for start in range(0, x.shape[0], chunk):
    sim = x[start : start + chunk] @ x.T
    sim[np.arange(sim.shape[0]), np.arange(start, start + sim.shape[0])] = -np.inf
    top = np.argpartition(-sim, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sim, top, 1), axis=1)
    out[start : start + chunk] = np.take_along_axis(top, order, 1)
  return out


def neighbour_probe(vectors: np.ndarray, data: SequenceDataset, k: int = 10, window: int = 5) -> dict[str, float]:
  """Retrieval probe of item vectors [i, d] on a dataset.

  Returns:
    `neighbour_cooccur@k`: share of (item, one of its k nearest neighbours) pairs that co-occur within
      `window` in the training histories; `heldout_next_hit@k`: share of users whose test item is among
      the k nearest neighbours of their validation item (neither interaction was used to build any
      collaborative signal); `heldout_pair_cos` and `random_pair_cos`: mean cosine of those held-out
      (validation, test) pairs and of random item pairs.
  """
  nn = nearest_neighbours(vectors, k)
  counts = cooccurrence(data, window)
  rows = np.repeat(np.arange(nn.shape[0]), k)
  co = np.asarray(counts[rows, nn.reshape(-1)]).ravel() > 0
  u = np.arange(data.num_users)
  valid, test = data.items[u, data.lengths - 2], data.items[u, data.lengths - 1]
  hit = (nn[valid] == test[:, None]).any(1)
  x = _unit(vectors)
  rng = np.random.default_rng(0)
  ra, rb = rng.integers(0, x.shape[0], (2, 20000))
  return {
    f'neighbour_cooccur@{k}': float(co.mean()),
    f'heldout_next_hit@{k}': float(hit.mean()),
    'heldout_pair_cos': float(np.mean(np.sum(x[valid] * x[test], 1))),
    'random_pair_cos': float(np.mean(np.sum(x[ra] * x[rb], 1))),
  }
