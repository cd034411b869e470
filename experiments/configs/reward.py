r"""The preference reward model (P-Score, PAPER.md section 6) on KuaiRand and on the simulator.

Runbook (2 CPU cores; each config's docstring holds its measured result):
  python -m experiments.train --experiment=reward_kuairand --workdir=/tmp/reward_kuairand --data_dir=../shared/data
    KuaiRand-Pure slice (2022-04-25 .. 05-08, 228k exposures): train on the days before 05-07, select on
    05-07, report on 05-08. Objectives: is_click, long_view, is_like, is_follow, is_comment, is_forward,
    is_hate; preference = long view, like, follow, comment or forward, and no hate. AUC and GAUC per
    objective beside the item-rate baseline.
  python -m experiments.train --experiment=reward_synthetic --workdir=/tmp/reward_synthetic
    The quickstart's simulated world; objectives long_view and like; the last tenth of each user's
    impressions is test, the tenth before valid.
`reward_kuairand_tiny` / `reward_synthetic_tiny` are the seconds-long siblings the tests run.
"""

from __future__ import annotations

from experiments.configs.quickstart import quickstart
from experiments.registry import register, tiny
from onerec_jax.config import ExperimentConfig
from onerec_jax.evaluation.config import EvalConfig
from onerec_jax.input.config import DataConfig
from onerec_jax.models.reward import RewardConfig
from onerec_jax.train.config import TrainConfig


def _reward(data: DataConfig, num_steps: int, batch_size: int = 256) -> ExperimentConfig:
  return ExperimentConfig(
    family="reward",
    data=data,
    reward=RewardConfig(history_len=50),
    train=TrainConfig(
      batch_size=batch_size,
      num_steps=num_steps,
      learning_rate=2e-3,
      warmup_steps=100,
      log_every=100,
      checkpoint_every=500,
    ),
    eval=EvalConfig(batch_size=1024, eval_every=num_steps // 4, select_metric="gauc/preference"),
  )


@register("reward_kuairand", "P-Score reward model on KuaiRand-Pure, split by day (AUC/GAUC per objective)")
def reward_kuairand() -> ExperimentConfig:
  """KuaiRand-Pure by day (train before 05-07, select on 05-07, test on 05-08), seven objectives and the
  preference. Measured 2026-12-02 (2,000 steps, 5 min; BENCHMARKS.md, every objective): test preference
  AUC 0.7024 / GAUC 0.6405 against the item rates' 0.6750 / 0.6171.

  python -m experiments.train --experiment=reward_kuairand --workdir=/tmp/reward_kuairand --data_dir=../shared/data
  """
  return _reward(DataConfig(dataset="kuairand_pure", min_history=1), num_steps=2000)


@register("reward_kuairand_tiny", "Seconds-long sibling of reward_kuairand (the tiny transform; 60 steps, 300 users)")
def reward_kuairand_tiny() -> ExperimentConfig:
  """`tiny(reward_kuairand())` (it cannot drift from its parent) with 60 steps and 300 evaluated users.
  A plumbing config for the tests on real data: no quality claim.

  python -m experiments.train --experiment=reward_kuairand_tiny --workdir=/tmp/rk_tiny --data_dir=../shared/data
  """
  config = tiny(reward_kuairand())
  config.train.num_steps, config.train.checkpoint_every, config.eval.max_users, config.eval.eval_every = 60, 30, 300, 30
  return config


@register("reward_synthetic", "P-Score reward model on the quickstart's simulated world (long view, like)")
def reward_synthetic() -> ExperimentConfig:
  """The quickstart's world, objectives long view and like. Measured 2026-12-02 (1,500 steps, 86 s;
  BENCHMARKS.md): test preference AUC 0.8305 / GAUC 0.7401 against the item rates' 0.7439 / 0.6874.

  python -m experiments.train --experiment=reward_synthetic --workdir=/tmp/reward_synthetic
  """
  return _reward(quickstart().data, num_steps=1500)


@register("reward_synthetic_tiny", "Seconds-long sibling of reward_synthetic (the tiny transform; 40 steps)")
def reward_synthetic_tiny() -> ExperimentConfig:
  """`tiny(reward_synthetic())` (the tiny world and widths; it cannot drift from its parent), 40 steps of
  32 so that the test's it-learned assertion (AUC above the item rates) holds. A test config: no quality
  claim beyond that assertion (tests/train/reward_test.py).

  python -m experiments.train --experiment=reward_synthetic_tiny --workdir=/tmp/rs_tiny
  """
  config = tiny(reward_synthetic())
  config.train.num_steps, config.train.batch_size, config.train.checkpoint_every = 40, 32, 20
  config.eval.eval_every = 20
  return config
