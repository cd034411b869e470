"""Builds a dataset's tokenizers end to end: item vectors -> RQ-Kmeans and/or RQ-VAE -> semantic-ID tables.

`item_vectors` picks the vectors to quantise (`content`, `side`, `collaborative`, `aligned`, or a file);
`build_tokenizers` fits each method on the same vectors, writes everything under an output folder and
returns the metrics; `encode_with_saved` applies a saved tokenizer to new vectors. Layout of `out/`:

  tokenizer.json            header: dataset, vectors, num_items, dim, methods, config
  metrics.json              per method: tokenizer_metrics keys, fit_seconds, sid stats; the vectors' probe
  rq_kmeans/sids.npz        SemanticIdTable (SemanticIdTable.load)
  rq_kmeans/codebooks.npy   [L, c, d] float32
  rq_vae/sids.npz           SemanticIdTable
  rq_vae/model.npz          RQ-VAE parameters (rq_vae.load_rq_vae)
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import numpy as np

from onerec_jax.config_overrides import to_dict
from onerec_jax.tokenizer import alignment, collaborative, item_text, metrics, residual_kmeans, rq_vae
from onerec_jax.tokenizer.config import TokenizerConfig
from onerec_jax.tokenizer.semantic_ids import SemanticIdTable

METHODS = ('rq_kmeans', 'rq_vae')
VECTOR_KINDS = ('content', 'side', 'collaborative', 'aligned')
HEADER = 'tokenizer.json'


def check_finite(vectors: np.ndarray, name: str) -> np.ndarray:
  """float32 [i, d] vectors, or ValueError naming the rows with NaN/Inf."""
  x = np.asarray(vectors)
  if x.ndim != 2 or not np.issubdtype(x.dtype, np.floating):
    raise ValueError(f'{name}: expected a float [items, dim] array, got {x.dtype} {x.shape}')
  bad = np.flatnonzero(~np.isfinite(x).all(1))
  if bad.size:
    raise ValueError(
      f'{name}: {bad.size} of {x.shape[0]} item vectors have NaN or Inf (first item rows: '
      f'{bad[:5].tolist()}); clean them first, they are not repaired silently'
    )
  return x.astype(np.float32)


def _from_file(path: str, num_items: int, raw_ids: np.ndarray | None) -> np.ndarray:
  """A user's vectors: .npy [items, dim] in dense item order, or .npz with `vectors` and `item_ids` (raw)."""
  if not os.path.exists(path):
    raise ValueError(f'--vectors: file {path!r} not found (or use one of {VECTOR_KINDS})')
  if path.endswith('.npz'):
    with np.load(path, allow_pickle=False) as data:
      if 'vectors' not in data or 'item_ids' not in data:
        raise ValueError(f'{path}: an .npz of item vectors needs arrays `vectors` [k, dim] and `item_ids` [k]')
      vecs, ids = data['vectors'], data['item_ids']
    keys = [str(r) for r in (raw_ids if raw_ids is not None else np.arange(num_items))]
    index = {k: j for j, k in enumerate(keys)}
    unknown = [str(i) for i in ids if str(i) not in index]
    if unknown:
      raise ValueError(f'{path}: unknown item ids {unknown[:10]} ({len(unknown)} in all) not in the dataset')
    rows = np.array([index[str(i)] for i in ids])
    if len(set(rows.tolist())) != num_items:
      raise ValueError(f'{path}: covers {len(set(rows.tolist()))} of the {num_items} items; every item needs a vector')
    x = np.empty((num_items, vecs.shape[1]), vecs.dtype)
    x[rows] = vecs
    return check_finite(x, path)
  x = np.load(path, allow_pickle=False)
  if x.ndim != 2 or x.shape[0] != num_items:
    raise ValueError(f'{path}: expected [{num_items}, dim] (one row per item, dense item order), got {x.shape}')
  return check_finite(x, path)


