"""Typed batches: one small pytree dataclass per model family, with documented shapes.

They are what the input pipeline yields, what `shard_batch` puts on the mesh and what the models read;
jax.tree functions see their array fields as leaves (a missing pathway is None, an empty subtree).
Shape legend: b batch, n pathway length, l semantic-ID levels, f feedback values, s static features,
m targets per window, t window length.
"""

from __future__ import annotations

import flax.struct
import jax


@flax.struct.dataclass
class Pathway:
  """The interactions of one encoder pathway (padding: item -1 and zero features)."""

  items: jax.Array  # [b, n] int32 item index, -1 = padding
  sids: jax.Array  # [b, n, l] int32 semantic ID of each item
  category: jax.Array  # [b, n] int32
  author: jax.Array  # [b, n] int32
  feedback: jax.Array  # [b, n, f] float32 continuous feedback (or a cluster's mean, lifelong hkmeans)


@flax.struct.dataclass
class OneRecBatch:
  """The encoder's multi-scale user features and, for training, the target semantic IDs."""

  user_id: jax.Array  # [b] int32
  static: jax.Array  # [b, s] int32 static user features
  short: Pathway  # the last short_len interactions (multi-target: the window)
  positive: Pathway | None = None  # the last positive_len positive interactions (None = pathway off)
  lifelong: Pathway | None = None  # lifelong interactions or their representatives (None = off)
  target_sid: jax.Array | None = None  # [b, l], or [b, m, l] multi-target; None at inference
  target_mask: jax.Array | None = None  # [b, m] bool, multi-target only: which targets are supervised


@flax.struct.dataclass
class SasrecBatch:
  """Training windows of the ID baseline (onerec_jax.input.windows)."""

  inputs: jax.Array  # [b, t] int32 items, right-aligned, -1 padding
  targets: jax.Array  # [b, t] int32 next items, -1 where not supervised
  mask: jax.Array  # [b, t] bool supervised targets


@flax.struct.dataclass
class RewardBatch:
  """Impressions for the reward model (onerec_jax.models.reward): a candidate and the user's past."""

  user_id: jax.Array  # [b] int32
  static: jax.Array  # [b, s] int32 static user features
  history_items: jax.Array  # [b, h] int32 the last h impressions before the candidate, -1 = padding
  history_category: jax.Array  # [b, h] int32
  history_author: jax.Array  # [b, h] int32
  history_labels: jax.Array  # [b, h, o] float32 the feedback observed on those impressions
  item: jax.Array  # [b] int32 the candidate
  category: jax.Array  # [b] int32
  author: jax.Array  # [b] int32
  labels: jax.Array | None = None  # [b, o] float32 the candidate's feedback (training and evaluation)
  preference: jax.Array | None = None  # [b] float32 the preference label the fused score learns
