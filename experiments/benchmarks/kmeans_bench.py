r"""Residual k-means speed: ours (JAX, onerec_jax.tokenizer.residual_kmeans) against faiss-cpu, side by side.

  python -m experiments.benchmarks.kmeans_bench [--quick] [--num_vectors=N] [--nopeer] \
      [--out=experiments/results/tokenizer_kmeans_bench.md]

Full setting (PROTOCOLS.md peer row): 200,000 random 256-dim float32 vectors, 3 levels x 8,192 codes,
10 Lloyd iterations per level, random initialisation from distinct items for both (faiss.Kmeans' own
init; ours `init='random'`), each level fitted on the residuals of the previous one, the final
assignment included. --quick: 20,000 x 64-dim, 3 x 256 (a smoke run, seconds). --num_vectors changes n
(the issue's large-catalogue timing: --num_vectors=1000000 --nopeer times ours alone on 1,000,000). Needs faiss-cpu (the `bench` extra) for the peer column.
Ours: level 1 includes XLA compilation (levels 2 and 3 reuse it), so the table gives the compile
estimate (level 1 minus the mean of levels 2-3) and the fit time with and without it.
Appends a dated row set to --out and prints the same.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import time

import numpy as np
from absl import app, flags

from experiments import common_flags

_QUICK = flags.DEFINE_bool("quick", False, "20k x 64-dim, 3 x 256 codes (smoke run)")
_NUM_VECTORS = flags.DEFINE_integer("num_vectors", 0, "vectors to cluster (0 = 200,000; 20,000 with --quick)")
_PEER = flags.DEFINE_bool("peer", True, "also run faiss-cpu on the same vectors (needs the bench extra)")
_OUT = common_flags.OUT  # markdown file to append to (default experiments/results/tokenizer_kmeans_bench.md)
_ITERS = flags.DEFINE_integer("iters", 10, "Lloyd iterations per level")


def ours(x: np.ndarray, levels: int, codes: int, iters: int) -> dict:
  import jax
  from onerec_jax.tokenizer import metrics, residual_kmeans as rk

  r = jax.device_put(x)
  key = jax.random.PRNGKey(0)
  times, books, all_codes = [], [], []
  for level in range(levels):
    t = time.perf_counter()
    c, k, r = rk._fit_level_jit(
      jax.random.fold_in(key, level), r, num_codes=codes, num_iters=iters, init="random", balanced=False, batch_size=0
    )
    jax.block_until_ready(r)
    times.append(time.perf_counter() - t)
    books.append(np.asarray(c))
    all_codes.append(np.asarray(k))
  run = float(np.mean(times[1:])) if levels > 1 else times[0]
  m = metrics.tokenizer_metrics(x, np.stack(books), np.stack(all_codes, 1))
  return {
    "level_seconds": times,
    "total": sum(times),
    "compile_est": max(times[0] - run, 0.0),
    "no_compile": sum(times) - max(times[0] - run, 0.0),
    "recon": m["recon_loss_rel"],
    "util": [m[f"utilization/level_{l + 1}"] for l in range(levels)],
  }


def peer(x: np.ndarray, levels: int, codes: int, iters: int) -> dict | None:
  try:
    import faiss
  except ImportError:
    return None
  r = x.copy()
  times, books, all_codes = [], [], []
  for level in range(levels):
    t = time.perf_counter()
    km = faiss.Kmeans(
      r.shape[1],
      codes,
      niter=iters,
      seed=1234 + level,
      verbose=False,
      max_points_per_centroid=max(256, r.shape[0] // codes + 1),
    )
    km.train(r)
    _, idx = km.index.search(r, 1)
    idx = idx[:, 0]
    r = r - km.centroids[idx]
    times.append(time.perf_counter() - t)
    books.append(km.centroids.copy())
    all_codes.append(idx)
  from onerec_jax.tokenizer import metrics

  m = metrics.tokenizer_metrics(x, np.stack(books), np.stack(all_codes, 1))
  return {
    "level_seconds": times,
    "total": sum(times),
    "recon": m["recon_loss_rel"],
    "util": [m[f"utilization/level_{l + 1}"] for l in range(levels)],
    "version": faiss.__version__,
    "threads": faiss.omp_get_max_threads(),
  }


def sgemm_peak(d: int, codes: int) -> dict:
  """GFLOP/s of one [codes, d] x [d, codes] float32 matmul: numpy (its BLAS, OpenBLAS in the wheels, the
  library faiss' assignment calls) and XLA's dot; best of 5 after a warm-up. The ceiling for both fits."""
  import jax
  import jax.numpy as jnp

  a = np.random.default_rng(2).normal(size=(codes, d)).astype(np.float32)
  b = np.ascontiguousarray(a.T)
  ja, jb = jnp.asarray(a), jnp.asarray(b)
  dot = jax.jit(jnp.dot)
  dot(ja, jb).block_until_ready()
  a @ b
  flop = 2.0 * codes * codes * d
  out = {"numpy": 0.0, "xla": 0.0}
  for _ in range(5):
    t = time.perf_counter()
    a @ b
    out["numpy"] = max(out["numpy"], flop / (time.perf_counter() - t) / 1e9)
    t = time.perf_counter()
    dot(ja, jb).block_until_ready()
    out["xla"] = max(out["xla"], flop / (time.perf_counter() - t) / 1e9)
  return out


def main(argv):
  del argv
  import jax

  n, d, levels, codes = (20_000, 64, 3, 256) if _QUICK.value else (200_000, 256, 3, 8192)
  n = _NUM_VECTORS.value or n
  iters = _ITERS.value
  x = np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)
  flop = 2.0 * n * codes * d * (iters + 1) * levels  # assignment matmuls (Lloyd + final), per fit
  load = os.getloadavg()
  peak = sgemm_peak(d, codes)
  a = ours(x, levels, codes, iters)
  b = peer(x, levels, codes, iters) if _PEER.value else None
  lines = [
    f"\n## {datetime.datetime.now().isoformat(timespec='minutes')} "
    f"{'--quick' if _QUICK.value else 'full'}: {n:,} x {d}-d, {levels} x {codes:,} codes, {iters} iterations",
    f"command: `{' '.join(['python -m experiments.benchmarks.kmeans_bench'] + sys.argv[1:])}`; "
    f"host {platform.node()}, {os.cpu_count()} cpus, load average before {load[0]:.2f}; "
    f"jax {jax.__version__}" + (f", faiss {b['version']} ({b['threads']} threads)" if b else ", faiss not run"),
    f"float32 matmul peak on this machine now ([{codes}, {d}] x [{d}, {codes}], best of 5): numpy/BLAS "
    f"{peak['numpy']:.0f} GFLOP/s, XLA dot {peak['xla']:.0f} GFLOP/s",
    "",
    "| | total s | per level s | per Lloyd iteration s | GFLOP/s (assign) | recon rel | utilisation |",
    "|---|---|---|---|---|---|---|",
  ]
  per_iter = a["no_compile"] / (levels * (iters + 1))
  lines.append(
    f"| ours (JAX) | {a['total']:.1f} (compile ~{a['compile_est']:.1f}; {a['no_compile']:.1f} without) | "
    f"{', '.join(f'{t:.1f}' for t in a['level_seconds'])} | {per_iter:.2f} | "
    f"{flop / a['no_compile'] / 1e9:.0f} | {a['recon']:.4f} | {a['util']} |"
  )
  if b:
    lines.append(
      f"| faiss.Kmeans | {b['total']:.1f} | {', '.join(f'{t:.1f}' for t in b['level_seconds'])} | "
      f"{b['total'] / (levels * (iters + 1)):.2f} | {flop / b['total'] / 1e9:.0f} | {b['recon']:.4f} | {b['util']} |"
    )
    lines.append(
      f"\nspeed-up (faiss total / ours total): {b['total'] / a['total']:.2f}x with our compile, "
      f"{b['total'] / a['no_compile']:.2f}x without"
    )
  text = "\n".join(lines) + "\n"
  print(text)
  out = _OUT.value or "experiments/results/tokenizer_kmeans_bench.md"
  os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
  new = not os.path.exists(out)
  with open(out, "a") as f:
    if new:
      f.write(
        "# Residual k-means: ours vs faiss-cpu (experiments/benchmarks/kmeans_bench.py)\n\n"
        "Times include the final assignment of every level; ours includes XLA compilation at level 1.\n"
      )
    f.write(text)


if __name__ == "__main__":
  app.run(main)
