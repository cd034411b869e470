"""The built-in dataset: the user simulator's histories as a SequenceDataset."""

from __future__ import annotations

import numpy as np

from onerec_jax.input.dataset_spec import DatasetSpec
from onerec_jax.input.interactions import LoadedDataset, LoadStats
from onerec_jax.input.sequences import SequenceDataset
from onerec_jax.input.simulator import Simulator, SimulatorConfig

# Static features the simulator draws, with their vocabularies.
STATIC_FEATURES = ("age_bucket", "gender", "activity")


def sequences_from_simulator(sim: Simulator, chunk_size: int = 4096) -> SequenceDataset:
  """Generates every user's history (in chunks) and packs it into a SequenceDataset.

  Feedback per interaction: long_view, like, play_fraction = play_time / duration, log1p(duration) / 5.
  Positive interactions (the positive-feedback pathway): long views or likes.
  """
  cfg = sim.config
  n, u = cfg.max_history, cfg.num_users
  items = np.full((u, n), -1, np.int32)
  feedback = np.zeros((u, n, 4), np.float32)
  positive = np.zeros((u, n), bool)
  lengths = np.zeros(u, np.int32)
  statics = np.zeros((u, len(STATIC_FEATURES)), np.int32)
  for start in range(0, u, chunk_size):
    ids = np.arange(start, min(u, start + chunk_size))
    static = sim.user_static(ids)
    statics[ids] = np.stack([static[k] for k in STATIC_FEATURES], axis=1)
    for row, h in zip(ids, sim.histories(ids)):
      m = len(h["items"])
      lengths[row] = m
      items[row, :m] = h["items"]
      duration = np.maximum(h["duration"], 1e-3)
      feedback[row, :m] = np.stack(
        [h["long_view"], h["like"], h["play_time"] / duration, np.log1p(duration) / 5.0], axis=1
      )
      positive[row, :m] = (h["long_view"] > 0) | (h["like"] > 0)
  vocab = tuple(int(statics[:, i].max()) + 1 for i in range(statics.shape[1]))
  data = SequenceDataset(
    items=items,
    lengths=lengths,
    feedback=feedback,
    positive=positive,
    user_ids=np.arange(u, dtype=np.int64),
    user_static=statics,
    static_vocab_sizes=vocab,
    item_category=sim.item_category.astype(np.int32),
    item_author=sim.item_author.astype(np.int32),
    item_content=sim.item_content().astype(np.float32),
    num_categories=cfg.num_categories,
    num_authors=cfg.num_authors,
    name="synthetic",
  )
  data.validate()
  return data


def load_synthetic(simulator_config: SimulatorConfig | None = None) -> LoadedDataset:
  """The simulator's world as a LoadedDataset (with `simulator` set); default: SimulatorConfig()."""
  sim = Simulator(simulator_config or SimulatorConfig())
  data = sequences_from_simulator(sim)
  stats = LoadStats("simulator", data.num_users, data.num_items, int(data.lengths.sum()), {})
  return LoadedDataset(data, stats, simulator=sim)


SPECS = (
  DatasetSpec(
    "synthetic",
    lambda root, name: load_synthetic(),
    from_config=lambda config: load_synthetic(config.simulator),
    description="the built-in user simulator (DataConfig.simulator); no files, no item text",
  ),
)
