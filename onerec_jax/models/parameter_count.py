"""Parameter counts as scaling-law work reports them: total, embeddings apart, activated per token.

Embeddings are the tables of `nnx.Embed` layers (item, semantic-ID, user, feature and decoder-token
tables: leaves named `embedding`); scaling laws count parameters without them (OneRec-V2, Kaplan et
al.). Activated parameters count each MoE layer's experts at top_k / num_experts of their size (the
share a token runs through); the router and everything else count fully.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

EXPERT_LEAVES = ("w_gate", "w_up", "w_down")  # layers/moe.py: [num_experts, ...] expert weights


def _path_names(path) -> list[str]:
  names = []
  for key in path:
    for attr in ("key", "name", "idx"):
      if hasattr(key, attr):
        names.append(str(getattr(key, attr)))
        break
    else:
      names.append(str(key))
  return names


def count_parameters(params: Any, num_experts: int = 0, top_k: int = 0) -> dict[str, int]:
  """Counts a parameter pytree (an nnx.State of nnx.Param, or any pytree with the same paths).

  Args:
    params: the parameters, e.g. `TrainState.params` or `nnx.state(model, nnx.Param)`.
    num_experts, top_k: the MoE layers' experts and experts per token (0: dense, activated = all).

  Returns:
    {'total', 'embedding', 'non_embedding', 'activated_non_embedding'}: parameter counts (ints).
  """
  leaves = [
    (_path_names(path), int(np.prod(np.shape(leaf)))) for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]
  ]
  # An MoE layer is a module holding a `router`; its w_gate/w_up/w_down are experts (a dense SwiGLU has
  # leaves of the same names and no router).
  moe_modules = {tuple(names[: names.index("router")]) for names, _ in leaves if "router" in names}
  total = embedding = experts = 0
  for names, size in leaves:
    total += size
    if "embedding" in names:
      embedding += size
    elif num_experts and any(tuple(names[:i]) in moe_modules and n in EXPERT_LEAVES for i, n in enumerate(names)):
      experts += size
  non_embedding = total - embedding
  share = top_k / num_experts if num_experts else 1.0
  return {
    "total": total,
    "embedding": embedding,
    "non_embedding": non_embedding,
    "activated_non_embedding": int(round(non_embedding - experts + experts * share)),
  }
