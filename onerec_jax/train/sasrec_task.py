"""The SASRec family (the ID baseline): windows -> sampled softmax -> full-catalogue ranking.

Same loaders, leave-one-out split and metrics module as OneRec; training windows from
onerec_jax.input.windows (stride sasrec.window_stride), negatives and dropout keys drawn from
(seed, step) so a resumed run is exact. Evaluation ranks every item for every user, removing the
history items of `eval.exclude` (onerec_jax.evaluation.full_ranking), beside most-popular.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from onerec_jax.config import ExperimentConfig
from onerec_jax.evaluation.full_ranking import target_ranks
from onerec_jax.evaluation.metrics import metrics_from_ranks
from onerec_jax.input import pipeline, windows
from onerec_jax.input.batches import SasrecBatch
from onerec_jax.input.datasets import load_sequences
from onerec_jax.losses.sampled_softmax import full_softmax_loss, sample_negatives, sampled_softmax_loss
from onerec_jax.models import flops
from onerec_jax.models.sasrec import SASRec
from onerec_jax.models.target_rows import decoded_rows, num_decoded_rows
from onerec_jax.sharding.rules import replicated


def sasrec_loss(
  model: SASRec,
  batch: SasrecBatch,
  key: jax.Array,
  num_items: int,
  num_negatives: int,
  negatives_per: str,
  target_capacity: float = 0.0,
) -> tuple[jax.Array, dict]:
  """Sampled-softmax loss of a window batch (inputs, targets [b, t] int32, mask [b, t] bool), or the full
  softmax over the catalogue when `negatives_per == 'all'` (`num_negatives` unused).

  `key` gives the negatives (fold 0) and the dropout masks (fold 1). With `target_capacity` c > 0 (full
  softmax only) the catalogue is scored at n = ceil(c * b * t) positions, the supervised ones first
  (`target_rows.decoded_rows`): the [b, t, i] logits become [n, i]; supervised positions past n are
  dropped and counted (`dropped_targets`); c = 1 gives the loss of every position.
  """
  b, t = batch.inputs.shape
  model.train()
  queries = model.encode(batch.inputs, nnx.Rngs(dropout=jax.random.fold_in(key, 1)))  # [b, t, d]
  if negatives_per == "all":
    items = model.item_vectors(jnp.arange(num_items))
    if not target_capacity:
      return full_softmax_loss(queries, items, batch.targets, batch.mask)
    rows, valid = decoded_rows(batch.mask, target_capacity)  # [n] into the b * t positions
    packed = queries.reshape(b * t, -1)[rows][None]  # [1, n, d]
    loss, metrics = full_softmax_loss(packed, items, batch.targets.reshape(-1)[rows][None], valid[None])
    metrics["dropped_targets"] = (jnp.sum(batch.mask) - jnp.sum(valid)).astype(jnp.float32)
    return loss, metrics
  shape = {"position": (b, t, num_negatives), "sequence": (b, num_negatives), "batch": (num_negatives,)}[negatives_per]
  negatives = sample_negatives(jax.random.fold_in(key, 0), num_items, shape)
  if negatives_per == "position":  # normalise the table once, then gather b x t x m rows of it
    negative_vectors = model.item_vectors(jnp.arange(num_items))[negatives]
  else:
    negative_vectors = model.item_vectors(negatives)
  return sampled_softmax_loss(
    queries, model.item_vectors(batch.targets), batch.targets, negative_vectors, negatives, batch.mask
  )


def make_score_fn(graphdef, out_sharding=None):
  """jit(params, rest, inputs [b, t]) -> [b, i] float32 scores of every item (eval mode); `out_sharding`
  replicated lets every process of a multi-host run read them."""

  def score(params, rest, inputs):
    model = nnx.merge(graphdef, params, rest)
    model.eval()
    return model.score_all(inputs).astype(jnp.float32)

  return jax.jit(score, out_shardings=out_sharding)


class SasrecTask:
  """SASRec through the engine (see onerec_jax.train.task.Task)."""

  family = "sasrec"
  router_bias_step = 0.0
  experts = (0, 0)
  compute_dtype = "float32"

  def __init__(self, config: ExperimentConfig, workdir: str | None):
    del workdir
    self.config = config
    self.data, _ = load_sequences(config.data)
    s = config.sasrec
    self.model_config = dataclasses.replace(s, num_items=self.data.num_items)
    self.stride = s.window_stride or s.max_len
    self.rows, self.ends = windows.train_windows(
      self.data, s.max_len, self.stride, config.data.min_history, latest_only=s.train_windows == "latest"
    )
    self.num_examples = len(self.rows)
    latest = ", the latest per user" if s.train_windows == "latest" else ""
    self.example_unit = f"windows of {s.max_len} (stride {self.stride}{latest})"
    self._score_fn = None

  def build_model(self):
    seed = self.config.train.seed
    return SASRec(self.model_config, rngs=nnx.Rngs(params=seed, dropout=seed + 1))

  def loss(self, model, batch, step):
    s = self.model_config
    key = jax.random.fold_in(jax.random.key(self.config.train.seed, impl=s.rng_impl), step)
    loss, metrics = sasrec_loss(model, batch, key, s.num_items, s.num_negatives, s.negatives_per, s.target_capacity)
    return loss, metrics, {}

  def batch(self, indices):
    s = self.model_config
    return SasrecBatch(
      **windows.gather_windows(
        self.data, self.rows[indices], self.ends[indices], s.max_len, self.stride, self.config.data.min_history
      )
    )

  def evaluate(self, graphdef, state, split: str) -> dict:
    e = self.config.eval
    if self._score_fn is None:
      self._score_fn = make_score_fn(graphdef, replicated(state.params))
    popularity = self.data.item_popularity(upto=self.data.lengths - 2)
    ranks, popular_ranks = [], []
    batches = pipeline.eval_batches(
      self.data, split, self.model_config.max_len, e.batch_size, e.max_users, e.exclude, e.exclude_window
    )
    for batch, n in batches:
      scores = np.asarray(self._score_fn(state.params, state.rest, jnp.asarray(batch["inputs"])))[:n]
      exclude = None if batch["exclude"] is None else batch["exclude"][:n]
      ranks.append(target_ranks(scores, batch["targets"][:n], exclude))
      popular_ranks.append(target_ranks(np.tile(popularity, (n, 1)), batch["targets"][:n], exclude))
    ranks = np.concatenate(ranks)
    return {
      "split": split,
      "protocol": e.protocol,
      "exclude": e.exclude,
      "num_users": int(len(ranks)),
      "model": metrics_from_ranks(ranks, e.ks),
      "popularity": metrics_from_ranks(np.concatenate(popular_ranks), e.ks),
    }

  def train_flops(self, batch_size: int) -> int:
    s = self.model_config
    candidates = s.num_items if s.negatives_per == "all" else 1 + s.num_negatives
    scored = num_decoded_rows(batch_size, s.max_len, s.target_capacity)
    return flops.train_flops(flops.sasrec_forward_flops(s, batch_size, candidates, scored))

  def summary(self) -> dict:
    return {
      "num_items": self.data.num_items,
      "examples_per_epoch": self.num_examples,
      "example_unit": self.example_unit,
    }
