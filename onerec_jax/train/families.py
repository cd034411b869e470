"""Model families: ExperimentConfig.family -> the Task that trains it through the one engine."""

from __future__ import annotations

from onerec_jax.config import FAMILIES, ExperimentConfig
from onerec_jax.train.task import Task


def make_task(config: ExperimentConfig, workdir: str | None) -> Task:
  """Prepares the family's data (and tokenizer) for a run; call outside jit, before building the model."""
  if config.family == "onerec":
    from onerec_jax.train.onerec_task import OneRecTask
    return OneRecTask(config, workdir)
  if config.family == "sasrec":
    from onerec_jax.train.sasrec_task import SasrecTask
    return SasrecTask(config, workdir)
  raise ValueError(f"family={config.family!r} is unknown; known: {FAMILIES}")
