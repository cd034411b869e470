"""AUC and GAUC of binary predictions (the reward model's metrics).

AUC is the Mann-Whitney statistic: the probability that a random positive scores above a random negative,
ties counted one half (computed from average ranks, O(n log n)). GAUC is the per-user AUC averaged over
the users whose impressions hold both classes, weighted by their impression count (the usual definition
in recommender papers; `weighted=False` gives the plain mean). Users with one class only have no AUC and
are left out; how many were used is returned beside it.
"""

from __future__ import annotations

import numpy as np


def _average_ranks(x: np.ndarray) -> np.ndarray:
  """Ranks 1..n of x, ties sharing their average rank."""
  order = np.argsort(x, kind="mergesort")
  sorted_x = x[order]
  ranks = np.empty(len(x), np.float64)
  starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
  ends = np.r_[starts[1:], len(x)]
  average = (starts + ends + 1) / 2.0  # ranks start + 1 .. end, averaged
  ranks[order] = np.repeat(average, ends - starts)
  return ranks


def auc(scores, labels) -> float:
  """AUC of `scores` [n] for binary `labels` [n]; nan when one class is absent."""
  scores = np.asarray(scores, np.float64).ravel()
  labels = np.asarray(labels).ravel().astype(bool)
  if scores.shape != labels.shape:
    raise ValueError(f"scores {scores.shape} and labels {labels.shape} differ in shape")
  positives, negatives = int(labels.sum()), int((~labels).sum())
  if not positives or not negatives:
    return float("nan")
  ranks = _average_ranks(scores)
  return float((ranks[labels].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def gauc(scores, labels, groups, weighted: bool = True) -> tuple[float, int]:
  """(GAUC, users counted): per-group AUC averaged over groups with both classes.

  Args:
    scores, labels: [n] predictions and binary labels.
    groups: [n] group (user) of each prediction.
    weighted: weight each group's AUC by its number of predictions (else a plain mean).
  """
  scores = np.asarray(scores, np.float64).ravel()
  labels = np.asarray(labels).ravel().astype(bool)
  groups = np.asarray(groups).ravel()
  order = np.argsort(groups, kind="mergesort")
  groups, scores, labels = groups[order], scores[order], labels[order]
  starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
  ends = np.r_[starts[1:], len(groups)]
  values, weights = [], []
  for s, e in zip(starts, ends):
    a = auc(scores[s:e], labels[s:e])
    if not np.isnan(a):
      values.append(a)
      weights.append(e - s if weighted else 1)
  if not values:
    return float("nan"), 0
  return float(np.average(values, weights=weights)), len(values)
