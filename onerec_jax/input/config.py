"""Typed configuration of the data source."""

from __future__ import annotations

import dataclasses

from onerec_jax.input.simulator import SimulatorConfig


@dataclasses.dataclass(kw_only=True)
class DataConfig:
  """Which dataset and how examples are cut from it."""

  dataset: str = "synthetic"  # dataset name (see onerec_jax.input.datasets.dataset_names)
  data_dir: str = ""  # folder of real datasets; '' = $ONEREC_DATA_DIR (unused by 'synthetic')
  tfds_dir: str = ""  # read the array_record files the TFDS builders wrote here instead of the raw files
  simulator: SimulatorConfig = dataclasses.field(default_factory=SimulatorConfig)  # the built-in world
  min_history: int = 3  # fewest interactions before a training target (sliding window start)

  def validate(self) -> None:
    from onerec_jax.input.datasets import dataset_names, is_known_dataset  # late: imports the simulator

    if not is_known_dataset(self.dataset):
      raise ValueError(
        f"data.dataset={self.dataset!r} is unknown; known: {dataset_names()} "
        "(or amazon_<category> for a folder amazon-<category>)"
      )
    if self.min_history < 1:
      raise ValueError(f"data.min_history must be >= 1, got {self.min_history}")
    self.simulator.validate()
