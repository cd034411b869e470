"""Puts a run together from its config: data, tokenizer, feature builder, model config, model.

Shared by training, evaluation and the notebook-facing Recommender, so that all three see the same data,
the same semantic IDs and the same model shapes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time

import jax
import numpy as np
from flax import nnx

from onerec_jax.config import ExperimentConfig
from onerec_jax.input.features import FeatureBuilder
from onerec_jax.input.sequences import FEEDBACK_NAMES, SequenceDataset
from onerec_jax.input.datasets import load_sequences
from onerec_jax.input.simulator import Simulator
from onerec_jax.models.config import ModelConfig
from onerec_jax.models.onerec import OneRec
from onerec_jax.tokenizer.metrics import tokenizer_metrics
from onerec_jax.tokenizer.residual_kmeans import fit_residual_kmeans
from onerec_jax.tokenizer.semantic_ids import SemanticIdTable

TOKENIZER_FILE = "semantic_ids.npz"


@dataclasses.dataclass
class RunData:
  """What a run reads besides its parameters."""

  data: SequenceDataset
  sid_table: SemanticIdTable
  builder: FeatureBuilder
  model_config: ModelConfig  # with the data-dependent fields filled
  simulator: Simulator | None  # the ground truth, for the built-in dataset
  tokenizer_metrics: dict


def fit_or_load_tokenizer(config: ExperimentConfig, data: SequenceDataset, workdir: str | None
                          ) -> tuple[SemanticIdTable, dict]:
  """Loads workdir/tokenizer/semantic_ids.npz if present, else fits RQ-Kmeans on the item content vectors."""
  path = os.path.join(workdir, "tokenizer", TOKENIZER_FILE) if workdir else None
  metrics_path = os.path.join(workdir, "tokenizer", "metrics.json") if workdir else None
  if path and os.path.exists(path):
    table = SemanticIdTable.load(path)
    if table.num_items != data.num_items:
      raise ValueError(f"{path} holds {table.num_items} items, the dataset {data.name} has {data.num_items}")
    metrics = json.load(open(metrics_path)) if os.path.exists(metrics_path) else {}
    return table, metrics
  start = time.time()
  rq = fit_residual_kmeans(data.item_content, config.tokenizer)
  codes = np.asarray(rq.encode(data.item_content))
  table = SemanticIdTable.from_codes(codes, dedup=config.tokenizer.dedup,
                                     codebook_sizes=config.tokenizer.codebook_size)
  metrics = tokenizer_metrics(data.item_content, rq.codebooks, codes)
  metrics["fit_seconds"] = time.time() - start
  logging.info("tokenizer: %d items -> %s semantic IDs in %.1fs; %s", data.num_items, table.vocab_sizes,
               metrics["fit_seconds"], {k: v for k, v in metrics.items() if not isinstance(v, list)})
  if path and jax.process_index() == 0:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    table.save(path)
    with open(metrics_path, "w") as f:
      json.dump(metrics, f, indent=1, default=float)
  return table, metrics


def prepare(config: ExperimentConfig, workdir: str | None = None) -> RunData:
  """Loads data, fits/loads the tokenizer, and fills the model config's data-dependent fields."""
  config.validate()
  data, sim = load_sequences(config.data)
  table, metrics = fit_or_load_tokenizer(config, data, workdir)
  m = config.model
  builder = FeatureBuilder(data, table.sids, m.short_len, m.positive_len, m.lifelong_len)
  model_config = dataclasses.replace(
      m, num_items=data.num_items, num_users=max(data.num_users, 1), num_categories=data.num_categories,
      num_authors=data.num_authors, static_vocab_sizes=tuple(data.static_vocab_sizes),
      num_feedback=len(FEEDBACK_NAMES), num_sid_levels=table.num_levels, sid_vocab_size=max(table.vocab_sizes))
  model_config.validate()
  return RunData(data, table, builder, model_config, sim, metrics)


def build_model(model_config: ModelConfig, seed: int) -> OneRec:
  """Builds the model; call inside `onerec_jax.sharding.rules.mesh_context`."""
  return OneRec(model_config, rngs=nnx.Rngs(params=seed, dropout=seed + 1))
