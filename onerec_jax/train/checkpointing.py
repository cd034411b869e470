"""Orbax checkpoints of the TrainState, restored onto the live mesh for exact resume; restoring a run.

The checkpoint holds the whole TrainState (step, parameters, router biases and RNG counters, optimiser
state). Data order is a pure function of (seed, step), so restoring the step restores the input
pipeline too.
"""

from __future__ import annotations

import json
import os

import jax
import orbax.checkpoint as ocp
from absl import logging

CONFIG_FILE = "config.json"
CHECKPOINTS_DIR = "checkpoints"  # under the workdir: one Orbax step folder per saved step
# Under the workdir: the state at the step eval.select_metric picked on valid (one step), kept apart from
# the latest `train.max_checkpoints`, which roll past it.
SELECTED_DIR = "selected_checkpoint"


def make_manager(workdir: str, max_to_keep: int = 3, directory: str = CHECKPOINTS_DIR) -> ocp.CheckpointManager:
  """A CheckpointManager under workdir/`directory` keeping the latest `max_to_keep` steps."""
  return ocp.CheckpointManager(
    os.path.abspath(os.path.join(workdir, directory)),
    options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
  )


def drop_steps_after(manager: ocp.CheckpointManager, step: int) -> None:
  """Deletes the saved steps > `step` (a resumed run re-evaluates them; call before saving again)."""
  for saved in manager.all_steps():
    if saved > step:
      manager.delete(saved)


def save_selected(manager: ocp.CheckpointManager, step: int, state) -> None:
  """Saves `state` as the selected step in a one-step manager (make_manager(..., 1, SELECTED_DIR)),
  replacing what it held."""
  drop_steps_after(manager, step - 1)
  save(manager, step, state)


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
    lambda t, r: jax.random.wrap_key_data(r, impl=jax.random.key_impl(t)) if _is_key(t) else r, target, restored
  )


def save_config(config, workdir: str) -> None:
  """Writes the run's ExperimentConfig to workdir/config.json (process 0)."""
  from onerec_jax.config_overrides import to_dict

  if jax.process_index() == 0:
    with open(os.path.join(workdir, CONFIG_FILE), "w") as f:
      json.dump(to_dict(config), f, indent=1)


# What a checkpoint's meaning depends on: resuming it under other values of these trains another model
# (or reads other data) from its weights. Everything else (the schedule's length, evaluation, logging,
# checkpoint cadence, paths) may change between a run and its resumption.
_STATE_DEFINING = ("family", "data", "tokenizer", "model", "sasrec", "reward", "rl", "train.seed")
_PATHS = ("data.data_dir", "data.tfds_dir", "tokenizer.text_cache_dir")


def _flatten(tree: dict, prefix: str = "") -> dict:
  out = {}
  for key, value in tree.items():
    name = f"{prefix}{key}"
    out.update(_flatten(value, name + ".") if isinstance(value, dict) else {name: value})
  return out


def resume_conflicts(saved, config) -> list[str]:
  """'field: saved X, now Y' for every state-defining field (see _STATE_DEFINING) that differs between the
  config a run was started with and the one it is resumed with."""
  from onerec_jax.config_overrides import to_dict

  old, new = _flatten(to_dict(saved)), _flatten(to_dict(config))
  defining = lambda k: any(k == p or k.startswith(p + ".") for p in _STATE_DEFINING) and k not in _PATHS
  return [
    f"{k}: saved {old.get(k)!r}, now {new.get(k)!r}"
    for k in sorted(set(old) | set(new))
    if defining(k) and old.get(k) != new.get(k)
  ]


def check_resumable(workdir: str, config) -> None:
  """Raises ValueError when `workdir` holds checkpoints of a run whose state-defining config differs from
  `config` (a changed registered experiment or override would otherwise resume silently into another
  model); a workdir without checkpoints, or without a config.json, is not checked. Logs a warning when
  the learning rate jumps at the latest checkpoint (optimizer.learning_rate_jump): a changed schedule is
  allowed, but not silently."""
  checkpoints = os.path.join(workdir, CHECKPOINTS_DIR)
  steps = [int(name) for name in os.listdir(checkpoints) if name.isdigit()] if os.path.isdir(checkpoints) else []
  if not steps or not os.path.exists(os.path.join(workdir, CONFIG_FILE)):
    return
  saved = load_config(workdir)
  conflicts = resume_conflicts(saved, config)
  if conflicts:
    shown = "; ".join(conflicts[:10]) + (f"; and {len(conflicts) - 10} more" if len(conflicts) > 10 else "")
    raise ValueError(
      f"{os.path.join(workdir, CONFIG_FILE)}: this workdir holds checkpoints of a run started with another "
      f"configuration ({shown}). Resume it with the configuration it was started with, or train in another "
      "--workdir."
    )
  from onerec_jax.train.optimizer import learning_rate_jump

  jump = learning_rate_jump(saved.train, config.train, max(steps))
  if jump:
    logging.warning("resuming %s: %s", workdir, jump)


def load_config(workdir: str):
  """The ExperimentConfig a run in `workdir` was started with."""
  from onerec_jax.config import ExperimentConfig
  from onerec_jax.config_overrides import from_dict

  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path} not found: is {workdir!r} the workdir of a training run?")
  with open(path) as f:
    return from_dict(ExperimentConfig, json.load(f))


def build_state(task, config):
  """(graphdef, fresh TrainState, optimizer) of a task's model (call inside mesh_context)."""
  from onerec_jax.train.optimizer import make_optimizer
  from onerec_jax.train.train_step import init_state

  model = task.build_model()
  tx = make_optimizer(config.train)
  graphdef, state = init_state(model, tx)
  return graphdef, state, tx


def restore_run(workdir: str, step: int | None = None, averaged: bool = True, selected: bool = False):
  """Loads a trained run: (config, task, graphdef, TrainState, mesh). For evaluation and notebooks.

  With `selected`, the state is the one at the step eval.select_metric picked on valid (workdir/
  selected_checkpoint, written by runs with eval.eval_every and eval.select_metric) instead of a step of
  workdir/checkpoints.

  The task (onerec_jax.train.families) is prepared from the saved config, so the data, the semantic IDs
  (read back from workdir/tokenizer) and the model shapes are those the run trained with; the state is
  restored onto a live mesh built from config.train.mesh_shape. With `averaged` (default) and a run that
  kept a parameter average (train.ema_decay > 0), `params` are the average, as the run evaluated them
  (onerec_jax.train.param_ema.evaluation_state); averaged=False gives the raw training state.
  """
  from onerec_jax.sharding.rules import make_mesh, mesh_context
  from onerec_jax.train.families import make_task

  if selected and step is not None:
    raise ValueError(f"restore_run({workdir!r}): pass step={step} or selected=True, not both")
  if selected and not os.path.isdir(os.path.join(workdir, SELECTED_DIR)):
    raise FileNotFoundError(
      f"{workdir} has no {SELECTED_DIR}/: it is written by runs trained with eval.eval_every and eval.select_metric set"
    )
  config = load_config(workdir)
  task = make_task(config, workdir)
  mesh = make_mesh(config.train.mesh_shape)
  with mesh_context(mesh, config.train.sharding_rules):
    graphdef, state, _ = build_state(task, config)
    manager = (
      make_manager(workdir, 1, SELECTED_DIR) if selected else make_manager(workdir, config.train.max_checkpoints)
    )
    state = restore(manager, state, step)
    manager.close()
  if averaged:
    from onerec_jax.train.param_ema import evaluation_state

    state = evaluation_state(state)
  return config, task, graphdef, state, mesh
