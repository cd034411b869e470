"""The preference reward model (P-Score, PAPER.md section 6): one tower per engagement objective, fused.

A shared representation of (user, recent history, candidate item) feeds one small tower per objective
(click, long view, like, follow, ...; each trained with its own binary cross-entropy), and the towers'
hidden states feed a fusion MLP whose output is the one personalised preference score used to rank
candidates (also trained with binary cross-entropy, on a preference label: onerec_jax.train.reward_task).

The history is the user's last `history_len` impressions before the candidate, each embedded from its
item, category, author and observed feedback labels; the candidate attends to it (target attention, as
DIN), and the attended summary, the mean of the history, the user and static embeddings and the candidate
form the shared input.

Shape letters: b batch, h history length, o objectives, e embedding width, d hidden width.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from onerec_jax.input.batches import RewardBatch
from onerec_jax.sharding.rules import logical_init


@dataclasses.dataclass(kw_only=True)
class RewardConfig:
  """Sizes of the reward model; the data fields are filled from the dataset."""

  objectives: tuple[str, ...] = ()  # objective names (label columns); () = every one the dataset has
  preference_from: tuple[str, ...] = ()  # objectives whose OR is the preference label; () = all but
  # 'is_click' / 'click' and 'is_hate' / 'hate'
  negative_objectives: tuple[str, ...] = ("is_hate", "hate")  # a positive here makes the preference 0
  history_len: int = 50  # impressions before the candidate fed to the model
  embed_dim: int = 32  # e
  hidden_dim: int = 128  # d, the shared representation
  tower_dim: int = 32  # each objective tower's hidden width
  dropout: float = 0.1
  # Filled from the data (0 = not yet known).
  num_items: int = 0
  num_users: int = 0
  num_categories: int = 0
  num_authors: int = 0
  static_vocab_sizes: tuple[int, ...] = ()

  def validate(self) -> "RewardConfig":
    for name in ("history_len", "embed_dim", "hidden_dim", "tower_dim"):
      if getattr(self, name) < 1:
        raise ValueError(f"reward.{name} must be >= 1, got {getattr(self, name)}")
    if not 0.0 <= self.dropout < 1.0:
      raise ValueError(f"reward.dropout must be in [0, 1), got {self.dropout}")
    return self


def _embed(num: int, features: int, rngs: nnx.Rngs) -> nnx.Embed:
  return nnx.Embed(
    num, features, embedding_init=logical_init(nnx.initializers.normal(0.05), ("table", None)), rngs=rngs
  )


def _dense(din: int, dout: int, rngs: nnx.Rngs, names=("embed", "mlp")) -> nnx.Linear:
  return nnx.Linear(din, dout, kernel_init=logical_init(nnx.initializers.lecun_normal(), names), rngs=rngs)


class RewardModel(nnx.Module):
  """P-Score: `__call__(batch)` -> (objective logits [b, o], preference logit [b])."""

  def __init__(self, config: RewardConfig, num_objectives: int, *, rngs: nnx.Rngs):
    config.validate()
    c, e, d = config, config.embed_dim, config.hidden_dim
    if c.num_items < 1 or num_objectives < 1:
      raise ValueError("reward: num_items and the objectives must be known before building the model")
    self.config, self.num_objectives = c, num_objectives
    self.item = _embed(c.num_items + 1, e, rngs)  # row 0 = padding
    self.category = _embed(c.num_categories + 1, e, rngs)
    self.author = _embed(c.num_authors + 1, e, rngs)
    self.user = _embed(max(c.num_users, 1), e, rngs)
    self.static = nnx.List([_embed(v, e, rngs) for v in c.static_vocab_sizes])
    self.history_in = _dense(3 * e + num_objectives, d, rngs)
    self.candidate_in = _dense(3 * e, d, rngs)
    self.query = _dense(d, d, rngs, names=("mlp", "embed"))
    shared_in = e * (1 + len(c.static_vocab_sizes)) + 4 * d
    self.shared1 = _dense(shared_in, d, rngs)
    self.shared2 = _dense(d, d, rngs, names=("mlp", "embed"))
    self.towers = nnx.List([_dense(d, c.tower_dim, rngs) for _ in range(num_objectives)])
    self.tower_out = nnx.List([_dense(c.tower_dim, 1, rngs, names=("mlp", None)) for _ in range(num_objectives)])
    self.fusion1 = _dense(num_objectives * c.tower_dim, c.tower_dim, rngs)
    self.fusion2 = _dense(c.tower_dim, 1, rngs, names=("mlp", None))
    self.dropout = nnx.Dropout(c.dropout, rngs=rngs)

  def _item_parts(self, items, category, author):
    valid = items >= 0
    return (
      jnp.concatenate(
        [
          self.item(jnp.where(valid, items + 1, 0)),
          self.category(jnp.where(valid, category, 0)),
          self.author(jnp.where(valid, author, 0)),
        ],
        axis=-1,
      )
      * valid[..., None]
    )

  def __call__(self, batch: RewardBatch) -> tuple[jax.Array, jax.Array]:
    """batch: RewardBatch with history [b, h] and candidates [b] -> (logits [b, o], preference [b])."""
    c = self.config
    history = jnp.concatenate(
      [
        self._item_parts(batch.history_items, batch.history_category, batch.history_author),
        batch.history_labels.astype(jnp.float32),
      ],
      axis=-1,
    )
    h = jax.nn.silu(self.history_in(history))  # [b, h, d]
    valid = batch.history_items >= 0  # [b, h]
    cand = jax.nn.silu(self.candidate_in(self._item_parts(batch.item, batch.category, batch.author)))  # [b, d]
    scores = jnp.einsum("bd,bhd->bh", self.query(cand), h) / jnp.sqrt(c.hidden_dim)
    scores = jnp.where(valid, scores, -1e9)
    weights = jax.nn.softmax(scores, axis=-1) * valid.any(-1, keepdims=True)
    attended = jnp.einsum("bh,bhd->bd", weights, h)
    mean = (h * valid[..., None]).sum(1) / jnp.maximum(valid.sum(1, keepdims=True), 1)
    statics = [self.user(batch.user_id % max(c.num_users, 1))] + [
      emb(batch.static[:, i]) for i, emb in enumerate(self.static)
    ]
    x = jnp.concatenate(statics + [attended, mean, cand, attended * cand], axis=-1)
    x = self.dropout(jax.nn.silu(self.shared1(x)))
    x = jax.nn.silu(self.shared2(x))  # [b, d] shared representation
    hidden = [jax.nn.silu(tower(x)) for tower in self.towers]  # o x [b, tower_dim]
    logits = jnp.concatenate([out(t) for out, t in zip(self.tower_out, hidden)], axis=-1)  # [b, o]
    preference = self.fusion2(jax.nn.silu(self.fusion1(jnp.concatenate(hidden, axis=-1))))[:, 0]
    return logits.astype(jnp.float32), preference.astype(jnp.float32)
