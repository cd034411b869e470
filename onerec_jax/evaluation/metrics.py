"""Ranks -> Recall/HR/NDCG/MRR@K: the one place ranking metrics are computed (numpy).

Every model family ends here: a generative model's ranked list goes through `first_hit_rank`, an ID
model's full-catalogue scores through `onerec_jax.evaluation.full_ranking.target_ranks`; both give a
1-based rank per user (0 = the target is not ranked) and `metrics_from_ranks` turns ranks into metrics.
Conventions: one target per user; HR@K = Recall@K = [rank <= K]; NDCG@K = 1 / log2(rank + 1) if
rank <= K (the ideal DCG is 1); MRR@K = 1 / rank if rank <= K, where K is the largest cut-off (named so:
a list of K items cannot say more). Shape legend: b users, n list length.
"""

from __future__ import annotations

import numpy as np


def first_hit_rank(ranked: np.ndarray, targets: np.ndarray) -> np.ndarray:
  """[b] 1-based rank of the target's first occurrence in `ranked` [b, n] (-1 = empty slot), 0 if absent."""
  ranked = np.asarray(ranked)
  targets = np.asarray(targets)
  hits = (ranked == targets[:, None]) & (ranked >= 0)
  return np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)


def metrics_from_ranks(ranks: np.ndarray, ks=(10, 50, 200)) -> dict[str, float]:
  """{'hr@k', 'recall@k', 'ndcg@k' for k in ks, 'mrr@K' for K = max(ks)} averaged over users.

  Args:
    ranks: [b] 1-based ranks, 0 = absent (a miss at every cut-off).
    ks: cut-offs.
  """
  ranks = np.asarray(ranks)
  hit = ranks > 0
  out = {}
  for k in ks:
    in_k = hit & (ranks <= k)
    out[f"hr@{k}"] = float(np.mean(in_k))
    out[f"recall@{k}"] = out[f"hr@{k}"]
    out[f"ndcg@{k}"] = float(np.mean(np.where(in_k, 1.0 / np.log2(np.maximum(ranks, 1) + 1), 0.0)))
  top = max(ks)
  out[f"mrr@{top}"] = float(np.mean(np.where(hit & (ranks <= top), 1.0 / np.maximum(ranks, 1), 0.0)))
  return out


def ranking_metrics(ranked: np.ndarray, targets: np.ndarray, ks=(5, 10)) -> dict[str, float]:
  """Metrics of ranked lists [b, n] (best first) against targets [b]; see `metrics_from_ranks`."""
  return metrics_from_ranks(first_hit_rank(np.asarray(ranked)[:, : max(ks)], targets), ks)


def dedupe_ranked(ranked: np.ndarray, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
  """The first k distinct, non-excluded items of each row, in order, -1 padded: [b, k].

  Args:
    ranked: [b, n] item ids best first (-1 = empty slot); a repeated item keeps its first position.
    k: list length.
    exclude: optional [b, m] items to drop from each row (-1 padded), e.g. the user's history under the
      HSTU protocol.
  """
  ranked = np.asarray(ranked)
  out = np.full((ranked.shape[0], k), -1, dtype=np.int64)
  for r, row in enumerate(ranked):
    seen = set(int(x) for x in exclude[r] if x >= 0) if exclude is not None else set()
    j = 0
    for item in row:
      if item < 0 or item in seen:
        continue
      seen.add(int(item))
      out[r, j] = item
      j += 1
      if j == k:
        break
  return out


def history_share(ranked: np.ndarray, history: np.ndarray) -> float:
  """Share of the filled slots of the ranked lists that hold an item of the user's own history.

  Where users do not take an item twice (Amazon Beauty), every such slot is a certain miss: the figure says
  how much of a protocol that keeps history in the ranking (TIGER's) the model spends on it.

  Args:
    ranked: [b, k] item ids best first, -1 = empty slot.
    history: [b, n] the items before each target, -1 padded.
  """
  ranked, history = np.asarray(ranked), np.asarray(history)
  filled = ranked >= 0
  hits = sum(int(np.isin(row[row >= 0], hist[hist >= 0]).sum()) for row, hist in zip(ranked, history))
  return hits / max(int(filled.sum()), 1)
