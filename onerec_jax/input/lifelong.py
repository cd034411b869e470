"""The report's lifelong-pathway compression: hierarchical k-means over a long history's item vectors.

PAPER.md section 2: up to 100,000 interactions are clustered by hierarchical k-means over the item
embeddings (about cube-root(n) clusters per split, recursing until a cluster is small); each cluster is
represented by its member nearest the centroid (sparse features: item id, semantic ID, category, author)
and by its members' mean (continuous features: feedback), up to a cap of representatives, which the
QFormer then compresses. Plain numpy, deterministic given the seed; runs on the host in the input
pipeline (a batch's histories are compressed one by one). Shape legend: n interactions, d vector width,
r representatives, f feedback values.
"""

from __future__ import annotations

import numpy as np


def _kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iters: int) -> np.ndarray:
  """Lloyd's k-means from k distinct random rows: [n] cluster ids (every id in [0, k) non-empty)."""
  centroids = x[rng.choice(len(x), k, replace=False)]
  labels = np.zeros(len(x), np.int64)
  for _ in range(iters):
    d = (x * x).sum(1)[:, None] - 2 * x @ centroids.T + (centroids * centroids).sum(1)[None, :]
    labels = d.argmin(1)
    counts = np.bincount(labels, minlength=k)
    sums = np.zeros_like(centroids)
    np.add.at(sums, labels, x)
    keep = counts > 0
    centroids[keep] = sums[keep] / counts[keep, None]
  _, labels = np.unique(labels, return_inverse=True)  # drop empty clusters: ids 0..k'-1
  return labels


def hierarchical_clusters(
  vectors: np.ndarray, *, leaf_size: int, max_clusters: int, seed: int = 0, iters: int = 5
) -> list[np.ndarray]:
  """Splits rows of `vectors` [n, d] into clusters of at most `leaf_size` rows (or fewer clusters).

  Each split makes ceil(cbrt(m)) clusters of its m rows; the largest cluster is split first, until every
  cluster has <= leaf_size rows, or `max_clusters` clusters exist, or no split separates rows (identical
  vectors).

  Returns:
    A list of index arrays into the rows, in order of each cluster's earliest row.
  """
  n = len(vectors)
  if n == 0:
    return []
  x = np.asarray(vectors, np.float64)
  rng = np.random.default_rng(seed)
  clusters = [np.arange(n)]
  frozen: list[np.ndarray] = []  # clusters that cannot be split further
  while clusters and len(clusters) + len(frozen) < max_clusters:
    clusters.sort(key=len)
    big = clusters.pop()
    if len(big) <= leaf_size:
      clusters.append(big)
      break
    k = min(int(np.ceil(len(big) ** (1 / 3))), max_clusters - len(clusters) - len(frozen), len(big))
    labels = _kmeans(x[big], max(k, 2), rng, iters) if k >= 2 else np.zeros(len(big), np.int64)
    parts = [big[labels == c] for c in range(labels.max() + 1)]
    if len(parts) == 1:
      frozen.append(big)
    else:
      clusters.extend(parts)
  out = clusters + frozen
  return sorted(out, key=lambda c: int(c.min()))


def representatives(
  vectors: np.ndarray, feedback: np.ndarray, *, max_representatives: int, leaf_size: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
  """Compresses one history into at most `max_representatives` representatives.

  Args:
    vectors: [n, d] item vectors of the history's interactions (time order).
    feedback: [n, f] continuous feedback of the interactions.
    max_representatives: r, the cap.
    leaf_size: clusters stop splitting at this many interactions.
    seed: k-means seed.

  Returns:
    (rows [r'] int: the interaction nearest each cluster's centroid, in time order of the clusters;
     mean_feedback [r', f]: each cluster's mean feedback), r' <= r.
  """
  clusters = hierarchical_clusters(vectors, leaf_size=leaf_size, max_clusters=max_representatives, seed=seed)
  x = np.asarray(vectors, np.float64)
  rows = np.empty(len(clusters), np.int64)
  means = np.zeros((len(clusters), feedback.shape[1]), np.float32)
  for j, c in enumerate(clusters):
    centre = x[c].mean(0)
    rows[j] = c[np.argmin(((x[c] - centre) ** 2).sum(1))]
    means[j] = feedback[c].mean(0)
  return rows, means
