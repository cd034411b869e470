"""Orbax checkpoints of the TrainState, restored onto the live mesh for exact resume.

The checkpoint holds the whole TrainState (step, parameters, router biases and RNG counters, optimiser
state). Data order is a pure function of (seed, step), so restoring the step restores the input
pipeline too.
"""

from __future__ import annotations

import os

import jax
import orbax.checkpoint as ocp


def make_manager(workdir: str, max_to_keep: int = 3) -> ocp.CheckpointManager:
  """A CheckpointManager under workdir/checkpoints keeping the latest `max_to_keep` steps."""
  return ocp.CheckpointManager(
      os.path.abspath(os.path.join(workdir, "checkpoints")),
      options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
  )


def _to_storable(state):
  """Typed PRNG keys are stored as their raw key data."""
  return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, state)


def _is_key(x) -> bool:
  return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def save(manager: ocp.CheckpointManager, step: int, state) -> None:
  """Saves `state` at `step` (asynchronously; call manager.wait_until_finished() before exiting)."""
  manager.save(step, args=ocp.args.StandardSave(_to_storable(state)))


def restore(manager: ocp.CheckpointManager, target, step: int | None = None):
  """Restores the latest (or given) step into the structure, shapes and shardings of `target`.

  Args:
    manager: the CheckpointManager.
    target: a live TrainState on the current mesh (its arrays give shapes, dtypes and shardings).
    step: which step; default the latest.

  Returns:
    The restored state, with typed PRNG keys rebuilt like `target`'s.
  """
  step = manager.latest_step() if step is None else step
  if step is None:
    raise FileNotFoundError(f"no checkpoint in {manager.directory}")
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, _to_storable(target))
  restored = manager.restore(step, args=ocp.args.StandardRestore(abstract))
  return jax.tree.map(
      lambda t, r: jax.random.wrap_key_data(r, impl=jax.random.key_impl(t)) if _is_key(t) else r,
      target, restored)
