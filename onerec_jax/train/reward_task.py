"""The reward model (P-Score) as a family of the one engine (see onerec_jax.train.task.Task).

Loss: the sum over objectives of each tower's binary cross-entropy plus the fused preference score's
binary cross-entropy on the preference label (1 when any `reward.preference_from` objective is positive
and no `reward.negative_objectives` one is). Evaluation on a split (onerec_jax.input.impressions): AUC and
GAUC (onerec_jax.evaluation.auc) of every objective and of the preference score, beside the item-rate
baseline (each item's smoothed positive rate per objective on the training split).
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from onerec_jax.config import ExperimentConfig
from onerec_jax.evaluation.auc import auc, gauc
from onerec_jax.input.datasets import load_dataset
from onerec_jax.input.impressions import impression_data, reward_batch
from onerec_jax.models.reward import RewardModel
from onerec_jax.sharding.rules import replicated

PRIOR_STRENGTH = 10.0  # item-rate baseline: (positives + 10 * global rate) / (impressions + 10)


def preference_labels(labels: np.ndarray, objectives: tuple[str, ...], config) -> np.ndarray:
  """[..., o] labels -> [...] preference label (see the module docstring)."""
  positive = config.preference_from or tuple(
    o for o in objectives if o not in ("is_click", "click") and o not in config.negative_objectives
  )
  unknown = [o for o in positive if o not in objectives]
  if unknown:
    raise ValueError(f"reward.preference_from {unknown} are not among the objectives {list(objectives)}")
  pos = np.zeros(labels.shape[:-1], bool)
  for o in positive:
    pos |= labels[..., objectives.index(o)] > 0
  for o in config.negative_objectives:
    if o in objectives:
      pos &= ~(labels[..., objectives.index(o)] > 0)
  return pos.astype(np.float32)


def reward_loss(model: RewardModel, batch) -> tuple[jax.Array, dict]:
  """Sum of the per-objective BCEs and the preference BCE (each a mean over the batch)."""
  logits, preference = model(batch)
  per_objective = optax.sigmoid_binary_cross_entropy(logits, batch.labels).mean(axis=0)  # [o]
  fused = optax.sigmoid_binary_cross_entropy(preference, batch.preference).mean()
  loss = per_objective.sum() + fused
  return loss, {
    "loss": loss,
    "preference_bce": fused,
    "objective_bce": per_objective.mean(),
    "accuracy": ((preference > 0) == (batch.preference > 0.5)).mean(),
  }


class RewardTask:
  """The P-Score reward model through the engine."""

  family = "reward"
  router_bias_step = 0.0
  experts = (0, 0)
  compute_dtype = "float32"

  def __init__(self, config: ExperimentConfig, workdir: str | None):
    del workdir
    self.config = config
    r = config.reward
    loaded = load_dataset(config.data)
    self.imp = impression_data(loaded, r.objectives)
    data = self.imp.data
    self.model_config = dataclasses.replace(
      r,
      num_items=data.num_items,
      num_users=data.num_users,
      num_categories=data.num_categories,
      num_authors=data.num_authors,
      static_vocab_sizes=tuple(data.static_vocab_sizes),
    )
    self.preference = preference_labels(self.imp.labels, self.imp.objectives, r)
    self.rows, self.pos = self.imp.positions("train")
    self.num_examples = len(self.rows)
    self.example_unit = "impressions"
    self._score_fn = None
    train = self.imp.split == 0
    global_rate = self.imp.labels[train].mean(axis=0)  # [o]
    counts = np.zeros(data.num_items)
    positives = np.zeros((data.num_items, len(self.imp.objectives)))
    np.add.at(counts, data.items[train], 1.0)
    np.add.at(positives, data.items[train], self.imp.labels[train])
    self.item_rate = (positives + PRIOR_STRENGTH * global_rate) / (counts[:, None] + PRIOR_STRENGTH)  # [i, o]
    pref_pos = np.zeros(data.num_items)
    np.add.at(pref_pos, data.items[train], self.preference[train])
    self.item_preference = (pref_pos + PRIOR_STRENGTH * self.preference[train].mean()) / (counts + PRIOR_STRENGTH)

  def build_model(self):
    seed = self.config.train.seed
    return RewardModel(self.model_config, len(self.imp.objectives), rngs=nnx.Rngs(params=seed, dropout=seed + 1))

  def loss(self, model, batch, step):
    del step  # dropout draws from the model's RNG state, which the checkpoint holds
    model.train()
    loss, metrics = reward_loss(model, batch)
    return loss, metrics, {}

  def batch(self, indices):
    return reward_batch(self.imp, self.rows[indices], self.pos[indices], self.model_config.history_len, self.preference)

  def train_flops(self, batch_size: int) -> int:
    c, o = self.model_config, len(self.imp.objectives)
    e, d, h, t = c.embed_dim, c.hidden_dim, c.history_len, c.tower_dim
    per_example = (
      h * (3 * e + o) * d
      + 3 * e * d
      + d * d
      + 2 * h * d
      + (e * (1 + len(c.static_vocab_sizes)) + 4 * d) * d
      + d * d
      + o * (d * t + t)
      + o * t * t
      + t
    )
    return 3 * 2 * batch_size * per_example

  def _scores(self, graphdef, state, split: str):
    if self._score_fn is None:

      def score(params, rest, batch):
        model = nnx.merge(graphdef, params, rest)
        model.eval()
        logits, preference = model(batch)
        return jax.nn.sigmoid(logits), jax.nn.sigmoid(preference)

      self._score_fn = jax.jit(score, out_shardings=replicated(state.params))
    rows, pos = self.imp.positions(split)
    if self.config.eval.max_users:  # the impressions of the first max_users users of the split
      keep = np.isin(rows, np.unique(rows)[: self.config.eval.max_users])
      rows, pos = rows[keep], pos[keep]
    bs = self.config.eval.batch_size
    objective_scores, preference_scores = [], []
    for start in range(0, len(rows), bs):
      r, p = rows[start : start + bs], pos[start : start + bs]
      n = len(r)
      if n < bs:  # one shape: one compilation
        r, p = np.pad(r, (0, bs - n), mode="edge"), np.pad(p, (0, bs - n), mode="edge")
      batch = reward_batch(self.imp, r, p, self.model_config.history_len)
      o, f = self._score_fn(state.params, state.rest, jax.tree.map(jnp.asarray, batch))
      objective_scores.append(np.asarray(o)[:n])
      preference_scores.append(np.asarray(f)[:n])
    return rows, pos, np.concatenate(objective_scores), np.concatenate(preference_scores)

  def evaluate(self, graphdef, state, split: str) -> dict:
    start = time.time()
    rows, pos, scores, preference = self._scores(graphdef, state, split)
    labels = self.imp.labels[rows, pos]  # [n, o]
    items = self.imp.data.items[rows, pos]
    pref_labels = self.preference[rows, pos]
    policies = {"model": (scores, preference), "item_rate": (self.item_rate[items], self.item_preference[items])}
    out = {
      "split": split,
      "num_users": int(len(np.unique(rows))),
      "num_impressions": int(len(rows)),
      "split_rule": self.imp.split_rule,
      "objectives": list(self.imp.objectives),
      "positive_rate": {o: float(labels[:, j].mean()) for j, o in enumerate(self.imp.objectives)},
    }
    out["positive_rate"]["preference"] = float(pref_labels.mean())
    for name, (s, f) in policies.items():
      metrics = {}
      for j, o in enumerate(self.imp.objectives):
        metrics[f"auc/{o}"] = auc(s[:, j], labels[:, j])
        metrics[f"gauc/{o}"] = gauc(s[:, j], labels[:, j], rows)[0]
      metrics["auc/preference"] = auc(f, pref_labels)
      metrics["gauc/preference"], users = gauc(f, pref_labels, rows)
      out[name] = metrics
      out[f"{name}_gauc_users"] = users
    out["seconds"] = time.time() - start
    return out

  def summary(self) -> dict:
    return {
      "objectives": list(self.imp.objectives),
      "split_rule": self.imp.split_rule,
      "train_impressions": self.num_examples,
      "num_items": self.imp.data.num_items,
      "example_unit": self.example_unit,
    }
