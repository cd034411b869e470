"""The supervised train step as a pure function over (params, rest, opt_state, batch).

The model is split once into its graph definition, its trainable parameters (`nnx.Param`) and the rest
(the MoE router biases, RNG state); the step merges them, differentiates the family's loss (a
`Task.loss`, onerec_jax.train.task) with respect to the parameters only, applies Optax, then nudges every
MoE router bias toward balanced expert load (auxiliary-loss-free balancing, PAPER.md section 3).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from onerec_jax.layers.moe import apply_router_bias_update


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


def make_train_step(
  graphdef, tx: optax.GradientTransformation, loss_fn, *, router_bias_step: float = 0.0, accum_steps: int = 1
):
  """Returns train_step(state, batch) -> (state, metrics), not yet jitted; the same step for every family.

  Args:
    graphdef: the model's graph definition (from `init_state`).
    tx: the optimiser.
    loss_fn: (model, batch, step) -> (scalar loss, metrics, MoE aux {layer path: {'expert_load' [e], ...}}),
      a family's `Task.loss`.
    router_bias_step: auxiliary-loss-free balancing step for the MoE router biases (0 = off).
    accum_steps: gradient accumulation: the batch is split into this many micro-batches whose gradients
      are averaged before one optimiser update (the same update as the whole batch for a loss that is
      a mean over rows; the family's loss is normalised per micro-batch).

  A step whose loss or gradients are not finite changes no parameter, optimiser state or router bias
  (the step counter and the data move on); metrics nonfinite_consecutive / nonfinite_total count them.

  Metrics: the family's, grad_norm, and for MoE models the expert-load max/min over mean, the dropped
  share of routed slots and the router z-loss (reported, not optimised), averaged over MoE layers.
  """

  def gradients(params, rest, batch, step):
    def loss_of(model):
      loss, metrics, aux = loss_fn(model, batch, step)
      return loss, (metrics, aux)

    # nnx.value_and_grad differentiates the nnx.Param variables only and carries the other state (the
    # RNG counters that dropout advances) in and out of the transform.
    model = nnx.merge(graphdef, params, rest)
    (loss, (metrics, aux)), grads = nnx.value_and_grad(loss_of, has_aux=True)(model)
    _, _, rest = split_model(model)
    return loss, metrics, aux, grads, rest

  def accumulated(state: TrainState, batch):
    """Mean gradient over `accum_steps` micro-batches, one after another (lax.scan: one at a time in
    memory). Micro-batch j takes rows j, j + k, j + 2k, ... so each device's shard feeds every one."""
    k = accum_steps

    def split(x):
      if x.shape[0] % k:
        raise ValueError(f"batch of {x.shape[0]} rows does not split into train.grad_accum_steps={k} micro-batches")
      return x.reshape(x.shape[0] // k, k, *x.shape[1:]).swapaxes(0, 1)

    def body(carry, micro):
      # The parameters ride in the carry unchanged: nnx.merge needs them at the scan's trace level.
      params, rest, total = carry
      loss, metrics, aux, grads, rest = gradients(params, rest, micro, state.step)
      return (params, rest, jax.tree.map(jnp.add, total, grads)), (loss, metrics, aux)

    zeros = jax.tree.map(jnp.zeros_like, state.params)
    (_, rest, total), (losses, metrics, aux) = jax.lax.scan(
      body, (state.params, state.rest, zeros), jax.tree.map(split, batch)
    )
    mean = lambda tree: jax.tree.map(lambda x: x.mean(axis=0), tree)
    return losses.mean(), mean(metrics), mean(aux), jax.tree.map(lambda g: g / k, total), rest

  def train_step(state: TrainState, batch) -> tuple[TrainState, dict]:
    if accum_steps > 1:
      loss, metrics, aux, grads, rest = accumulated(state, batch)
    else:
      loss, metrics, aux, grads, rest = gradients(state.params, state.rest, batch, state.step)
    metrics["grad_norm"] = optax.global_norm(grads)
    finite = jnp.isfinite(loss) & jnp.isfinite(metrics["grad_norm"])
    # A non-finite loss with finite gradients is skipped too: the optimiser's apply_if_finite sees NaN.
    grads = jax.tree.map(lambda g: jnp.where(finite, g, jnp.nan), grads)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)  # zero updates when skipped
    if isinstance(opt_state, optax.ApplyIfFiniteState):
      metrics["nonfinite_consecutive"] = opt_state.notfinite_count
      metrics["nonfinite_total"] = opt_state.total_notfinite
    if aux:
      loads = {name: a["expert_load"] for name, a in aux.items()}
      stacked = jnp.stack(list(loads.values()))  # [layers, e]
      mean = jnp.maximum(stacked.mean(-1), 1e-9)
      metrics["moe/expert_load_max_over_mean"] = (stacked.max(-1) / mean).mean()
      metrics["moe/expert_load_min_over_mean"] = (stacked.min(-1) / mean).mean()
      for key in ("dropped_fraction", "router_z_loss"):
        if all(key in a for a in aux.values()):
          metrics[f"moe/{key}"] = jnp.stack([a[key] for a in aux.values()]).mean()
      if router_bias_step:
        model = nnx.merge(graphdef, params, rest)
        apply_router_bias_update(model, loads, router_bias_step * finite)  # no balancing step when skipped
        _, _, rest = split_model(model)
    return TrainState(state.step + 1, params, rest, opt_state), metrics

  return train_step
