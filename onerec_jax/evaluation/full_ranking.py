"""Ranking the full catalogue from a score matrix, with optional exclusion of the user's history.

Used by ID models (SASRec) that score every item. Rules:
* Ties: among equal scores the lower item index ranks first (what a stable descending sort and
  `jax.lax.top_k` do). A model that gives the target the same score as other items is thus neither
  always credited nor always penalised; the rule is deterministic and the same in `target_ranks` and
  `top_k_items`.
* Exclusion (HSTU protocol): items in `exclude` are removed from the ranking before ranks are counted.
  A target that is itself excluded, or is -1, is absent: rank 0, a miss at every cut-off.
* Ranks become metrics in onerec_jax.evaluation.metrics.metrics_from_ranks (the one metrics module).
Shape legend: b users, i items, n history length, k cut-off.
"""

from __future__ import annotations

import numpy as np

from onerec_jax.evaluation.metrics import metrics_from_ranks


def exclusion_mask(exclude: np.ndarray | None, num_items: int) -> np.ndarray:
  """[b, i] bool: item j is excluded for user r (exclude [b, n] item indices, -1 padded)."""
  if exclude is None:
    return None
  exclude = np.asarray(exclude)
  mask = np.zeros((exclude.shape[0], num_items), bool)
  rows, cols = np.nonzero(exclude >= 0)
  mask[rows, exclude[rows, cols]] = True
  return mask


def target_ranks(scores: np.ndarray, targets: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
  """[b] 1-based rank of each target among the non-excluded items (ties: lower index first); 0 = absent.

  Args:
    scores: [b, i] float scores, higher is better.
    targets: [b] int item indices (-1 = no target).
    exclude: optional [b, n] item indices to remove from the ranking (-1 padded).
  """
  scores = np.asarray(scores, np.float64)
  targets = np.asarray(targets)
  b, i = scores.shape
  excluded = exclusion_mask(exclude, i)
  safe = np.clip(targets, 0, i - 1)
  target_score = scores[np.arange(b), safe][:, None]
  ids = np.arange(i)[None, :]
  ahead = (scores > target_score) | ((scores == target_score) & (ids < safe[:, None]))
  absent = (targets < 0) | (targets >= i)
  if excluded is not None:
    ahead &= ~excluded
    absent |= excluded[np.arange(b), safe]
  return np.where(absent, 0, ahead.sum(axis=1) + 1).astype(np.int64)


def top_k_items(scores: np.ndarray, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
  """[b, k] the k best non-excluded items per row (ties: lower index first), -1 when fewer remain."""
  scores = np.asarray(scores, np.float64).copy()
  b, i = scores.shape
  excluded = exclusion_mask(exclude, i)
  if excluded is not None:
    scores[excluded] = -np.inf
  order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
  out = np.where(np.take_along_axis(excluded, order, 1), -1, order) if excluded is not None else order
  if out.shape[1] < k:
    out = np.pad(out, ((0, 0), (0, k - out.shape[1])), constant_values=-1)
  return out


def full_ranking_metrics(
  scores: np.ndarray, targets: np.ndarray, ks=(10, 50, 200), exclude: np.ndarray | None = None
) -> dict[str, float]:
  """HR/Recall/NDCG@k and MRR@max(ks) of full-catalogue scores [b, i] against targets [b] (see module rules)."""
  return metrics_from_ranks(target_ranks(scores, targets, exclude), ks)
