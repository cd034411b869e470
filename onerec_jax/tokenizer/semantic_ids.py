"""The two-way table between item ids and semantic IDs, with collision handling.

RQ-Kmeans gives each item an L-code tuple; several items may share one (a collision). The report has no
collision step. Two schemes here:
- 'extra_token' (TIGER style, the default): append a level whose token is the item's index among the
  items sharing its L-code tuple, ordered by item id. Every item then has a unique sid of L + 1 tokens.
  The extra level's vocabulary is the largest group size rounded up to a power of two, so the decoder's
  output size stays put while the catalogue grows by less than 2x.
- 'none': sids are the L codes; `item_of` maps a shared tuple to the smallest item id in it.

Item ids are row indices 0..n-1 of the codes the table was built from. Lookups run in numpy on the host
(sorted int64 keys + searchsorted); inside jit, use the prefix trie (`table.trie()` and
`prefix_trie.lookup_items`).
"""

import dataclasses
import json
from typing import Any, Sequence

import numpy as np

from onerec_jax.tokenizer.prefix_trie import PrefixTrie

FORMAT_NAME = 'onerec_jax.SemanticIdTable'
FORMAT_VERSION = 1
_DEDUPS = ('extra_token', 'none')


def _next_pow2(x: int) -> int:
  return 1 << max(0, int(x) - 1).bit_length()


def _tuple_keys(tokens: np.ndarray, radices: Sequence[int]) -> np.ndarray:
  """[b, L] tokens (each < its radix) -> [b] int64 mixed-radix keys."""
  keys = np.zeros(tokens.shape[0], np.int64)
  for level, radix in enumerate(radices):
    keys = keys * radix + tokens[:, level].astype(np.int64)
  return keys


