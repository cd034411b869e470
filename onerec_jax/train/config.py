"""Typed configuration of training."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(kw_only=True)
class TrainConfig:
  """Optimisation, logging and checkpointing."""

  batch_size: int = 128  # examples per step (global, over all devices)
  grad_accum_steps: int = 1  # micro-batches per step (gradients averaged; batch_size must divide)
  num_steps: int = 1000  # optimiser steps
  learning_rate: float = 3e-3  # peak learning rate (AdamW)
  warmup_steps: int = 100  # linear warm-up steps (0 = none), then the schedule
  # After warm-up: 'cosine' decay to 10% of the peak at num_steps | 'constant' (HSTU) | 'wsd' (warm-up, stable,
  # decay: the peak held until num_steps - decay_steps, then linear decay to 10% of it at num_steps; a run
  # resumed from a checkpoint of its stable phase with a larger num_steps continues the same schedule, so a
  # long run can be extended session by session)
  lr_schedule: str = "cosine"
  decay_steps: int = 0  # 'wsd': the steps of the final decay (0 with any other schedule)
  weight_decay: float = 0.01  # AdamW decoupled weight decay
  grad_clip_norm: float = 1.0  # global gradient-norm clip (0 = off)
  ema_decay: float = 0.0  # > 0: evaluate a moving average of the parameters with this decay (param_ema; 0 = off)
  max_nonfinite_steps: int = 20  # consecutive skipped steps (non-finite loss or gradients) that stop the run
  loss_reduction: str = "sum"  # OneRec: over the semantic-ID tokens, 'sum' (OneRec V1) | 'mean' (V2)
  prefetch: int = 2  # batches built ahead by the input thread (grain ThreadPrefetch; 0 = none)
  seed: int = 0  # parameter init and data order
  log_every: int = 50  # steps between console/TensorBoard logs
  peak_matmul_size: int = 2048  # MFU: the peak is a [n, n] x [n, n] matmul measured at start (0 = no MFU)
  checkpoint_every: int = 200  # steps between Orbax checkpoints (and one at the end)
  max_checkpoints: int = 3  # checkpoints kept
  mesh_shape: tuple[int, ...] = (-1, 1, 1, 1)  # (data, fsdp, expert, tensor); -1 = the remaining devices
  sharding_rules: str = "fsdp_tp"  # name in onerec_jax.sharding.rules.RULE_SETS

  def validate(self) -> None:
    for name in ("batch_size", "log_every", "checkpoint_every", "max_checkpoints", "max_nonfinite_steps"):
      if getattr(self, name) <= 0:
        raise ValueError(f"train.{name} must be positive, got {getattr(self, name)}")
    if self.grad_accum_steps < 1 or self.batch_size % self.grad_accum_steps:
      raise ValueError(
        f"train.grad_accum_steps={self.grad_accum_steps} must be >= 1 and divide train.batch_size={self.batch_size}"
      )
    if self.num_steps < 0:
      raise ValueError(f"train.num_steps must be >= 0, got {self.num_steps}")
    if self.learning_rate <= 0:
      raise ValueError(f"train.learning_rate must be positive, got {self.learning_rate}")
    if self.warmup_steps < 0:
      raise ValueError(f"train.warmup_steps must be >= 0, got {self.warmup_steps}")
    if self.lr_schedule not in ("cosine", "constant", "wsd"):
      raise ValueError(f"train.lr_schedule must be 'cosine', 'constant' or 'wsd', got {self.lr_schedule!r}")
    if self.lr_schedule == "wsd" and not 0 < self.decay_steps <= self.num_steps - self.warmup_steps:
      raise ValueError(
        f"train.lr_schedule='wsd' needs 0 < train.decay_steps <= num_steps - warmup_steps ="
        f" {self.num_steps - self.warmup_steps}, got {self.decay_steps}"
      )
    if self.lr_schedule != "wsd" and self.decay_steps:
      raise ValueError(
        f"train.decay_steps={self.decay_steps} is only read by lr_schedule='wsd' (got {self.lr_schedule!r})"
      )
    if not 0.0 <= self.ema_decay < 1.0:
      raise ValueError(f"train.ema_decay must be in [0, 1) (0 = off), got {self.ema_decay}")
    if self.loss_reduction not in ("sum", "mean"):
      raise ValueError(f"train.loss_reduction must be 'sum' or 'mean', got {self.loss_reduction!r}")
    if len(self.mesh_shape) != 4:
      raise ValueError(f"train.mesh_shape must have 4 entries (data, fsdp, expert, tensor), got {self.mesh_shape}")
