"""The OneRec family: semantic IDs, the encoder-decoder, next-token loss, beam-search evaluation.

Training examples are one target each (the report's design: one encoder pass per target) or, with
model.targets_per_window = m, one window of m targets (the causal multi-target design): both tile every
training position of every user (TIGER trains on all prefixes).
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from onerec_jax.config import ExperimentConfig
from onerec_jax.evaluation.evaluator import evaluate_run
from onerec_jax.input import windows
from onerec_jax.input.sequences import Examples, leave_one_out
from onerec_jax.losses.ecpo import token_log_probs
from onerec_jax.losses.history_pairwise import history_pairwise
from onerec_jax.losses.history_unlikelihood import history_unlikelihood
from onerec_jax.losses.next_token import semantic_id_loss
from onerec_jax.models import flops
from onerec_jax.models.history_negatives import decoded_negatives
from onerec_jax.models.target_rows import decoded_rows
from onerec_jax.train.assembly import RunData, build_model, prepare


def training_examples(run: RunData, config: ExperimentConfig) -> Examples:
  """One example per target, or with targets_per_window = m one per window of m targets.

  Windows tile each user's training targets (positions min_history .. len - 3) from the end in steps of
  m, so every target is supervised exactly once per epoch.
  """
  m = run.model_config.targets_per_window
  if not m:
    return leave_one_out(run.data, "train", config.data.min_history)
  rows, ends = windows.train_windows(run.data, run.model_config.short_len, m, config.data.min_history)
  return Examples(rows, ends)


def onerec_loss(model, batch, reduction: str = "sum"):
  """(loss, metrics, MoE aux) of a OneRec training batch: the next-token loss of the target semantic IDs
  (multi-target batches: every supervised target of every window), plus with model.history_negatives the
  history term of the items before each target, model.history_loss: unlikelihood or pairwise ('loss' is the
  sum with the term weighted by model.history_unlikelihood_weight; the term apart, unweighted)."""
  logits, aux = model(batch)
  k = model.config.history_negatives
  if k:  # the decoded rows are the n targets, then k blocks of n history negatives
    negatives, negative_valid = decoded_negatives(batch, k, model.config.target_capacity)
    n = logits.shape[0] // (1 + k)
    logits, negative_logits = logits[:n], logits[n:]
  targets = batch.target_sid.reshape(-1, batch.target_sid.shape[-1])  # multi-target: [b * m, l]
  weights = None if batch.target_mask is None else batch.target_mask.reshape(-1)
  capacity = model.config.target_capacity
  if capacity:  # the model decoded these rows only (onerec_jax.models.target_rows)
    rows, valid = decoded_rows(batch.target_mask, capacity)
    targets, dropped = jnp.asarray(targets)[rows], jnp.sum(weights) - jnp.sum(valid)
    weights = valid
  loss, metrics = semantic_id_loss(logits, targets, reduction, weights)
  if capacity:
    metrics["dropped_targets"] = dropped.astype(jnp.float32)
  if k:
    negative_targets = jnp.tile(jnp.asarray(targets), (k, 1))  # each block of negatives in the targets' order
    if model.config.history_loss == "pairwise":
      term, term_metrics = history_pairwise(
        negative_logits, negatives, negative_valid, jnp.tile(token_log_probs(logits, targets), (k, 1)), negative_targets
      )
    else:
      term, term_metrics = history_unlikelihood(negative_logits, negatives, negative_valid, negative_targets)
    loss = loss + model.config.history_unlikelihood_weight * term
    metrics.update(term_metrics, next_token_loss=metrics["loss"], loss=loss)
  return loss, metrics, aux


class OneRecTask:
  """OneRec through the engine (see onerec_jax.train.task.Task)."""

  family = "onerec"

  def __init__(self, config: ExperimentConfig, workdir: str | None):
    self.config = config
    self.run = prepare(config, workdir)
    self.examples = training_examples(self.run, config)
    self.num_examples = len(self.examples)
    m = self.run.model_config.targets_per_window
    self.example_unit = f"windows of {m} targets" if m else "examples (one target each)"
    mc = self.run.model_config
    self.router_bias_step = mc.router_bias_step if mc.num_experts else 0.0
    self.experts = (mc.num_experts, mc.num_experts_per_token if mc.num_experts else 0)
    self.compute_dtype = mc.dtype

  def build_model(self):
    return build_model(self.run.model_config, self.config.train.seed)

  def loss(self, model, batch, step):
    del step  # dropout draws from the model's RNG state, which the checkpoint holds
    return onerec_loss(model, batch, self.config.train.loss_reduction)

  def batch(self, indices):
    m = self.run.model_config.targets_per_window
    rows, pos = self.examples.user_rows[indices], self.examples.target_pos[indices]
    if m:
      batch, _ = self.run.builder.window_batch(rows, pos, m, self.config.data.min_history)
    else:
      batch, _ = self.run.builder.batch(Examples(rows, pos))
    return batch  # the target items stay on the host

  def evaluate(self, graphdef, state, split: str) -> dict:
    return evaluate_run(self.run, graphdef, state, dataclasses.replace(self.config.eval, split=split))

  def train_flops(self, batch_size: int) -> int:
    return flops.train_flops(flops.onerec_forward_flops(self.run.model_config, batch_size))

  def summary(self) -> dict:
    mc = self.run.model_config
    return {
      "tokenizer": self.run.tokenizer_metrics,
      "num_items": self.run.data.num_items,
      "sid_vocab_sizes": list(self.run.sid_table.vocab_sizes),
      "targets_per_window": mc.targets_per_window,
      "examples_per_epoch": self.num_examples,
      "example_unit": self.example_unit,
    }