@dataclasses.dataclass(frozen=True, eq=False)
class SemanticIdTable:
  """Item id <-> semantic ID table. Build with `from_codes` or `load`.

  Attributes:
    codes: [n, L] int32 RQ-Kmeans codes before collision handling.
    sids: [n, L'] int32 semantic IDs (L' = L + 1 with 'extra_token', L with 'none').
    vocab_sizes: tokens per sid level, length L'; the first L are the codebook sizes, the extra level's
      is max items per code tuple rounded up to a power of two.
    dedup: 'extra_token' | 'none'.
    collision_share: share of items whose L-code tuple is shared with another item (before dedup).
    max_items_per_code: largest number of items sharing one L-code tuple.
    mean_items_per_code: items / distinct L-code tuples.
  """

  codes: np.ndarray
  sids: np.ndarray
  vocab_sizes: tuple[int, ...]
  dedup: str
  collision_share: float
  max_items_per_code: int
  mean_items_per_code: float
  _keys: np.ndarray = dataclasses.field(repr=False)  # [u] sorted int64 sid keys
  _key_items: np.ndarray = dataclasses.field(repr=False)  # [u] smallest item id per key

  @property
  def num_levels(self) -> int:
    """L', the number of tokens in a sid."""
    return self.sids.shape[1]

  @property
  def num_items(self) -> int:
    return self.sids.shape[0]

  @property
  def codebook_sizes(self) -> tuple[int, ...]:
    return self.vocab_sizes[: self.codes.shape[1]]

  @classmethod
  def from_codes(
    cls, codes: Any, dedup: str = 'extra_token', codebook_sizes: int | Sequence[int] | None = None
  ) -> 'SemanticIdTable':
    """Builds the table from [n, L] codes (row i = item i).

    Args:
      codes: [n, L] non-negative integer codes (numpy or jax).
      dedup: 'extra_token' | 'none'.
      codebook_sizes: codes per level (an int for all levels); default max code + 1 per level.
    """
    if dedup not in _DEDUPS:
      raise ValueError(f'dedup must be one of {_DEDUPS}, got {dedup!r}.')
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[0] == 0 or codes.shape[1] == 0:
      raise ValueError(f'codes must be a non-empty [n, L] array, got shape {codes.shape}.')
    if not np.issubdtype(codes.dtype, np.integer):
      raise ValueError(f'codes must be integers, got dtype {codes.dtype}.')
    n, num_code_levels = codes.shape
    if codebook_sizes is None:
      codebook_sizes = tuple(int(s) for s in codes.max(axis=0) + 1)
    elif isinstance(codebook_sizes, (int, np.integer)):
      codebook_sizes = (int(codebook_sizes),) * num_code_levels
    codebook_sizes = tuple(int(s) for s in codebook_sizes)
    if len(codebook_sizes) != num_code_levels:
      raise ValueError(f'codebook_sizes has {len(codebook_sizes)} entries for {num_code_levels} levels.')
    if codes.min() < 0 or np.any(codes.max(axis=0) >= np.asarray(codebook_sizes)):
      raise ValueError(f'codes must lie in [0, codebook_size) per level {codebook_sizes}.')
    codes = codes.astype(np.int32)

    _check_radix(codebook_sizes)
    tuple_keys = _tuple_keys(codes, codebook_sizes)
    _, group, group_size = np.unique(tuple_keys, return_inverse=True, return_counts=True)
    items_per_code = group_size[group]  # [n] size of each item's group
    max_items = int(group_size.max())

    if dedup == 'extra_token':
      order = np.argsort(group, kind='stable')  # by group, then by item id
      sorted_group = group[order]
      first = np.searchsorted(sorted_group, sorted_group, side='left')
      extra = np.empty(n, np.int32)
      extra[order] = np.arange(n) - first  # index of the item within its group
      sids = np.concatenate([codes, extra[:, None]], axis=1)
      vocab_sizes = codebook_sizes + (_next_pow2(max_items),)
    else:
      sids = codes.copy()
      vocab_sizes = codebook_sizes
    _check_radix(vocab_sizes)
    keys, first_item = np.unique(_tuple_keys(sids, vocab_sizes), return_index=True)  # first = smallest id
    return cls(
      codes=codes,
      sids=sids,
      vocab_sizes=vocab_sizes,
      dedup=dedup,
      collision_share=float(np.mean(items_per_code > 1)),
      max_items_per_code=max_items,
      mean_items_per_code=float(n / group_size.size),
      _keys=keys,
      _key_items=first_item.astype(np.int32),
    )

  def item_of(self, sids: Any) -> np.ndarray:
    """[b, L'] sids -> [b] int32 item ids, -1 where the sid maps to no item (numpy, vectorised)."""
    sids = np.asarray(sids)
    if sids.ndim != 2 or sids.shape[1] != self.num_levels:
      raise ValueError(f'item_of expects sids [b, {self.num_levels}], got shape {sids.shape}.')
    in_range = np.all((sids >= 0) & (sids < np.asarray(self.vocab_sizes)), axis=1)
    keys = _tuple_keys(np.where(in_range[:, None], sids, 0), self.vocab_sizes)
    pos = np.minimum(np.searchsorted(self._keys, keys), self._keys.size - 1)
    found = in_range & (self._keys[pos] == keys)
    return np.where(found, self._key_items[pos], -1).astype(np.int32)

  def sid_of(self, item_ids: Any) -> np.ndarray:
    """[...] item ids -> [..., L'] int32 sids. Raises ValueError on ids outside [0, num_items)."""
    item_ids = np.asarray(item_ids)
    if not np.issubdtype(item_ids.dtype, np.integer):
      raise ValueError(f'item ids must be integers, got dtype {item_ids.dtype}.')
    bad = (item_ids < 0) | (item_ids >= self.num_items)
    if np.any(bad):
      raise ValueError(
        f'unknown item ids {np.unique(item_ids[bad])[:10].tolist()} (the table holds 0..{self.num_items - 1}).'
      )
    return self.sids[item_ids]

  def trie(self) -> PrefixTrie:
    """The prefix trie of all sids, vocab = max(vocab_sizes), for constrained decoding inside jit."""
    return PrefixTrie.build(self.sids, max(self.vocab_sizes))

  def stats(self) -> dict[str, float]:
    return {
      'collision_share': self.collision_share,
      'max_items_per_code': float(self.max_items_per_code),
      'mean_items_per_code': self.mean_items_per_code,
    }

  def save(self, path: str) -> None:
    """Writes one .npz (codes, sids, and a JSON header with the format name and version) to `path`."""
    meta = {
      'format': FORMAT_NAME,
      'format_version': FORMAT_VERSION,
      'dedup': self.dedup,
      'vocab_sizes': list(self.vocab_sizes),
      'codebook_sizes': list(self.codebook_sizes),
      **self.stats(),
    }
    with open(path, 'wb') as f:
      np.savez(f, codes=self.codes, sids=self.sids, meta=np.asarray(json.dumps(meta)))

  @classmethod
  def load(cls, path: str) -> 'SemanticIdTable':
    """Reads a table written by `save`; raises ValueError on another format or version, or corruption."""
    with np.load(path, allow_pickle=False) as data:
      if 'meta' not in data:
        raise ValueError(f'{path} is not a saved SemanticIdTable (no meta header).')
      meta = json.loads(str(data['meta']))
      codes, sids = data['codes'], data['sids']
    if meta.get('format') != FORMAT_NAME:
      raise ValueError(f'{path}: format {meta.get("format")!r} is not {FORMAT_NAME!r}.')
    if meta.get('format_version') != FORMAT_VERSION:
      raise ValueError(
        f'{path}: SemanticIdTable format version {meta.get("format_version")} is not supported '
        f'(this code reads version {FORMAT_VERSION}).'
      )
    table = cls.from_codes(codes, dedup=meta['dedup'], codebook_sizes=meta['codebook_sizes'])
    if not np.array_equal(table.sids, sids) or list(table.vocab_sizes) != meta['vocab_sizes']:
      raise ValueError(f'{path}: stored sids disagree with the ones rebuilt from its codes (corrupt file).')
    return table


def _check_radix(radices: Sequence[int]) -> None:
  if float(np.prod(np.asarray(radices, np.float64))) >= 2.0**62:
    raise ValueError(f'vocab sizes {tuple(radices)} are too large to pack a sid into an int64 key.')
