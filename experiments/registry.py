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
    """A fresh value of the named entry; unknown names fail with the nearest valid ones. For
    experiments, `NAME:tiny` is the test-sized variant `tiny(NAME)`."""
    _load_all()
    if self.kind == "experiment" and name.endswith(TINY_SUFFIX):
      value = tiny(self.get(name[: -len(TINY_SUFFIX)]))
      value.name = name
      return value
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


TINY_SUFFIX = ":tiny"


def tiny(config: ExperimentConfig) -> ExperimentConfig:
  """A test-sized variant of any experiment, derived from it (so it cannot drift from its parent).

  Kept: the family, dataset, protocol, pathway switches, design (multi-target or not), MoE or dense,
  tokenizer method. Shrunk: the model to the 'tiny' widths with pathways capped, the simulated world to
  the tiny quickstart's, codebooks, steps (20), batch, evaluated users (200) and beams; text item vectors
  become side-information vectors (no text encoder needed). `registry.get("NAME:tiny")` returns it.
  """
  import dataclasses as dc

  from experiments.configs.quickstart import quickstart_tiny
  from onerec_jax.models.sizes import model_config
  from onerec_jax.train.config import TrainConfig

  c = dc.replace(config)
  m = config.model
  short = min(m.short_len, 20)
  c.model = model_config(
    "tiny",
    short_len=short,
    positive_len=min(m.positive_len, 8),
    lifelong_len=min(m.lifelong_len, 16),
    lifelong_queries=min(m.lifelong_queries, 2),
    lifelong_compression=m.lifelong_compression,
    targets_per_window=min(m.targets_per_window, short // 2),
    static_pathway=m.static_pathway,
    use_item_id_embedding=m.use_item_id_embedding,
    dropout_rate=m.dropout_rate,
    num_experts=min(m.num_experts, 4),
    num_experts_per_token=min(m.num_experts_per_token, 2, max(m.num_experts, 1)),
    encoder_moe=m.encoder_moe,
    capacity_factor=m.capacity_factor,
  )
  if config.data.dataset == "synthetic":
    c.data = dc.replace(config.data, simulator=quickstart_tiny().data.simulator)
  c.tokenizer = dc.replace(
    config.tokenizer,
    codebook_size=min(config.tokenizer.codebook_size, 8),
    num_iters=min(config.tokenizer.num_iters, 5),
    item_vectors="side" if config.tokenizer.item_vectors in ("content", "aligned") else config.tokenizer.item_vectors,
  )
  c.sasrec = dc.replace(
    config.sasrec,
    embed_dim=16,
    num_blocks=1,
    num_heads=1,
    max_len=min(config.sasrec.max_len, 50),
    num_negatives=min(config.sasrec.num_negatives, 16),
    window_stride=min(config.sasrec.window_stride, min(config.sasrec.max_len, 50)),
  )
  c.reward = dc.replace(
    config.reward, history_len=min(config.reward.history_len, 8), embed_dim=8, hidden_dim=16, tower_dim=8
  )
  c.rl = dc.replace(config.rl, group_size=min(config.rl.group_size, 4))
  t = config.train
  c.train = TrainConfig(
    batch_size=16,
    num_steps=min(t.num_steps, 20),
    learning_rate=t.learning_rate,
    warmup_steps=2,
    log_every=5,
    checkpoint_every=10,
    loss_reduction=t.loss_reduction,
    seed=t.seed,
    mesh_shape=t.mesh_shape,
    sharding_rules=t.sharding_rules,
    peak_matmul_size=256,
  )
  e = config.eval
  c.eval = dc.replace(
    e,
    max_users=min(e.max_users or 200, 200),
    num_beams=max(min(e.num_beams, 20), max(e.ks)),
    batch_size=64,
    eval_every=10 if e.eval_every else 0,
    select_candidates=min(e.select_candidates, 20),
  )
  return c


def build_config(name: str, overrides=(), data_dir: str | None = None) -> ExperimentConfig:
  """The named experiment with `--config.*` overrides applied and the data directory resolved
  (argument, else the config's, else $ONEREC_DATA_DIR); validated."""
  config = get(name)
  apply_overrides(config, overrides)
  config.data.data_dir = data_dir or config.data.data_dir or os.environ.get("ONEREC_DATA_DIR", "")
  return config.validate()
