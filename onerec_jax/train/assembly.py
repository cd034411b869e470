"""Puts a run together from its config: data, tokenizer, feature builder, model config, model.

Shared by training, evaluation and the notebook-facing Recommender, so that all three see the same data,
the same semantic IDs and the same model shapes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import time

import jax
from flax import nnx

from onerec_jax.config import ExperimentConfig
from onerec_jax.input.features import FeatureBuilder
from onerec_jax.input.sequences import FEEDBACK_NAMES, SequenceDataset
from onerec_jax.input import interactions
from onerec_jax.input.datasets import load_dataset, load_sequences
from onerec_jax.input.interactions import LoadedDataset
from onerec_jax.input.simulator import Simulator
from onerec_jax.models.config import ModelConfig
from onerec_jax.models.onerec import OneRec
from onerec_jax.tokenizer import build
from onerec_jax.tokenizer.semantic_ids import SemanticIdTable


@dataclasses.dataclass
class RunData:
  """What a run reads besides its parameters."""

  data: SequenceDataset
  sid_table: SemanticIdTable
  builder: FeatureBuilder
  model_config: ModelConfig  # with the data-dependent fields filled
  simulator: Simulator | None  # the ground truth, for the built-in dataset
  tokenizer_metrics: dict


def read_tokenizer(folder: str, method: str, num_items: int) -> tuple[SemanticIdTable, dict]:
  """The semantic-ID table and metrics of a tokenizer artifact (`experiments.tokenize --out` layout).

  Raises:
    FileNotFoundError / ValueError naming the folder and what is missing or does not match.
  """
  header_path = os.path.join(folder, build.HEADER)
  if not os.path.exists(header_path):
    raise FileNotFoundError(
      f"tokenizer.source={folder!r} holds no {build.HEADER}: is it the --out folder of "
      "`python -m experiments.tokenize`?"
    )
  with open(header_path) as f:
    header = json.load(f)
  if method not in header.get("methods", []):
    raise ValueError(f"{folder} holds the methods {header.get('methods')}, not tokenizer.method={method!r}")
  table = SemanticIdTable.load(os.path.join(folder, method, "sids.npz"))
  if table.num_items != num_items:
    raise ValueError(
      f"{folder}/{method}/sids.npz holds {table.num_items} items, the dataset has {num_items}: "
      "was it made for another dataset?"
    )
  metrics_path = os.path.join(folder, "metrics.json")
  metrics = {}
  if os.path.exists(metrics_path):
    with open(metrics_path) as f:
      saved = json.load(f)
    metrics = {
      **saved.get("methods", {}).get(method, {}),
      **{k: saved[k] for k in ("vectors", "content", "item_text", "text_example") if k in saved},
    }
  metrics["source"] = folder
  return table, metrics


def fit_or_load_tokenizer(
  config: ExperimentConfig, loaded: LoadedDataset, workdir: str | None
) -> tuple[SemanticIdTable, dict]:
  """The run's semantic IDs: read from `tokenizer.source`, else from workdir/tokenizer (a resumed run),
  else fitted now on `tokenizer.item_vectors` and saved there as a tokenizer artifact (the same layout as
  `python -m experiments.tokenize --out`, so `--config.tokenizer.source=WORKDIR/tokenizer` reuses it)."""
  tc, data = config.tokenizer, loaded.data
  if tc.source:
    table, metrics = read_tokenizer(tc.source, tc.method, data.num_items)
    logging.info("tokenizer: read %s from %s (%s)", tc.method, tc.source, metrics.get("vectors", "?"))
    return table, metrics
  folder = os.path.join(workdir, "tokenizer") if workdir else None
  if folder and os.path.exists(os.path.join(folder, build.HEADER)):
    return read_tokenizer(folder, tc.method, data.num_items)
  start = time.time()
  root = interactions.data_root(config.data.data_dir) if data.name != "synthetic" else ""
  cache = tc.text_cache_dir or os.path.expanduser("~/.cache/onerec_jax/text_embeddings")
  x, notes = build.item_vectors(tc.item_vectors, loaded, tc, data_root=root, text_cache_dir=cache)
  logging.info(
    "tokenizer item vectors: %s %s%s",
    tc.item_vectors,
    x.shape,
    f"; item text: {notes.get('item_text', '?')}, e.g. {notes['text_example']!r}"
    if "text_example" in notes
    else " (no item text: the loader's side-information vectors)"
    if tc.item_vectors == "side"
    else "",
  )
  out = folder or tempfile.mkdtemp(prefix="onerec_tokenizer_")
  if jax.process_index() != 0:  # every process fits the same (deterministic) tokenizer; one writes it
    out = tempfile.mkdtemp(prefix="onerec_tokenizer_")
  results = build.build_tokenizers(x, tc, out, (tc.method,), header={"dataset": data.name, **notes})
  with open(os.path.join(out, "metrics.json"), "w") as f:
    json.dump({"dataset": data.name, **notes, "methods": results}, f, indent=1, default=float)
  table, metrics = read_tokenizer(out, tc.method, data.num_items)
  metrics["fit_seconds"] = time.time() - start
  logging.info(
    "tokenizer: %d items -> %s semantic IDs in %.1fs; %s",
    data.num_items,
    table.vocab_sizes,
    metrics["fit_seconds"],
    {k: v for k, v in metrics.items() if isinstance(v, float)},
  )
  return table, metrics


def prepare(config: ExperimentConfig, workdir: str | None = None) -> RunData:
  """Loads data, fits/loads the tokenizer, and fills the model config's data-dependent fields."""
  config.validate()
  if config.data.tfds_dir:  # the TFDS array_record files hold the sequences, not the raw item ids
    data, sim = load_sequences(config.data)
    loaded = LoadedDataset(data, stats=None)
  else:
    loaded = load_dataset(config.data)
    data, sim = loaded.data, loaded.simulator
  table, metrics = fit_or_load_tokenizer(config, loaded, workdir)
  m = config.model
  builder = FeatureBuilder(
    data,
    table.sids,
    m.short_len,
    m.positive_len,
    m.lifelong_len,
    lifelong_compression=m.lifelong_compression,
    lifelong_history=m.lifelong_history,
  )
  model_config = dataclasses.replace(
    m,
    num_items=data.num_items,
    num_users=m.user_id_buckets or max(data.num_users, 1),
    num_categories=data.num_categories,
    num_authors=data.num_authors,
    static_vocab_sizes=tuple(data.static_vocab_sizes),
    num_feedback=len(FEEDBACK_NAMES),
    num_sid_levels=table.num_levels,
    sid_vocab_size=max(table.vocab_sizes),
  )
  model_config.validate()
  return RunData(data, table, builder, model_config, sim, metrics)


def build_model(model_config: ModelConfig, seed: int) -> OneRec:
  """Builds the model; call inside `onerec_jax.sharding.rules.mesh_context`."""
  return OneRec(model_config, rngs=nnx.Rngs(params=seed, dropout=seed + 1))
