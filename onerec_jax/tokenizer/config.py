"""Configuration of the item tokenizer (RQ-Kmeans semantic IDs)."""

import dataclasses

_INITS = ('kmeans++', 'random')
_DEDUPS = ('extra_token', 'none')


@dataclasses.dataclass(kw_only=True)
class TokenizerConfig:
  """How item vectors become semantic IDs.

  The report (OneRec technical report, section on RQ-Kmeans) uses 3 levels x 8,192 codes in production;
  the defaults here are a laptop-sized 3 x 256. OneRec V1 used balanced k-means; the report's version is
  plain k-means. The report has no collision step; `dedup='extra_token'` is the TIGER-style fourth token.
  """

  num_levels: int = 3  # residual quantisation levels (L)
  codebook_size: int = 256  # codes per level (c); every level has the same size
  num_iters: int = 20  # Lloyd iterations per level (with batch_size > 0: passes over the data)
  init: str = 'kmeans++'  # 'kmeans++' (batched D^2 sampling on a subsample) | 'random' (distinct items)
  balanced: bool = False  # OneRec V1 balanced k-means: every cluster gets floor or ceil of n / c items
  batch_size: int = 0  # mini-batch size for Lloyd updates on large catalogues (0 = full batch), items
  dedup: str = 'extra_token'  # collisions: 'extra_token' appends a disambiguation level | 'none'
  seed: int = 0  # PRNG seed; the fit is deterministic given the seed and the input

  def validate(self) -> 'TokenizerConfig':
    """Checks fields and their combinations; raises ValueError naming the field. Returns self."""
    if self.num_levels < 1:
      raise ValueError(f'TokenizerConfig.num_levels must be >= 1, got {self.num_levels}.')
    if self.codebook_size < 2:
      raise ValueError(f'TokenizerConfig.codebook_size must be >= 2, got {self.codebook_size}.')
    if self.num_iters < 0:
      raise ValueError(f'TokenizerConfig.num_iters must be >= 0, got {self.num_iters}.')
    if self.init not in _INITS:
      raise ValueError(f'TokenizerConfig.init must be one of {_INITS}, got {self.init!r}.')
    if self.dedup not in _DEDUPS:
      raise ValueError(f'TokenizerConfig.dedup must be one of {_DEDUPS}, got {self.dedup!r}.')
    if self.batch_size < 0:
      raise ValueError(f'TokenizerConfig.batch_size must be >= 0 (0 = full batch), got {self.batch_size}.')
    if self.balanced and self.batch_size:
      raise ValueError(
          'TokenizerConfig.balanced=True needs full-batch assignment (batch_size=0), '
          f'got batch_size={self.batch_size}.'
      )
    if self.batch_size and self.batch_size < self.codebook_size:
      raise ValueError(
          f'TokenizerConfig.batch_size ({self.batch_size}) must be >= codebook_size '
          f'({self.codebook_size}) so a mini-batch can reach every code.'
      )
    return self
