"""Model families: ExperimentConfig.family -> the Task that trains it through the one engine.

A family is a factory `(config, workdir) -> Task` (onerec_jax.train.task). Adding one is a `register`
call (ExperimentConfig.validate accepts the registered names); the engine needs no change.
"""

from __future__ import annotations

from collections.abc import Callable

from onerec_jax.config import ExperimentConfig
from onerec_jax.train.task import Task


def _onerec(config, workdir):
  from onerec_jax.train.onerec_task import OneRecTask

  return OneRecTask(config, workdir)


def _sasrec(config, workdir):
  from onerec_jax.train.sasrec_task import SasrecTask

  return SasrecTask(config, workdir)


def _reward(config, workdir):
  from onerec_jax.train.reward_task import RewardTask

  return RewardTask(config, workdir)


def _ecpo(config, workdir):
  from onerec_jax.rl.ecpo_task import EcpoTask

  return EcpoTask(config, workdir)


_FACTORIES: dict[str, Callable[[ExperimentConfig, str | None], Task]] = {
  "onerec": _onerec,
  "sasrec": _sasrec,
  "reward": _reward,
  "ecpo": _ecpo,
}


def register(name: str, factory: Callable[[ExperimentConfig, str | None], Task]) -> None:
  """Adds (or replaces) a family's Task factory."""
  _FACTORIES[name] = factory


def unregister(name: str) -> None:
  """Removes a family (tests that register a toy family)."""
  _FACTORIES.pop(name, None)


def family_names() -> list[str]:
  """The registered family names."""
  return sorted(_FACTORIES)


def make_task(config: ExperimentConfig, workdir: str | None) -> Task:
  """Prepares the family's data (and tokenizer) for a run; call before building the model."""
  if config.family not in _FACTORIES:
    raise ValueError(f"family={config.family!r} is unknown; known: {sorted(_FACTORIES)}")
  return _FACTORIES[config.family](config, workdir)
