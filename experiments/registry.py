"""The experiment registry: unique names -> functions returning a typed ExperimentConfig.

Every family has a `_tiny` sibling that tests and CPU smoke runs use. Each module in
experiments/configs/ registers its experiments with the decorator:

  @register("my_experiment", "one line shown by experiments.list")
  def my_experiment() -> ExperimentConfig: ...
"""

from __future__ import annotations

import difflib
import os
import importlib
import pkgutil
from collections.abc import Callable

from onerec_jax.config import ExperimentConfig
from onerec_jax.config_overrides import apply_overrides

_REGISTRY: dict[str, tuple[str, Callable[[], ExperimentConfig]]] = {}


def register(name: str, description: str):
  """Decorator registering a config function under a unique name."""

  def wrap(fn: Callable[[], ExperimentConfig]):
    if name in _REGISTRY:
      raise ValueError(f"experiment {name!r} is registered twice")
    _REGISTRY[name] = (description, fn)
    return fn

  return wrap


def _load_all() -> None:
  """Imports every module in experiments/configs/, which registers its experiments."""
  import experiments.configs as configs
  for module in pkgutil.iter_modules(configs.__path__):
    importlib.import_module(f"experiments.configs.{module.name}")


def get(name: str) -> ExperimentConfig:
  """A fresh config of the named experiment; unknown names fail with the nearest valid ones."""
  _load_all()
  if name not in _REGISTRY:
    close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.4)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(f"unknown experiment {name!r}.{hint} Registered: {', '.join(sorted(_REGISTRY))}")
  description, fn = _REGISTRY[name]
  config = fn()
  config.name, config.description = name, description
  return config


def names() -> list[str]:
  _load_all()
  return sorted(_REGISTRY)


def describe() -> dict[str, str]:
  """{name: one-line description} of every registered experiment."""
  _load_all()
  return {name: _REGISTRY[name][0] for name in sorted(_REGISTRY)}


def build_config(name: str, overrides=(), data_dir: str | None = None) -> ExperimentConfig:
  """The named experiment with `--config.*` overrides applied and the data directory resolved
  (argument, else the config's, else $ONEREC_DATA_DIR); validated."""
  config = get(name)
  apply_overrides(config, overrides)
  config.data.data_dir = data_dir or config.data.data_dir or os.environ.get("ONEREC_DATA_DIR", "")
  return config.validate()
