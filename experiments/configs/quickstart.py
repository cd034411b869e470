"""The quickstart: the whole OneRec chain on the built-in simulator, on a laptop.

Runbook:
  python -m experiments.train --experiment=quickstart --workdir=/tmp/onerec_quickstart
Expected on 2 CPU cores: about 6 minutes (measured, BENCHMARKS.md); Recall@10 several times the most-popular baseline's (see
README.md for the measured figures). `quickstart_tiny` is the seconds-long sibling the tests run.

Also the OneRec model series (PAPER.md section 4) on a larger simulated world, one experiment per size,
for scaling runs on accelerators; `onerec_synthetic_tiny` is their CPU sibling (names: onerec_synthetic_<size>).
"""

from __future__ import annotations

from experiments.registry import Sweep, register, register_sweep
from onerec_jax.config import ExperimentConfig
from onerec_jax.evaluation.config import EvalConfig
from onerec_jax.input.config import DataConfig
from onerec_jax.input.simulator import SimulatorConfig
from onerec_jax.models.sizes import model_config
from onerec_jax.tokenizer.config import TokenizerConfig
from onerec_jax.train.config import TrainConfig


@register(
  "quickstart", "Whole chain on the simulator (3,000 users, 1,000 items): RQ-Kmeans 3x32, MoE model, ~6 min on 2 CPUs"
)
def quickstart() -> ExperimentConfig:
  return ExperimentConfig(
    data=DataConfig(simulator=SimulatorConfig(num_users=3000, num_items=1000, seed=0)),
    tokenizer=TokenizerConfig(num_levels=3, codebook_size=32, num_iters=20),
    model=model_config("quickstart"),
    train=TrainConfig(
      batch_size=128, num_steps=1000, learning_rate=3e-3, warmup_steps=100, log_every=100, checkpoint_every=250
    ),
    eval=EvalConfig(num_beams=20, ks=(5, 10), batch_size=250),
  )


@register("quickstart_tiny", "Seconds-long sibling of quickstart for tests: 2 train steps on a tiny world")
def quickstart_tiny() -> ExperimentConfig:
  return ExperimentConfig(
    data=DataConfig(
      simulator=SimulatorConfig(
        num_users=64, num_items=60, num_categories=5, num_authors=10, min_history=8, max_history=16, seed=0
      )
    ),
    tokenizer=TokenizerConfig(num_levels=2, codebook_size=8, num_iters=5),
    model=model_config(
      "tiny", num_experts=2, num_experts_per_token=1, short_len=5, positive_len=4, lifelong_len=8, lifelong_queries=2
    ),
    train=TrainConfig(batch_size=16, num_steps=2, warmup_steps=1, log_every=1, checkpoint_every=1),
    eval=EvalConfig(num_beams=10, ks=(5, 10), batch_size=32, max_users=32),
  )


def _series(size: str) -> ExperimentConfig:
  return ExperimentConfig(
    data=DataConfig(
      simulator=SimulatorConfig(
        num_users=200_000, num_items=50_000, num_categories=200, num_authors=5000, max_history=256, seed=0
      )
    ),
    tokenizer=TokenizerConfig(num_levels=3, codebook_size=256, num_iters=20),
    model=model_config(
      size, short_len=20, positive_len=64, lifelong_len=256, lifelong_queries=32, lifelong_layers=2, embed_dim=64
    ),
    train=TrainConfig(batch_size=512, num_steps=20_000, learning_rate=1e-3, warmup_steps=1000),
    eval=EvalConfig(num_beams=32, ks=(5, 10, 32), max_users=20_000),
  )


for _size in ("0.015B", "0.121B", "0.935B", "2.633B"):
  _name = "onerec_synthetic_" + _size.lower().replace(".", "")
  register(_name, f"OneRec {_size} (PAPER.md table) on a 200k-user simulated world")(lambda size=_size: _series(size))


@register("onerec_synthetic_tiny", "CPU sibling of the onerec_synthetic_* series (tiny model, tiny world)")
def onerec_synthetic_tiny() -> ExperimentConfig:
  config = quickstart_tiny()
  config.model = model_config(
    "tiny",
    num_experts=4,
    num_experts_per_token=2,
    encoder_moe=True,
    short_len=5,
    positive_len=4,
    lifelong_len=8,
    lifelong_queries=2,
  )
  return config


@register_sweep("quickstart_tiny_widths", "quickstart_tiny at four widths (the notebook's scaling example)")
def quickstart_tiny_widths() -> Sweep:
  """Four model widths of the tiny quickstart, 10 steps each: a seconds-long sweep to show the runner and
  the law fit (experiments.scaling_law) end to end; not a scaling measurement."""
  widths = {"d16": 16, "d32": 32, "d48": 48, "d64": 64}
  return Sweep(
    experiment="quickstart_tiny",
    base=("train.num_steps=10", "train.log_every=5", "eval.max_users=16"),
    runs={name: (f"model.d_model={d}", f"model.ffn_dim={2 * d}") for name, d in widths.items()},
    metrics=("recall@10", "ndcg@10"),
  )
