"""Ranking metrics for next-item prediction with one target per user (numpy).

Conventions: `ranked` [b, n] int item ids, best first, -1 for empty slots; a repeated item counts at its
first position only; a user whose target is not in the top k scores 0. NDCG with one relevant item is
1 / log2(rank + 1) for rank counted from 1 (the ideal DCG is 1).
"""

from __future__ import annotations

import numpy as np


def first_hit_rank(ranked: np.ndarray, targets: np.ndarray) -> np.ndarray:
  """[b] 1-based rank of the target's first occurrence in `ranked` [b, n], or 0 when absent."""
  ranked = np.asarray(ranked)
  targets = np.asarray(targets)
  hits = (ranked == targets[:, None]) & (ranked >= 0)
  return np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)


def recall_at_k(ranked: np.ndarray, targets: np.ndarray, k: int) -> float:
  """Share of users whose target is in the top k (= HR@k with one target)."""
  rank = first_hit_rank(ranked[:, :k], targets)
  return float(np.mean(rank > 0))


def ndcg_at_k(ranked: np.ndarray, targets: np.ndarray, k: int) -> float:
  """Mean over users of 1 / log2(rank + 1) when the target is in the top k, else 0."""
  rank = first_hit_rank(ranked[:, :k], targets)
  return float(np.mean(np.where(rank > 0, 1.0 / np.log2(np.maximum(rank, 1) + 1), 0.0)))


def mrr(ranked: np.ndarray, targets: np.ndarray) -> float:
  """Mean reciprocal rank over the whole list (0 when absent)."""
  rank = first_hit_rank(ranked, targets)
  return float(np.mean(np.where(rank > 0, 1.0 / np.maximum(rank, 1), 0.0)))


def dedupe_ranked(ranked: np.ndarray, k: int) -> np.ndarray:
  """Keeps each item's first occurrence and the first k distinct items per row, -1 padded: [b, k]."""
  out = np.full((ranked.shape[0], k), -1, dtype=np.int64)
  for r, row in enumerate(np.asarray(ranked)):
    seen, j = set(), 0
    for item in row:
      if item < 0 or item in seen:
        continue
      seen.add(item)
      out[r, j] = item
      j += 1
      if j == k:
        break
  return out


def ranking_metrics(ranked: np.ndarray, targets: np.ndarray, ks=(5, 10)) -> dict[str, float]:
  """{'recall@k', 'ndcg@k' for k in ks, 'mrr'} for ranked lists [b, n] and targets [b]."""
  out = {}
  for k in ks:
    out[f"recall@{k}"] = recall_at_k(ranked, targets, k)
    out[f"ndcg@{k}"] = ndcg_at_k(ranked, targets, k)
  out["mrr"] = mrr(ranked, targets)
  return out
