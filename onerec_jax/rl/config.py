"""Typed configuration of ECPO post-training (onerec_jax.rl.ecpo_task)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(kw_only=True)
class RLConfig:
  """ECPO on top of a supervised OneRec run."""

  init_from: str = ""  # workdir of the supervised run: its config, tokenizer and latest checkpoint
  group_size: int = 32  # G: items per user drawn from the policy at the start of the step
  # How the G rollouts are drawn: 'beam' (the G best IDs by beam search, the report's) | 'sample' (G
  # independent ancestral samples at `temperature`; they may repeat an item).
  rollouts: str = "beam"
  temperature: float = 1.0  # of rollouts='sample'
  rl_share: float = 0.25  # share of each batch's rows that are RL users (the rest: supervised targets)
  rl_weight: float = 1.0  # weight of the ECPO term beside the supervised next-token loss
  updates_per_rollout: int = 2  # optimiser updates on each group of rollouts (pi_old is their policy)
  eps: float = 0.2  # clip range
  delta: float = 0.1  # the early clip's margin (report: 0.1)
  early_clip: bool = True  # False: plain GRPO clipping (ratio over pi_old), for comparison
  reward: str = "oracle"  # 'oracle': the simulator's expected engagement of the item for the user |
  # 'pscore': the preference probability of a trained reward model (reward_from)
  reward_from: str = ""  # rl.reward='pscore': workdir of a reward run (family 'reward') on the same data
  # Rollouts through the prefix trie (every one a real item) or a free beam search (IDs that name no
  # item are dropped from the preference advantages; the format reward is what teaches legality then).
  constrained: bool = True
  # The format reward (PAPER.md section 6): of each user's G rollouts, K = format_samples are drawn at
  # random; the legal ones get advantage 1 in an extra ECPO term of weight format_weight (0 = off).
  format_samples: int = 0
  format_weight: float = 1.0
  seed: int = 0  # of the format reward's draws and the sampled rollouts (folded with the step)

  def validate(self) -> "RLConfig":
    if self.group_size < 2:
      raise ValueError(f"rl.group_size must be >= 2 (advantages are relative within a group), got {self.group_size}")
    if not 0.0 < self.rl_share <= 1.0:
      raise ValueError(f"rl.rl_share must be in (0, 1], got {self.rl_share}")
    if self.updates_per_rollout < 1:
      raise ValueError(f"rl.updates_per_rollout must be >= 1, got {self.updates_per_rollout}")
    if self.rollouts not in ("beam", "sample"):
      raise ValueError(f"rl.rollouts must be 'beam' or 'sample', got {self.rollouts!r}")
    if self.temperature <= 0:
      raise ValueError(f"rl.temperature must be positive, got {self.temperature}")
    if self.reward not in ("oracle", "pscore"):
      raise ValueError(f"rl.reward must be 'oracle' or 'pscore', got {self.reward!r}")
    if not 0 <= self.format_samples <= self.group_size:
      raise ValueError(f"rl.format_samples must be in [0, rl.group_size={self.group_size}], got {self.format_samples}")

    return self
