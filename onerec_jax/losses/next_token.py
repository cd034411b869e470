"""Next-token cross-entropy over semantic-ID tokens (PAPER.md section 3)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def semantic_id_loss(
  logits: jax.Array, targets: jax.Array, reduction: str = "sum", weights: jax.Array | None = None
) -> tuple[jax.Array, dict[str, jax.Array]]:
  """Cross-entropy of the generated semantic ID.

  Args:
    logits: [b, l, v] float32.
    targets: [b, l] int32 codes.
    reduction: over the l tokens, 'sum' (OneRec V1) or 'mean' (OneRec V2); always the mean over b.
    weights: optional [b] example weights (mean over weighted examples).

  Returns:
    scalar loss and metrics: 'loss', 'token_accuracy' (all levels), 'item_accuracy' (every token right),
    'loss_level_i' per level.
  """
  ce = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), targets)  # [b, l]
  per_example = ce.sum(-1) if reduction == "sum" else ce.mean(-1)
  w = jnp.ones(ce.shape[0], jnp.float32) if weights is None else weights.astype(jnp.float32)
  denom = jnp.maximum(w.sum(), 1e-9)
  loss = (per_example * w).sum() / denom
  correct = logits.argmax(-1) == targets
  metrics = {
    "loss": loss,
    "token_accuracy": (correct.mean(-1) * w).sum() / denom,
    "item_accuracy": (correct.all(-1) * w).sum() / denom,
  }
  for i in range(ce.shape[1]):
    metrics[f"loss_level_{i}"] = (ce[:, i] * w).sum() / denom
  return loss, metrics
