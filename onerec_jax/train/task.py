"""What a model family gives the one training engine (onerec_jax.train.trainer).

A `Task` is a model family prepared for one run: its data, how to build its model, its loss, how to
gather a training batch and how to evaluate. The engine owns everything else (mesh, optimiser, jit with
named shardings, Orbax checkpoints and exact resume, the grain input pipeline, progress logs,
TensorBoard, periodic evaluation with validation-based selection, multi-host), so every family gets all
of it. Families are listed in onerec_jax.train.families.
"""

from __future__ import annotations

from typing import Any, Protocol

import jax
from flax import nnx


class Task(Protocol):
  """A model family prepared for one run (see onerec_jax.train.onerec_task / sasrec_task)."""

  family: str  # the ExperimentConfig.family it serves
  num_examples: int  # training examples per epoch (targets, or windows of targets)
  example_unit: str  # what one example is, for logs ('examples', 'windows of 10 targets', ...)
  router_bias_step: float  # auxiliary-loss-free MoE balancing step (0 = no MoE / off)
  experts: tuple[int, int]  # (experts per MoE layer, experts per token); (0, 0) = dense (parameter counts)
  compute_dtype: str  # the matmul dtype (float32 | bfloat16): MFU is against the peak of this dtype

  def build_model(self) -> nnx.Module:
    """The model, built inside `mesh_context` (parameters carry logical-axis shardings)."""

  def loss(self, model: nnx.Module, batch: Any, step: jax.Array) -> tuple[jax.Array, dict, dict]:
    """(scalar loss, metrics, MoE aux {layer path: aux dict}) of a training batch at `step`.

    Randomness (dropout, negatives) must come from the model's RNG state or from (seed, step), so a
    resumed run draws the same numbers.
    """

  def batch(self, indices) -> Any:
    """The host batch (a pytree of numpy arrays, batch axis first) of training examples `indices`."""

  def evaluate(self, graphdef, state, split: str) -> dict:
    """Metrics of the model on a leave-one-out split: {'split', 'model': {...}, 'popularity': {...}, ...}."""

  # Optional: `make_train_step(graphdef, tx) -> step(state, batch) -> (state, metrics)` replaces the
  # engine's supervised step (onerec_jax.train.train_step) for a family that needs its own (ECPO).

  def train_flops(self, batch_size: int) -> int:
    """Analytic matmul FLOPs of one training step of `batch_size` examples (onerec_jax.models.flops)."""

  def summary(self) -> dict:
    """Facts about the prepared run for the results file (tokenizer metrics, catalogue size, ...)."""
