"""The supervised train step as a pure function over (params, rest, opt_state, batch).

The model is split once into its graph definition, its trainable parameters (`nnx.Param`) and the rest
(the MoE router biases, RNG state); the step merges them, differentiates the next-token loss with respect
to the parameters only, applies Optax, then nudges every MoE router bias toward balanced expert load
(auxiliary-loss-free balancing, PAPER.md section 3).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from onerec_jax.layers.moe import apply_router_bias_update
from onerec_jax.losses.next_token import semantic_id_loss


class TrainState(NamedTuple):
  """Everything that changes during training (a pytree; what a checkpoint holds)."""

  step: jax.Array  # scalar int32
  params: Any  # nnx.State of nnx.Param
  rest: Any  # nnx.State of every other variable (router biases, RNG counters)
  opt_state: Any  # optax state


def split_model(model: nnx.Module):
  """(graphdef, params, rest) of a model."""
  return nnx.split(model, nnx.Param, ...)


def init_state(model: nnx.Module, tx: optax.GradientTransformation) -> tuple[Any, TrainState]:
  """The graph definition and a fresh TrainState of a built model."""
  graphdef, params, rest = split_model(model)
  return graphdef, TrainState(jnp.zeros((), jnp.int32), params, rest, tx.init(params))


def make_train_step(graphdef, tx: optax.GradientTransformation, *, loss_reduction: str = "sum",
                    router_bias_step: float = 0.0):
  """Returns train_step(state, batch) -> (state, metrics), not yet jitted.

  Metrics: loss and accuracies (see semantic_id_loss), grad_norm, and for MoE models the max/min expert
  load ratio averaged over layers ('expert_load_max_over_mean').
  """

  def train_step(state: TrainState, batch: dict) -> tuple[TrainState, dict]:
    def loss_fn(model):
      logits, aux = model(batch)
      targets = batch["target_sid"].reshape(-1, batch["target_sid"].shape[-1])  # multi-target: [b * m, l]
      weights = batch["target_mask"].reshape(-1) if "target_mask" in batch else None
      loss, metrics = semantic_id_loss(logits, targets, loss_reduction, weights)
      return loss, (metrics, aux)

    # nnx.value_and_grad differentiates the nnx.Param variables only and carries the other state (the
    # RNG counters that dropout advances) in and out of the transform.
    model = nnx.merge(graphdef, state.params, state.rest)
    (_, (metrics, aux)), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
    _, _, rest = split_model(model)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics["grad_norm"] = optax.global_norm(grads)
    if aux:
      loads = {name: a["expert_load"] for name, a in aux.items()}
      stacked = jnp.stack(list(loads.values()))
      metrics["expert_load_max_over_mean"] = (stacked.max(-1) / jnp.maximum(stacked.mean(-1), 1e-9)).mean()
      if router_bias_step:
        model = nnx.merge(graphdef, params, rest)
        apply_router_bias_update(model, loads, router_bias_step)
        _, _, rest = split_model(model)
    return TrainState(state.step + 1, params, rest, opt_state), metrics

  return train_step
