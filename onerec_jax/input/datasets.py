"""Dataset name -> SequenceDataset. The one place the rest of the library asks for data.

Real datasets (issue 3) register here; `synthetic` is the built-in simulator.
"""

from __future__ import annotations

from onerec_jax.input.sequences import SequenceDataset
from onerec_jax.input.simulator import Simulator
from onerec_jax.input.synthetic import sequences_from_simulator


def dataset_names() -> tuple[str, ...]:
  """Names accepted by `load_sequences` (and `--config.data.dataset`)."""
  return ("synthetic",)


def load_sequences(config) -> tuple[SequenceDataset, Simulator | None]:
  """The dataset of a DataConfig as sequences, and the simulator when it is the built-in world.

  Args:
    config: onerec_jax.input.config.DataConfig (dataset, data_dir, simulator, ...).
  """
  if config.dataset == "synthetic":
    sim = Simulator(config.simulator)
    return sequences_from_simulator(sim), sim
  raise ValueError(f"data.dataset={config.dataset!r} is unknown; known: {dataset_names()}")
