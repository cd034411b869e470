r"""Does an exact bounded Lloyd iteration (Yinyang k-means) pay on the k-means benchmark's data? A probe.

  python -m experiments.benchmarks.kmeans_bounds_probe [--probe_vectors=49152] [--probe_dim=256] \
      [--probe_codes=2048] [--probe_groups=205] [--probe_block=1024] [--out=experiments/results/kmeans_bounds_probe.json]

Issue 10 asks whether bounds that skip distance work once assignments settle (Hamerly, Yinyang) can beat
faiss-cpu's plain Lloyd by 2x on `kmeans_bench`'s data (random Gaussian vectors, ~24 items per code).
This probe runs, side by side on the same vectors and initial centroids (numpy/OpenBLAS, the BLAS faiss
uses), 10 iterations of
  plain Lloyd: a full [n, c] distance GEMM per iteration, and
  Yinyang (Ding et al. 2015): centroids grouped by k-means on the initial centroids (`--probe_groups`); per item
    an upper bound on its centroid's distance and a lower bound per group, moved by the centroid drifts;
    a group is examined only when its lower bound is below the item's upper bound. To keep the distance
    work a GEMM, items are processed in blocks (`--probe_block`, sorted by assigned centroid) against the union
    of the groups any item of the block must examine.
and reports the wall time of each, the codes' agreement (must be 1.0: the bounds are exact), the ideal
distance work (the examined item-group pairs, as a share of Lloyd's) and the work the GEMM blocks really
did. Writes the figures as JSON to --out.
"""

from __future__ import annotations

import json
import time

import numpy as np
from absl import app, flags

from experiments import common_flags

# Names distinct from kmeans_bench's (every entry point imports into one process in the tests).
_N = flags.DEFINE_integer("probe_vectors", 49152, "items")
_D = flags.DEFINE_integer("probe_dim", 256, "vector width")
_C = flags.DEFINE_integer("probe_codes", 2048, "centroids")
_G = flags.DEFINE_integer("probe_groups", 205, "Yinyang centroid groups (the paper: codes / 10)")
_B = flags.DEFINE_integer("probe_block", 1024, "items per distance GEMM block")
_ITERS = flags.DEFINE_integer("probe_iters", 10, "Lloyd iterations")
_OUT = common_flags.OUT  # JSON file to write (default experiments/results/kmeans_bounds_probe.json)


def _sq(xb, xb_sq, c):
  return np.maximum(xb_sq[:, None] - 2.0 * (xb @ c.T) + np.sum(c * c, 1)[None], 0.0)


def _update(x, codes, centroids):
  sums = np.zeros(centroids.shape, np.float64)
  np.add.at(sums, codes, x)
  counts = np.bincount(codes, minlength=len(centroids))
  return np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centroids).astype(np.float32)


def _assign(x, x_sq, centroids, rows=4096):
  return np.concatenate([_sq(x[s : s + rows], x_sq[s : s + rows], centroids).argmin(1) for s in range(0, len(x), rows)])


def plain(x, x_sq, centroids, iters):
  for _ in range(iters):
    centroids = _update(x, _assign(x, x_sq, centroids), centroids)
  return _assign(x, x_sq, centroids)


