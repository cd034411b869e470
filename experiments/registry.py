"""The registries: unique names -> functions returning a typed ExperimentConfig, or a Sweep of one.

Every family has a `_tiny` sibling that tests and CPU smoke runs use. Each module in
experiments/configs/ registers its experiments, and the sweeps that vary them, beside each other (as
big_vision keeps `sweep()` next to `get_config()`):

  @register("my_experiment", "one line shown by experiments.list")
  def my_experiment() -> ExperimentConfig: ...

  @register_sweep("my_experiment_ablations", "one line")
  def my_experiment_ablations() -> Sweep:
    return Sweep(experiment="my_experiment", runs={"base": (), "moe": ("model.num_experts=4",)},
                 metrics=("recall@10",))

Overrides are the `--config.*` strings of the command line (without the prefix), parsed by the field's
declared type: a sweep, a notebook and a launch override configs in one way.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import importlib
import pkgutil
from collections.abc import Callable
from typing import Generic, TypeVar

from onerec_jax.config import ExperimentConfig
from onerec_jax.config_overrides import apply_overrides

T = TypeVar("T")


@dataclasses.dataclass(kw_only=True)
class Sweep:
  """A named list of runs of one registered experiment and the metrics they are judged on.

  Each run is a tuple of overrides ('section.field=value'); `base` overrides apply to every run first.
  A run listed in `evaluate_from` trains nothing: it re-evaluates another run's final checkpoint with
  its own (eval.*) overrides, e.g. a beam-width row.
  """

  experiment: str
  runs: dict[str, tuple[str, ...]]
  metrics: tuple[str, ...]
  base: tuple[str, ...] = ()
  evaluate_from: dict[str, str] = dataclasses.field(default_factory=dict)  # run -> the run it evaluates
  name: str = ""
  description: str = ""

  def overrides(self, run: str) -> tuple[str, ...]:
    return tuple(self.base) + tuple(self.runs[run])

  def validate(self) -> "Sweep":
    if not self.runs:
      raise ValueError(f"sweep {self.name!r} has no runs")
    for run, source in self.evaluate_from.items():
      if run not in self.runs or source not in self.runs or source in self.evaluate_from:
        raise ValueError(f"sweep {self.name!r}: evaluate_from[{run!r}] = {source!r} must name a training run")
    for run in self.runs:
      if not run or os.sep in run or run.startswith("."):
        raise ValueError(f"sweep {self.name!r}: run name {run!r} must be a plain folder name")
      if run not in self.evaluate_from:
        build_config(self.experiment, self.overrides(run))  # every override names a real field and type
    return self


class Registry(Generic[T]):
  """Unique names -> (description, function returning a fresh T), filled by the config modules."""

  def __init__(self, kind: str):
    self.kind = kind
    self._entries: dict[str, tuple[str, Callable[[], T]]] = {}

  def register(self, name: str, description: str):
    """Decorator registering a function under a unique name."""

    def wrap(fn: Callable[[], T]):
      if name in self._entries:
        raise ValueError(f"{self.kind} {name!r} is registered twice")
      self._entries[name] = (description, fn)
      return fn

    return wrap

  def get(self, name: str) -> T:
    """A fresh value of the named entry; unknown names fail with the nearest valid ones."""
    _load_all()
    if name not in self._entries:
      close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.4)
      hint = f" Did you mean: {', '.join(close)}?" if close else ""
      raise ValueError(f"unknown {self.kind} {name!r}.{hint} Registered: {', '.join(sorted(self._entries))}")
    description, fn = self._entries[name]
    value = fn()
    value.name, value.description = name, description
    return value

  def names(self) -> list[str]:
    _load_all()
    return sorted(self._entries)

  def describe(self) -> dict[str, str]:
    _load_all()
    return {name: self._entries[name][0] for name in sorted(self._entries)}


EXPERIMENTS: Registry[ExperimentConfig] = Registry("experiment")
SWEEPS: Registry[Sweep] = Registry("sweep")
register, get, names, describe = EXPERIMENTS.register, EXPERIMENTS.get, EXPERIMENTS.names, EXPERIMENTS.describe
register_sweep, get_sweep, sweep_names = SWEEPS.register, SWEEPS.get, SWEEPS.names


def _load_all() -> None:
  """Imports every module in experiments/configs/, which registers its experiments and sweeps."""
  import experiments.configs as configs

  for module in pkgutil.iter_modules(configs.__path__):
    importlib.import_module(f"experiments.configs.{module.name}")


def build_config(name: str, overrides=(), data_dir: str | None = None) -> ExperimentConfig:
  """The named experiment with `--config.*` overrides applied and the data directory resolved
  (argument, else the config's, else $ONEREC_DATA_DIR); validated."""
  config = get(name)
  apply_overrides(config, overrides)
  config.data.data_dir = data_dir or config.data.data_dir or os.environ.get("ONEREC_DATA_DIR", "")
  return config.validate()
