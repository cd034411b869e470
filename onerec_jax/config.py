"""The experiment config: one typed dataclass per subsystem, composed and cross-validated."""

from __future__ import annotations

import dataclasses

from onerec_jax.evaluation.config import EvalConfig
from onerec_jax.input.config import DataConfig
from onerec_jax.models.config import ModelConfig
from onerec_jax.models.reward import RewardConfig
from onerec_jax.models.sasrec import SasrecConfig
from onerec_jax.rl.config import RLConfig
from onerec_jax.tokenizer.config import TokenizerConfig
from onerec_jax.train.config import TrainConfig


@dataclasses.dataclass(kw_only=True)
class ExperimentConfig:
  """Everything one run needs; `--config.<subsystem>.<field>=value` overrides any leaf."""

  name: str = ""  # registered experiment name
  description: str = ""  # one line, shown by `python -m experiments.list`
  family: str = "onerec"  # model family (onerec_jax.train.families): 'onerec' | 'sasrec' | 'reward' | 'ecpo'
  data: DataConfig = dataclasses.field(default_factory=DataConfig)
  tokenizer: TokenizerConfig = dataclasses.field(default_factory=TokenizerConfig)  # onerec only
  model: ModelConfig = dataclasses.field(default_factory=ModelConfig)  # onerec only
  sasrec: SasrecConfig = dataclasses.field(default_factory=SasrecConfig)  # sasrec only
  reward: RewardConfig = dataclasses.field(default_factory=RewardConfig)  # reward (P-Score) only
  rl: RLConfig = dataclasses.field(default_factory=RLConfig)  # ecpo only (data, tokenizer, model: init_from's)
  train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
  eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)

  def validate(self) -> "ExperimentConfig":
    """Validates every part the family uses and the cross-part constraints; returns self."""
    from onerec_jax.train.families import family_names  # late: the families import this module

    if self.family not in family_names():
      raise ValueError(f"family={self.family!r} is unknown; known: {family_names()}")
    self.data.validate()
    self.train.validate()
    self.eval.validate()
    if self.family in ("sasrec", "reward") and self.eval.level_temperatures:
      raise ValueError(f"eval.level_temperatures is a decoding choice: family {self.family!r} does not decode")
    if self.family == "sasrec":
      self.sasrec.validate()
      return self
    if self.family == "reward":
      self.reward.validate()
      return self
    if self.family == "ecpo":
      self.rl.validate()
    self.tokenizer.validate()
    self.model.validate()
    levels = self.tokenizer.id_length
    if self.eval.level_temperatures and len(self.eval.level_temperatures) != levels:
      raise ValueError(
        f"eval.level_temperatures has {len(self.eval.level_temperatures)} values; the semantic IDs have {levels}"
        f" levels (tokenizer.num_levels={self.tokenizer.num_levels}, dedup={self.tokenizer.dedup!r})"
      )
    if self.data.dataset == "synthetic":
      sim = self.data.simulator
      if self.tokenizer.codebook_size > sim.num_items:
        raise ValueError(
          f"tokenizer.codebook_size={self.tokenizer.codebook_size} exceeds the catalogue "
          f"(data.simulator.num_items={sim.num_items})"
        )
    return self