def yinyang(x, x_sq, centroids, iters, num_groups, block, seed=0):
  """Exact Yinyang Lloyd; returns (final codes, ideal work share, GEMM work share)."""
  n, c = len(x), len(centroids)
  rng = np.random.default_rng(seed)
  gc = centroids[rng.choice(c, num_groups, replace=False)]
  for _ in range(5):  # group the centroids
    group = _sq(centroids, np.sum(centroids**2, 1), gc).argmin(1)
    gc = np.stack([centroids[group == k].mean(0) if (group == k).any() else gc[k] for k in range(num_groups)])
  keep = np.unique(group)  # drop empty groups
  group = np.searchsorted(keep, group)
  num_groups = len(keep)
  perm = np.argsort(group, kind="stable")  # centroid columns ordered by group
  sizes = np.bincount(group, minlength=num_groups)
  starts = np.r_[0, np.cumsum(sizes)[:-1]]
  col_group = group[perm]
  codes = np.empty(n, np.int64)
  upper = np.empty(n, np.float32)
  lower = np.empty((n, num_groups), np.float32)
  for s in range(0, n, 4096):  # first assignment: exact bounds
    rows = np.arange(s, min(n, s + 4096))
    dist = _sq(x[rows], x_sq[rows], centroids[perm])
    j = dist.argmin(1)
    codes[rows], upper[rows] = perm[j], np.sqrt(dist[np.arange(len(rows)), j])
    dist[np.arange(len(rows)), j] = np.inf
    lower[rows] = np.sqrt(np.minimum.reduceat(dist, starts, axis=1))
  ideal = done = 0
  for _ in range(iters):
    new = _update(x, codes, centroids)
    drift = np.linalg.norm(new - centroids, axis=1)
    centroids = new
    upper += drift[codes]
    lower -= np.maximum.reduceat(drift[perm], starts)[None]
    cand = np.nonzero(lower.min(1) < upper)[0]
    diff = x[cand] - centroids[codes[cand]]
    upper[cand] = np.sqrt(np.sum(diff * diff, 1)) * (1 + 1e-6) + 1e-6  # tightened, with rounding slack
    cand = cand[lower[cand].min(1) < upper[cand]]
    cand = cand[np.argsort(codes[cand], kind="stable")]
    cp = centroids[perm]
    for s in range(0, len(cand), block):
      rows = cand[s : s + block]
      r = np.arange(len(rows))
      need = lower[rows] < upper[rows][:, None]  # [b, groups]
      ideal += int((need * sizes[None]).sum())
      groups = np.nonzero(need.any(0))[0]
      cols = np.concatenate([np.arange(starts[k], starts[k] + sizes[k]) for k in groups])
      done += len(rows) * len(cols)
      dist = _sq(x[rows], x_sq[rows], cp[cols])
      own = centroids[codes[rows]]
      current = np.sqrt(np.maximum(x_sq[rows] - 2.0 * np.sum(x[rows] * own, 1) + np.sum(own * own, 1), 0.0))
      j = dist.argmin(1)
      best = np.sqrt(dist[r, j])
      move = best < current
      old = codes[rows].copy()
      codes[rows] = np.where(move, perm[cols[j]], old)
      upper[rows] = np.where(move, best, current)
      dist[perm[cols][None, :] == codes[rows][:, None]] = np.inf  # group bounds exclude the own centroid
      bounds = lower[rows]
      bounds[:, groups] = np.sqrt(
        np.minimum.reduceat(dist, np.r_[0, np.nonzero(np.diff(col_group[cols]))[0] + 1], axis=1)
      )
      bounds[r[move], group[old[move]]] = np.minimum(bounds[r[move], group[old[move]]], current[move])
      lower[rows] = bounds
  final = _assign(x, x_sq, centroids)  # the same final assignment as plain
  return final, ideal / (n * c * iters), done / (n * c * iters)


def main(argv):
  del argv
  rng = np.random.default_rng(0)
  x = rng.standard_normal((_N.value, _D.value)).astype(np.float32)
  x_sq = np.sum(x * x, 1)
  init = x[rng.choice(_N.value, _C.value, replace=False)].copy()
  t = time.perf_counter()
  codes_plain = plain(x, x_sq, init, _ITERS.value)
  t_plain = time.perf_counter() - t
  t = time.perf_counter()
  codes_yy, ideal, done = yinyang(x, x_sq, init, _ITERS.value, _G.value, _B.value)
  t_yy = time.perf_counter() - t
  out = {
    "setting": {
      "num_vectors": _N.value,
      "dim": _D.value,
      "codes": _C.value,
      "groups": _G.value,
      "block": _B.value,
      "iters": _ITERS.value,
    },
    "plain_seconds": t_plain,
    "yinyang_seconds": t_yy,
    "speedup": t_plain / t_yy,
    "codes_agree": float(np.mean(codes_plain == codes_yy)),
    "ideal_work_share": ideal,
    "gemm_work_share": done,
  }
  print(json.dumps(out, indent=1))
  with open(_OUT.value or "experiments/results/kmeans_bounds_probe.json", "w") as f:
    json.dump(out, f, indent=1)


if __name__ == "__main__":
  app.run(main)
