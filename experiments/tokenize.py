r"""Fits the item tokenizers (RQ-Kmeans and RQ-VAE) of a dataset on the same item vectors.

  python -m experiments.tokenize --dataset=amazon_beauty --data_dir=../shared/data --out=/tmp/tok_beauty \
      [--method=both|rq_kmeans|rq_vae] [--vectors=content|side|collaborative|aligned|FILE.npy|FILE.npz] \
      [--tokenizer=DIR] [--show_items=ID,ID] [--config.codebook_size=256 --config.rq_vae.num_epochs=100 ...]

Writes under --out the semantic-ID tables and codebooks (layout: onerec_jax/tokenizer/build.py) and
metrics.json, and prints the same JSON: per method and level utilisation, entropy, relative
reconstruction loss, items per semantic ID (max, mean), collision share before dedup, fit seconds;
plus a retrieval probe of the vectors (--probe). With --tokenizer=DIR nothing is fitted: the saved
tokenizer encodes the vectors (its dimension must match). Text embeddings (content, aligned) need the
`tokenizer-text` extra and are cached under --text_cache_dir. Bad input exits with `error: ...`.
Kept short: the logic is in `onerec_jax.tokenizer.build`.
"""

from __future__ import annotations

import datetime
import json
import os
import sys

from absl import app, flags

from experiments import common_flags

from onerec_jax.config_overrides import apply_overrides, to_dict

_DATASET = common_flags.DATASET  # default: synthetic
_DATA_DIR = common_flags.DATA_DIR
_OUT = common_flags.OUT  # output folder (tables, codebooks, metrics.json)
_METHOD = flags.DEFINE_enum("method", "both", ["both", "rq_kmeans", "rq_vae"], "which tokenizer(s) to fit")
_VECTORS = flags.DEFINE_string("vectors", "content", "content | side | collaborative | aligned | FILE.npy | FILE.npz")
_TOKENIZER = flags.DEFINE_string("tokenizer", "", "encode with the tokenizer saved in this --out folder")
_CACHE = flags.DEFINE_string(
  "text_cache_dir",
  os.path.expanduser("~/.cache/onerec_jax/text_embeddings"),
  "cache of text embeddings (npy named by dataset + hash of the texts)",
)
_PROBE = flags.DEFINE_bool("probe", True, "also report the retrieval probe of the vectors (real data)")
_SHOW = flags.DEFINE_list("show_items", [], "original item ids whose semantic IDs to print")
_OVERRIDES: list[str] = []


parse_flags = common_flags.overrides_parser(_OVERRIDES)


def run(
  dataset: str,
  data_dir: str,
  out: str,
  method: str,
  vectors: str,
  overrides,
  *,
  tokenizer: str = "",
  text_cache_dir: str = "",
  probe: bool = True,
  show_items=(),
  text_encoder=None,
) -> dict:
  """Everything main does, importable (tests pass a deterministic text_encoder). Returns the JSON dict."""
  from onerec_jax.input import interactions
  from onerec_jax.input.config import DataConfig
  from onerec_jax.input.datasets import load_dataset
  from onerec_jax.tokenizer import build, collaborative
  from onerec_jax.tokenizer.config import TokenizerConfig

  # --vectors is what this command quantises, so the recorded config names it (a file of vectors is named by
  # the result's top-level `vectors` note instead); an override that says otherwise is a contradiction.
  named = vectors in build.VECTOR_KINDS
  config = apply_overrides(TokenizerConfig(item_vectors=vectors) if named else TokenizerConfig(), overrides)
  if named and config.item_vectors != vectors:
    raise ValueError(
      f"--config.item_vectors={config.item_vectors} contradicts --vectors={vectors}: this command quantises "
      "--vectors; drop the override"
    )
  config.validate()
  data_config = DataConfig(dataset=dataset, data_dir=data_dir)
  data_config.validate()
  loaded = load_dataset(data_config)
  root = "" if dataset == "synthetic" else interactions.data_root(data_dir)
  x, notes = build.item_vectors(
    vectors, loaded, config, data_root=root, text_cache_dir=text_cache_dir, text_encoder=text_encoder
  )
  result = {
    "dataset": dataset,
    "date": datetime.datetime.now().isoformat(timespec="seconds"),
    "num_items": int(x.shape[0]),
    "dim": int(x.shape[1]),
    **notes,
  }
  if tokenizer:
    result["encoded_with"] = tokenizer
    result["methods"] = build.encode_with_saved(tokenizer, x, out)
  else:
    methods = build.METHODS if method == "both" else (method,)
    result["methods"] = build.build_tokenizers(x, config, out, methods, header={"dataset": dataset, **notes})
    result["config"] = to_dict(config)
  if probe:
    result["probe"] = collaborative.neighbour_probe(x, loaded.data, window=config.vectors.window)
  if show_items:
    first = next(iter(result["methods"]))
    result["sids_of"] = build.sids_of_items(out, first, loaded.item_raw_ids, list(show_items))
  os.makedirs(out, exist_ok=True)
  with open(os.path.join(out, "metrics.json"), "w") as f:
    json.dump(result, f, indent=1)
  return result


def main(argv):
  del argv
  if not _OUT.value:
    raise app.UsageError("--out is required")
  from onerec_jax.input.interactions import DataError

  try:
    result = run(
      _DATASET.value or "synthetic",
      _DATA_DIR.value or "",
      _OUT.value,
      _METHOD.value,
      _VECTORS.value,
      _OVERRIDES,
      tokenizer=_TOKENIZER.value,
      text_cache_dir=_CACHE.value,
      probe=_PROBE.value,
      show_items=_SHOW.value,
    )
  except (ValueError, DataError, ImportError) as e:
    sys.exit(f"error: {e}")
  print(json.dumps(result, indent=1))


if __name__ == "__main__":
  from onerec_jax.train.compilation_cache import enable_compilation_cache

  enable_compilation_cache()
  app.run(main, flags_parser=parse_flags)
