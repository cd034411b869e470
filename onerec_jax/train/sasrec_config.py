"""Typed configuration of a SASRec experiment: data, model, training and evaluation protocol.

Its own dataclass (not ExperimentConfig): SASRec has no tokenizer and no OneRec model. The data section
is the shared DataConfig; training reuses TrainConfig's optimiser fields (AdamW, warm-up + cosine).
"""

from __future__ import annotations

import dataclasses

from onerec_jax.input.config import DataConfig
from onerec_jax.models.sasrec import SasrecConfig
from onerec_jax.train.config import TrainConfig

EXCLUDE_MODES = ("none", "window", "all")


@dataclasses.dataclass(kw_only=True)
class SasrecTrainConfig(TrainConfig):
  """TrainConfig plus the sampled softmax and the window pipeline (loss_reduction, mesh unused)."""

  num_negatives: int = 128  # sampled-softmax negatives per sequence (or per step, see below); HSTU: 128
  negatives_per: str = "sequence"  # 'position' (b x t x m draws per step, HSTU) | 'sequence' (b x m draws,
  # shared by a sequence's positions) | 'batch' (m shared draws per step)
  window_stride: int = 200  # training-window stride (onerec_jax.input.windows); max_len = non-overlapping
  prefetch: int = 2  # batches prefetched by the input thread
  rng_impl: str = "threefry2x32"  # PRNG of dropout and negatives: 'threefry2x32' | 'rbg' | 'unsafe_rbg'
  # (dropout masks dominate the CPU step with threefry; 'unsafe_rbg' is much cheaper)


@dataclasses.dataclass(kw_only=True)
class ProtocolConfig:
  """Which split, ranking and metrics; see PROTOCOLS.md."""

  name: str = "hstu"  # 'hstu' (ML-1M) | 'tiger' (Amazon): recorded with the results
  exclude: str = "window"  # history items removed from the ranking: 'none' | 'window' (the model's
  # input window, as HSTU's code) | 'all' (every earlier item)
  ks: tuple[int, ...] = (10, 50, 200)  # cut-offs of HR/Recall@K and NDCG@K
  select_metric: str = "ndcg@10"  # validation metric that picks the reported checkpoint
  eval_every: int = 500  # steps between evaluations on validation (and test); and one at the end
  eval_batch_size: int = 256  # users per scoring call
  max_eval_users: int = 0  # evaluate the first N users only (0 = all)

  def validate(self) -> None:
    if self.exclude not in EXCLUDE_MODES:
      raise ValueError(f"protocol.exclude must be one of {EXCLUDE_MODES}, got {self.exclude!r}")
    if not self.ks or min(self.ks) < 1:
      raise ValueError(f"protocol.ks must be positive cut-offs, got {self.ks}")
    known = {f"{m}@{k}" for m in ("hr", "recall", "ndcg") for k in self.ks} | {f"mrr@{max(self.ks)}"}
    if self.select_metric not in known:
      raise ValueError(f"protocol.select_metric={self.select_metric!r} is not one of {sorted(known)}")
    if self.eval_every < 1 or self.eval_batch_size < 1 or self.max_eval_users < 0:
      raise ValueError("protocol.eval_every and eval_batch_size must be >= 1, max_eval_users >= 0")


@dataclasses.dataclass(kw_only=True)
class SasrecExperimentConfig:
  """Everything a SASRec run needs; `--config.<section>.<field>=value` overrides any leaf."""

  name: str = ""  # registered experiment name
  description: str = ""  # one line, shown by `python -m experiments.list`
  data: DataConfig = dataclasses.field(default_factory=DataConfig)
  model: SasrecConfig = dataclasses.field(default_factory=SasrecConfig)
  train: SasrecTrainConfig = dataclasses.field(default_factory=SasrecTrainConfig)
  protocol: ProtocolConfig = dataclasses.field(default_factory=ProtocolConfig)

  def validate(self) -> "SasrecExperimentConfig":
    """Validates every part and the cross-part constraints; returns self."""
    self.data.validate()
    self.model.validate()
    self.train.validate()
    self.protocol.validate()
    if not 1 <= self.train.window_stride <= self.model.max_len:
      raise ValueError(f"train.window_stride={self.train.window_stride} must be in [1, model.max_len="
                       f"{self.model.max_len}]")
    if self.train.num_negatives < 1:
      raise ValueError(f"train.num_negatives must be >= 1, got {self.train.num_negatives}")
    if self.train.negatives_per not in ("position", "sequence", "batch"):
      raise ValueError(f"train.negatives_per must be 'position', 'sequence' or 'batch', got "
                       f"{self.train.negatives_per!r}")
    return self
