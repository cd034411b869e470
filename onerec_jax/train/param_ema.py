"""An exponential moving average of the parameters (Polyak averaging), evaluated in place of the raw ones.

`param_ema(decay)` is an Optax transformation, placed last in the optimiser chain: it passes the updates
through unchanged and keeps ema <- d * ema + (1 - d) * (params + updates) in its state, with the decay
warmed up as d_t = min(decay, (1 + t) / (10 + t)) (as tf.train.ExponentialMovingAverage with num_updates), so
the early average does not stay pinned to the random initialisation. Living in the optimiser state, it
is checkpointed, resumed and skipped on non-finite steps (optax.apply_if_finite) with the rest, and a run
without it keeps the optimiser state (and checkpoints) it always had.

`evaluation_state(state)` is the TrainState that evaluation, serving and `experiments.evaluate` use: the
averaged parameters when the optimiser state holds an average, the raw ones otherwise.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class ParamEmaState(NamedTuple):
  """count: scalar int32 updates averaged so far; ema: the average, a pytree like the parameters."""

  count: jax.Array
  ema: Any


def param_ema(decay: float) -> optax.GradientTransformation:
  """Keeps an exponential moving average of the parameters after each update (updates unchanged).

  Args:
    decay: the average's decay in [0, 1) (0.999: about the last 1,000 steps).
  """
  if not 0.0 <= decay < 1.0:
    raise ValueError(f"param_ema decay must be in [0, 1), got {decay}")

  def init(params):
    return ParamEmaState(jnp.zeros((), jnp.int32), jax.tree.map(jnp.copy, params))

  def update(updates, state, params=None):
    if params is None:
      raise ValueError("param_ema needs the parameters: call tx.update(updates, state, params)")
    new_params = optax.apply_updates(params, updates)
    t = state.count.astype(jnp.float32)
    d = jnp.minimum(decay, (1.0 + t) / (10.0 + t))
    ema = jax.tree.map(lambda e, p: (d * e + (1.0 - d) * p).astype(e.dtype), state.ema, new_params)
    return updates, ParamEmaState(optax.safe_increment(state.count), ema)

  return optax.GradientTransformation(init, update)


def find_ema(opt_state) -> ParamEmaState | None:
  """The ParamEmaState inside an optimiser state (any nesting of chains and wrappers), or None."""
  is_ema = lambda x: isinstance(x, ParamEmaState)
  found = [x for x in jax.tree.leaves(opt_state, is_leaf=is_ema) if is_ema(x)]
  if len(found) > 1:
    raise ValueError(f"the optimiser state holds {len(found)} parameter averages; expected at most one")
  return found[0] if found else None


def evaluation_state(state):
  """The TrainState to evaluate: `params` replaced by their average when the optimiser keeps one."""
  ema = find_ema(state.opt_state)
  return state if ema is None else state._replace(params=ema.ema)
