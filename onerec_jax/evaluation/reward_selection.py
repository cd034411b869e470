"""Reward-model selection at inference (PAPER.md section 8): generate N candidates by beam search, show
the top K by the P-Score reward model instead of beam order.

`PScorer(workdir)` loads a trained reward run (family 'reward', onerec_jax.train.reward_task) and scores
(user, position, candidate item) triples with its fused preference score; the user's impressions before
the position are its history, read from the reward run's own copy of the dataset, which must be the
OneRec run's dataset (same users and items; checked).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from onerec_jax.input.impressions import reward_batch


class PScorer:
  """Preference scores of candidate items from a trained reward-model run."""

  def __init__(self, workdir: str):
    from onerec_jax.train.checkpointing import restore_run

    config, task, graphdef, state, mesh = restore_run(workdir)
    if config.family != "reward":
      raise ValueError(f"{workdir} is a {config.family!r} run, not a reward-model ('reward') run")
    self.task, self.state, self.mesh, self.graphdef = task, state, mesh, graphdef
    self.history_len = task.model_config.history_len

    def score(params, rest, batch):
      model = nnx.merge(graphdef, params, rest)
      model.eval()
      return model(batch)[1]

    self._score = jax.jit(score)

  def check_same_data(self, data) -> None:
    mine = self.task.imp.data
    if (
      mine.num_items != data.num_items
      or mine.num_users != data.num_users
      or not np.array_equal(mine.user_ids, data.user_ids)
    ):
      raise ValueError(
        f"the reward run's dataset ({mine.name}: {mine.num_users} users, {mine.num_items} items) "
        f"is not the evaluated one ({data.name}: {data.num_users} users, {data.num_items} items)"
      )

  def score(self, rows: np.ndarray, positions: np.ndarray, items: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Preference logits [u, n] of candidates `items` [u, n] (-1 = none: -inf) for users rows [u] at positions [u]."""
    u, n = items.shape
    flat_rows, flat_pos = np.repeat(rows, n), np.repeat(positions, n)
    flat_items = items.reshape(-1)
    out = np.full(u * n, -np.inf, np.float32)
    real = np.flatnonzero(flat_items >= 0)
    data = self.task.imp.data
    for start in range(0, len(real), batch_size):
      idx = real[start : start + batch_size]
      m = len(idx)
      pad = np.pad(idx, (0, batch_size - m), mode="edge") if m < batch_size else idx
      batch = reward_batch(self.task.imp, flat_rows[pad], flat_pos[pad], self.history_len)
      item = flat_items[pad].astype(np.int32)
      batch = batch.replace(
        item=item,
        category=data.item_category[item].astype(np.int32),
        author=data.item_author[item].astype(np.int32),
        labels=None,
      )
      out[idx] = np.asarray(self._score(self.state.params, self.state.rest, jax.tree.map(jnp.asarray, batch)))[:m]
    return out.reshape(u, n)


@functools.lru_cache(maxsize=4)
def pscorer(workdir: str) -> PScorer:
  """One PScorer per reward run (periodic evaluations reuse it)."""
  return PScorer(workdir)


def select_by_reward(candidates: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
  """The top k candidates [u, n] by score [u, n] (stable: beam order breaks ties); -1 pads stay last."""
  order = np.argsort(-np.where(candidates >= 0, scores, -np.inf), axis=1, kind="stable")[:, :k]
  return np.take_along_axis(candidates, order, axis=1)
