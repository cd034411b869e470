"""Typed configuration of evaluation."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(kw_only=True)
class EvalConfig:
  """Constrained beam search and ranking metrics on held-out interactions."""

  split: str = "test"  # leave-one-out split: 'valid' or 'test'
  # 'tiger': rank the beam's items as they are; 'hstu': remove every item of the user's history before the
  # target from the ranked list first (HSTU's ML-1M protocol; set num_beams large enough to fill max(ks)).
  protocol: str = "tiger"
  num_beams: int = 20  # beam width (>= max(ks)); the top `max(ks)` distinct (non-excluded) items are ranked
  ks: tuple[int, ...] = (5, 10)  # cut-offs of Recall@K and NDCG@K
  max_users: int = 0  # evaluate the first N users only (0 = all)
  batch_size: int = 256  # users per beam-search call

  def validate(self) -> None:
    if self.split not in ("valid", "test"):
      raise ValueError(f"eval.split must be 'valid' or 'test', got {self.split!r}")
    if self.protocol not in ("tiger", "hstu"):
      raise ValueError(f"eval.protocol must be 'tiger' or 'hstu', got {self.protocol!r}")
    if not self.ks or min(self.ks) < 1:
      raise ValueError(f"eval.ks must be positive cut-offs, got {self.ks}")
    if self.num_beams < max(self.ks):
      raise ValueError(f"eval.num_beams={self.num_beams} must be >= max(eval.ks)={max(self.ks)}")
    if self.max_users < 0 or self.batch_size < 1:
      raise ValueError("eval.max_users must be >= 0 and eval.batch_size >= 1")
