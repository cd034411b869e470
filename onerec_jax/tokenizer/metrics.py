"""Quality metrics of a residual quantiser: the report's Table 11 (reconstruction loss, per-level
codebook utilisation and entropy) plus collision statistics of the code tuples.

Keys of the returned dict (flat, ready for a metrics writer); l counts levels from 1:
- `utilization/level_l`: share of the c codes used by at least one item;
- `entropy_bits/level_l`: entropy of the code distribution, bits; `entropy_norm/level_l` divides by
  log2(c), so 1.0 is a uniform spread over all codes;
- `recon_loss_rel/level_l`: mean ||x - x_hat_l||^2 / mean ||x||^2 with x_hat_l decoded from levels 1..l;
  `recon_loss_rel` is the one for all levels;
- `items_per_sid_max`, `items_per_sid_mean` (items / distinct code tuples), `collision_share` (share of
  items whose code tuple is shared with another item).
"""

from typing import Any

import numpy as np

from onerec_jax.tokenizer import residual_kmeans


def tokenizer_metrics(vectors: Any, codebooks: Any, codes: Any) -> dict[str, float]:
  """Metrics of codes [n, L] for vectors [n, d] under codebooks [L, c, d]; see the module docstring."""
  x = np.asarray(vectors, np.float64)
  codebooks = np.asarray(codebooks, np.float32)
  codes = np.asarray(codes)
  num_levels, num_codes, dim = codebooks.shape
  if codes.ndim != 2 or codes.shape[1] != num_levels or x.shape != (codes.shape[0], dim):
    raise ValueError(
      f'tokenizer_metrics needs vectors [n, d], codebooks [L, c, d], codes [n, L]; got {x.shape}, '
      f'{codebooks.shape}, {codes.shape}.'
    )
  out = code_metrics(codes, num_codes)
  x_energy = float(np.mean(np.sum(x * x, axis=-1)))
  recon = np.zeros_like(x)
  for level in range(num_levels):
    recon += codebooks[level][codes[:, level]]
    out[f'recon_loss_rel/level_{level + 1}'] = float(np.mean(np.sum((x - recon) ** 2, axis=-1))) / max(x_energy, 1e-30)
  out['recon_loss_rel'] = out[f'recon_loss_rel/level_{num_levels}']
  return out


def code_metrics(codes: Any, codebook_size: int) -> dict[str, float]:
  """Per-level utilisation and entropy, and collision statistics, of codes [n, L] (keys as tokenizer_metrics)."""
  codes = np.asarray(codes)
  n, num_levels = codes.shape
  out = {}
  for level in range(num_levels):
    counts = np.bincount(codes[:, level], minlength=codebook_size)
    p = counts[counts > 0] / n
    entropy = float(-np.sum(p * np.log2(p)))
    name = f'level_{level + 1}'
    out[f'utilization/{name}'] = float(np.mean(counts > 0))
    out[f'entropy_bits/{name}'] = entropy
    out[f'entropy_norm/{name}'] = entropy / float(np.log2(codebook_size))
  _, group, group_size = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
  out['items_per_sid_max'] = float(group_size.max())
  out['items_per_sid_mean'] = float(n / group_size.size)
  out['collision_share'] = float(np.mean(group_size[group.reshape(-1)] > 1))
  return out


def reconstruction_loss(vectors: Any, codebooks: Any, codes: Any) -> float:
  """Relative reconstruction loss mean ||x - decode(codes)||^2 / mean ||x||^2 (jitted decode)."""
  x = np.asarray(vectors, np.float32)
  x_hat = np.asarray(residual_kmeans.decode(codebooks, codes))
  return float(np.mean(np.sum((x - x_hat) ** 2, -1)) / max(np.mean(np.sum(x * x, -1)), 1e-30))
