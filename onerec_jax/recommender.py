"""A trained run as a recommender, for notebooks and serving experiments.

It sits on top of the library (decoding, evaluation and training import nothing from here):

  rec = Recommender.from_workdir("/tmp/onerec_quickstart")
  items, scores = rec.recommend([0, 1, 2], k=10)   # next items after each user's whole history
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from onerec_jax.evaluation.evaluator import make_generate_fn
from onerec_jax.decoding.beam_search import ranked_items
from onerec_jax.sharding.rules import mesh_context


class Recommender:
  """Beam search over a trained model's semantic IDs, mapped back to items."""

  def __init__(self, config, task, graphdef, state, mesh):
    if config.family != "onerec":
      raise ValueError(f"Recommender generates semantic IDs: it needs a OneRec run, not family={config.family!r}")
    run = task.run
    self.config, self.task, self.run, self.graphdef, self.state, self.mesh = config, task, run, graphdef, state, mesh
    trie = run.sid_table.trie()
    self._children, self._leaf = jnp.asarray(trie.children), jnp.asarray(trie.leaf_item)
    self._generate = {}

  @classmethod
  def from_workdir(cls, workdir: str, step: int | None = None, selected: bool = False) -> "Recommender":
    """Loads the run's config, data, tokenizer and latest (or given) checkpoint; with `selected`, the
    step eval.select_metric picked on valid (workdir/selected_checkpoint)."""
    from onerec_jax.train.checkpointing import restore_run

    return cls(*restore_run(workdir, step, selected=selected))

  def model(self):
    """The trained model (a OneRec nnx.Module) in eval mode, e.g. to run it on a batch and read its aux."""
    from flax import nnx

    model = nnx.merge(self.graphdef, self.state.params, self.state.rest)
    model.eval()
    return model

  def recommend(
    self, user_rows, k: int = 10, num_beams: int | None = None, positions=None
  ) -> tuple[np.ndarray, np.ndarray]:
    """Top-k items for users.

    Args:
      user_rows: [b] row indices of users in the run's dataset.
      k: items per user.
      num_beams: beam width (default max(k, config.eval.num_beams)).
      positions: [b] predict the item at this history position from the items before it
        (default: after the whole history).

    Returns:
      items [b, k] int (-1 where fewer than k valid items were generated) and their log-probabilities
      [b, k] under the model (NEG_INF for -1).
    """
    rows = np.asarray(user_rows, np.int32)
    data = self.run.data
    if rows.size and (rows.min() < 0 or rows.max() >= data.num_users):
      raise ValueError(f"user rows must be in [0, {data.num_users}), got {rows.min()}..{rows.max()}")
    pos = data.lengths[rows] if positions is None else np.asarray(positions, np.int32)
    beams = num_beams or max(k, self.config.eval.num_beams)
    if beams not in self._generate:
      self._generate[beams] = make_generate_fn(self.graphdef, beams)
    with mesh_context(self.mesh, self.config.train.sharding_rules):
      out = self._generate[beams](self.state, self.run.builder.history_before(rows, pos), self._children, self._leaf)
    items, scores = ranked_items(out, k)  # distinct items, best first
    return np.asarray(items), np.asarray(scores)