def item_vectors(
  kind: str,
  loaded,
  config: TokenizerConfig,
  *,
  data_root: str = '',
  text_cache_dir: str = '',
  text_encoder: item_text.Encoder | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
  """The [i, d] vectors to quantise for a loaded dataset, and notes on how they were made.

  Args:
    kind: 'content' (text embeddings; the simulator's content vectors on `synthetic`), 'side' (the loader's
      side-information vector), 'collaborative' (PPMI-SVD), 'aligned' (content aligned by InfoNCE), or a
      path to .npy / .npz.
    loaded: onerec_jax.input.interactions.LoadedDataset.
    config: TokenizerConfig (its `vectors` section).
    data_root: the data directory (for the item texts).
    text_cache_dir: where text embeddings are cached.
    text_encoder: texts -> vectors (default all-MiniLM-L6-v2); tests pass a deterministic function.
  """
  data = loaded.data
  notes: dict[str, Any] = {'vectors': kind}
  if kind not in VECTOR_KINDS:
    return _from_file(kind, data.num_items, loaded.item_raw_ids), notes
  if kind == 'side':
    return check_finite(data.item_content, 'side-information vectors'), notes
  if kind == 'collaborative':
    t = time.perf_counter()
    x = collaborative.collaborative_vectors(data, config.vectors, config.seed)
    notes['vectors_seconds'] = time.perf_counter() - t
    return check_finite(x, 'collaborative vectors'), notes
  if data.name == 'synthetic' or loaded.item_raw_ids is None:
    content = check_finite(data.item_content, 'simulator content vectors')
    notes['content'] = 'simulator item_content'
  else:
    t = time.perf_counter()
    texts = item_text.item_texts(data.name, data_root, loaded.item_raw_ids)
    content, hit = item_text.embed_texts(texts, cache_dir=text_cache_dir, name=data.name, encoder=text_encoder)
    notes.update(
      content=f'{item_text.DEFAULT_ENCODER_NAME} text embeddings',
      text_cache_hit=hit,
      text_seconds=time.perf_counter() - t,
      text_example=texts[0],
      item_text=item_text.describe_item_text(data.name, data_root),
    )
    content = check_finite(content, 'text embeddings')
  if kind == 'content':
    return content, notes
  pairs = collaborative.positive_pairs(data, config.vectors.window)
  fit = alignment.fit_alignment(content, pairs, config.vectors, config.seed)
  notes.update(
    align_seconds=fit.fit_seconds,
    align_pairs=int(pairs.shape[0]),
    align_info_nce=[fit.history['info_nce'][0], fit.history['info_nce'][-1]],
    align_recon_rel=[fit.history['recon_rel'][0], fit.history['recon_rel'][-1]],
  )
  return check_finite(fit.vectors, 'aligned vectors'), notes


def _table_stats(table: SemanticIdTable) -> dict[str, Any]:
  unique = len(np.unique(table.sids, axis=0)) == table.num_items
  return {
    'sid_tokens': table.num_levels,
    'sid_vocab_sizes': list(table.vocab_sizes),
    'unique_sids': bool(unique),
    'extra_token_vocab': table.vocab_sizes[-1] if table.dedup == 'extra_token' else 0,
  }


def build_tokenizers(
  vectors: np.ndarray, config: TokenizerConfig, out: str, methods=METHODS, header: dict | None = None
) -> dict[str, Any]:
  """Fits each method on the same vectors [i, d], saves tables + codebooks/model under `out`, returns metrics."""
  config.validate()
  x = check_finite(vectors, 'item vectors')
  if x.shape[0] < config.codebook_size:
    raise ValueError(
      f'{x.shape[0]} items is fewer than codebook_size={config.codebook_size} codes; lower --config.codebook_size'
    )
  unknown = set(methods) - set(METHODS)
  if unknown or not methods:
    raise ValueError(f'methods must be a non-empty subset of {METHODS}, got {methods}')
  os.makedirs(out, exist_ok=True)
  results: dict[str, Any] = {}
  for method in methods:
    folder = os.path.join(out, method)
    os.makedirs(folder, exist_ok=True)
    if method == 'rq_kmeans':
      t = time.perf_counter()
      km = residual_kmeans.fit_residual_kmeans(x, config)
      codes = np.asarray(km.codes)
      seconds = time.perf_counter() - t
      m = metrics.tokenizer_metrics(x, km.codebooks, codes)
      np.save(os.path.join(folder, 'codebooks.npy'), np.asarray(km.codebooks))
    else:
      fit = rq_vae.fit_rq_vae(x, config)
      codes, seconds = fit.codes, fit.fit_seconds
      m = rq_vae.rq_vae_metrics(fit.model, x)
      m['train_recon_rel_first_last'] = [fit.history['recon_rel'][0], fit.history['recon_rel'][-1]]
      m['codes_restarted'] = float(sum(fit.history['codes_restarted']))
      rq_vae.save_rq_vae(os.path.join(folder, 'model.npz'), fit.model, config)
    table = SemanticIdTable.from_codes(codes, dedup=config.dedup, codebook_sizes=config.codebook_size)
    table.save(os.path.join(folder, 'sids.npz'))
    results[method] = {**m, 'fit_seconds': seconds, **_table_stats(table)}
  head = {
    **(header or {}),
    'num_items': int(x.shape[0]),
    'dim': int(x.shape[1]),
    'methods': list(methods),
    'config': to_dict(config),
  }
  with open(os.path.join(out, HEADER), 'w') as f:
    json.dump(head, f, indent=1)
  return results


def encode_with_saved(tokenizer_dir: str, vectors: np.ndarray, out: str) -> dict[str, Any]:
  """Encodes vectors [i, d] with the tokenizer(s) saved in `tokenizer_dir`; writes tables under `out`."""
  path = os.path.join(tokenizer_dir, HEADER)
  if not os.path.exists(path):
    raise ValueError(f'--tokenizer={tokenizer_dir!r} holds no {HEADER}; is it a tokenize --out folder?')
  with open(path) as f:
    head = json.load(f)
  x = check_finite(vectors, 'item vectors')
  if x.shape[1] != head['dim']:
    raise ValueError(
      f'dimension mismatch: the tokenizer in {tokenizer_dir} was fitted on {head["dim"]}-dim '
      f'vectors ({head.get("vectors")}), these are {x.shape[1]}-dim'
    )
  results = {}
  dedup, size = head['config']['dedup'], head['config']['codebook_size']
  for method in head['methods']:
    folder = os.path.join(tokenizer_dir, method)
    if method == 'rq_kmeans':
      books = np.load(os.path.join(folder, 'codebooks.npy'))
      codes = np.asarray(residual_kmeans.encode(books, x))
      m = metrics.tokenizer_metrics(x, books, codes)
    else:
      model = rq_vae.load_rq_vae(os.path.join(folder, 'model.npz'))
      codes = np.asarray(rq_vae.encode(model, x))
      m = rq_vae.rq_vae_metrics(model, x)
    table = SemanticIdTable.from_codes(codes, dedup=dedup, codebook_sizes=size)
    os.makedirs(os.path.join(out, method), exist_ok=True)
    table.save(os.path.join(out, method, 'sids.npz'))
    results[method] = {**m, **_table_stats(table)}
  return results


def sids_of_items(out: str, method: str, raw_ids: np.ndarray | None, wanted: list[str]) -> dict[str, list[int]]:
  """Semantic IDs of items named by their original ids; ValueError naming any unknown id."""
  table = SemanticIdTable.load(os.path.join(out, method, 'sids.npz'))
  keys = [str(r) for r in (raw_ids if raw_ids is not None else np.arange(table.num_items))]
  index = {k: j for j, k in enumerate(keys)}
  unknown = [w for w in wanted if w not in index]
  if unknown:
    raise ValueError(f'unknown item ids {unknown[:10]}: not in the dataset\'s {table.num_items} items')
  return {w: table.sid_of(np.array([index[w]]))[0].tolist() for w in wanted}
