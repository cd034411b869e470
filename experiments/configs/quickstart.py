"""The quickstart: the whole OneRec chain on the built-in simulator, on a laptop.

Runbook:
  python -m experiments.train --experiment=quickstart --workdir=/tmp/onerec_quickstart
Expected on 2 CPU cores: about 6 minutes (measured, BENCHMARKS.md); Recall@10 about twice the most-popular
baseline's (0.1787 against 0.0927 on 2026-12-06; README.md and BENCHMARKS.md hold the measured figures). `quickstart_tiny` is the seconds-long sibling the tests run.

Also the OneRec model series (PAPER.md section 4) on a larger simulated world, one experiment per size,
for scaling runs on accelerators; `onerec_synthetic_tiny` is their CPU sibling (names: onerec_synthetic_<size>).
"""

from __future__ import annotations

from experiments.registry import Sweep, register, register_sweep, tiny
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
  """The whole chain on the simulator (3,000 users, 1,000 items; every encoder pathway): RQ-Kmeans 3 x 32,
  the report's one-target design, MoE decoder (4 experts, top-2), 1,000 steps. Measured 2026-11-28
  (commit 1f842f6, 2 CPU cores, quiet; BENCHMARKS.md "Quickstart"): test Recall@10 0.1773, NDCG@10 0.0862
  (most popular 0.0927 / 0.0426), the simulator's true engagement of the top 10 5.682 (oracle 7.595).
  Re-measured 2026-12-06 as the `all` row of quickstart_pathways (commit bc3992a): 0.1787 / 0.0869, 5.682.

  python -m experiments.train --experiment=quickstart --workdir=/tmp/onerec_quickstart
  """
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
  """The root of the tiny transform (experiments.registry.tiny takes its simulated world), so it is
  written out rather than derived. A plumbing config (2 steps): it makes no quality claim; what the tiny
  model learns is asserted by tests/train/learning_test.py (this config on a 400-user world, 150 steps,
  must beat most-popular by 1.2x; the test's recorded run: recall@10 0.27 against 0.19, 2026-12-01).

  python -m experiments.train --experiment=quickstart_tiny --workdir=/tmp/qs_tiny
  """
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


def _series_entry(size: str, name: str):
  """The registered function of one size of the series, with its own docstring."""

  def entry() -> ExperimentConfig:
    return _series(size)

  entry.__doc__ = f"""OneRec {size} (PAPER.md section 4 table; models.sizes.MODEL_SIZES[{size!r}]) on a 200k-user
  simulated world, batch 512, 20,000 steps. Accelerator-sized: not trained on the 2-core machine, so no
  quality claim. Measured here: compiled and sharded on an 8-device CPU mesh (experiments.aot_compile), its
  parameter counts (experiments.list --params), and the 0.015B training step's rate and MFU
  (experiments.benchmarks.train_bench); all in BENCHMARKS.md.

  python -m experiments.train --experiment={name} --workdir=/tmp/{name}
  """
  return entry


for _size in ("0.015B", "0.121B", "0.935B", "2.633B"):
  _name = "onerec_synthetic_" + _size.lower().replace(".", "")
  register(_name, f"OneRec {_size} (PAPER.md table) on a 200k-user simulated world")(_series_entry(_size, _name))


@register("onerec_synthetic_tiny", "CPU sibling of the onerec_synthetic_* series (the tiny transform of 2.633B)")
def onerec_synthetic_tiny() -> ExperimentConfig:
  """`tiny(onerec_synthetic_2633b())`: the largest size's structure (MoE in encoder and decoder, every
  pathway) at the tiny widths on the tiny world, with short windows so the sharding tests stay seconds.
  A plumbing config: no quality claim; its training step's rate is in BENCHMARKS.md (series table).

  python -m experiments.train --experiment=onerec_synthetic_tiny --workdir=/tmp/series_tiny
  """
  config = tiny(_series("2.633B"))
  config.model.short_len, config.model.positive_len, config.model.lifelong_len = 5, 4, 8
  return config


@register_sweep("quickstart_tiny_widths", "quickstart_tiny at four widths (the notebook's scaling example)")
def quickstart_tiny_widths() -> Sweep:
  """Four model widths of the tiny quickstart, 10 steps each: a seconds-long sweep to show the runner and
  the law fit (experiments.scaling_law) end to end; not a scaling measurement, so no result is claimed.

  python -m experiments.sweep --sweep=quickstart_tiny_widths --workdir=/tmp/tiny_widths
  """
  widths = {"d16": 16, "d32": 32, "d48": 48, "d64": 64}
  return Sweep(
    experiment="quickstart_tiny",
    base=("train.num_steps=10", "train.log_every=5", "eval.max_users=16"),
    runs={name: (f"model.d_model={d}", f"model.ffn_dim={2 * d}") for name, d in widths.items()},
    metrics=("recall@10", "ndcg@10"),
  )


@register_sweep(
  "quickstart_pathways",
  "quickstart with each encoder pathway off in turn (the simulator is the one dataset that feeds all four)",
)
def quickstart_pathways() -> Sweep:
  """The encoder pathway ablation (PAPER.md section 2): the registered quickstart (static + short 20 +
  positive 32 + lifelong 64 through the QFormer) against each pathway off: the static token replaced by a
  learned start token, no positive-feedback pathway, no lifelong pathway. The short pathway cannot be off
  (it is the recent history every design needs), so its row cuts it to the last item. A second seed of the
  full model gives the size of the noise. Measured 2026-12-06 (commit bc3992a; test Recall@10 / NDCG@10 /
  held-out loss): all 0.1787 / 0.0869 / 1.3873, all_seed1 0.1817 / 0.0887 / 1.3806, static_off 0.1833 /
  0.0898 / 1.3808, positive_off 0.1900 / 0.0925 / 1.3794, lifelong_off 0.1890 / 0.0924 / 1.3815, short_1
  0.1727 / 0.0832 / 1.3939: only the short pathway carries signal on this world (BENCHMARKS.md).

    python -m experiments.sweep --sweep=quickstart_pathways --workdir=~/runs/pathways
  """
  return Sweep(
    experiment="quickstart",
    runs={
      "all": (),
      "all_seed1": ("train.seed=1",),
      "static_off": ("model.static_pathway=off",),
      "positive_off": ("model.positive_len=0",),
      "lifelong_off": ("model.lifelong_len=0",),
      "short_1": ("model.short_len=1",),
    },
    metrics=("recall@10", "ndcg@10", "heldout_loss/per_token"),
  )


@register(
  "scaling_synthetic",
  "The scaling sweeps' base: dense 2+2 layers on a 50k-user simulated world (1,000 steps, no epoch)",
)
def scaling_synthetic() -> ExperimentConfig:
  """A world large enough that no run sees a user twice: 50,000 users (about 1.7M next-item targets)
  against 1,000 steps x 128 = 128k examples, so the loss measures learning, not memorisation. The
  held-out loss (nats per semantic-ID token on 2,000 valid/test users) is evaluated every 250 steps for
  the compute form L(C). Measured as the rows of scaling_synthetic_sizes (each this config at another
  width; BENCHMARKS.md "Scaling laws"): at d 64 with feed-forward 256 (this config has 128) test held-out
  loss 1.3848 nats per token, Recall@10 0.1920, NDCG@10 0.0930 (2026-12-02, commit 999957e).

  python -m experiments.train --experiment=scaling_synthetic --workdir=/tmp/scaling_synthetic
  """
  return ExperimentConfig(
    data=DataConfig(simulator=SimulatorConfig(num_users=50_000, num_items=1000, seed=0)),
    tokenizer=TokenizerConfig(num_levels=3, codebook_size=32, num_iters=20),
    model=model_config("quickstart", num_experts=0),
    train=TrainConfig(
      batch_size=128, num_steps=1000, learning_rate=3e-3, warmup_steps=100, log_every=100, checkpoint_every=250
    ),
    eval=EvalConfig(num_beams=20, ks=(5, 10), batch_size=250, max_users=2000, eval_every=250),
  )


def _width(d: int) -> tuple[str, ...]:
  """A dense width: d_model d, feed-forward 4d, heads of 16 (at most 8 heads)."""
  return (f"model.d_model={d}", f"model.ffn_dim={4 * d}", f"model.num_heads={min(max(d // 16, 1), 8)}")


@register_sweep(
  "scaling_synthetic_sizes", "Dense widths 8..256 (11k..6.2M non-embedding parameters) and MoE at equal activated"
)
def scaling_synthetic_sizes() -> Sweep:
  """L(N) and L(C) on the simulator (issue 12): dense widths 8..128 (11k..1.6M non-embedding parameters,
  143x) at a fixed token budget (1,000 steps x 128 examples), MoE decoders of 4 experts, top-1, at the
  activated size of two of them, and last the costliest, width 256 (6.2M). The held-out loss every 250
  steps gives the compute frontier.

    python -m experiments.sweep --sweep=scaling_synthetic_sizes --workdir=~/runs/scaling
    python -m experiments.scaling_law --table=~/runs/scaling/sweep.json --x=params_non_embedding \\
        --y=heldout_loss/per_token --out=experiments/results/scaling_synthetic.png --compute \\
        --fit_runs=d8,d16,d32,d64,d128

  Measured (BENCHMARKS.md): L(N) = 1.354 + 1.17e3 / N^0.811 over the dense rows; the MoE rows lie on it
  (held-out loss within 0.003 nats of the dense run of the same activated size).
  """
  dense = {f"d{d}": _width(d) for d in (8, 16, 32, 64, 128)}
  moe = {f"moe_d{d}_4e_top1": (*_width(d), "model.num_experts=4", "model.num_experts_per_token=1") for d in (32, 128)}
  return Sweep(
    experiment="scaling_synthetic",
    runs={**dense, **moe, "d256": _width(256)},
    metrics=("heldout_loss/per_token", "recall@10", "ndcg@10"),
  )


@register_sweep("quickstart_dtypes", "quickstart for 300 steps in float32, bfloat16, and float32 with another seed")
def quickstart_dtypes() -> Sweep:
  """bfloat16 compute (float32 master weights) against float32 on the quickstart: the loss curves and the
  held-out loss, with a second float32 seed as the size of the noise. Measured 2026-12-02 (commit 84112e1,
  BENCHMARKS.md): held-out loss 1.4843 (float32) / 1.4832 (bfloat16) / 1.4718 (float32, seed 1) nats per
  ID token, Recall@10 0.1557 / 0.1473 / 0.1593: bfloat16 matches float32 within the seeds' noise.

    python -m experiments.sweep --sweep=quickstart_dtypes --workdir=~/runs/dtypes
    python -m experiments.plot_curves --runs=f32=~/runs/dtypes/float32,bf16=~/runs/dtypes/bfloat16,\\
f32_seed1=~/runs/dtypes/float32_seed1 --tags=train/loss --out=experiments/results/quickstart_dtypes.png
  """
  return Sweep(
    experiment="quickstart",
    base=("train.num_steps=300", "train.log_every=20", "train.checkpoint_every=100"),
    runs={
      "float32": ("model.dtype=float32",),
      "bfloat16": ("model.dtype=bfloat16",),
      "float32_seed1": ("model.dtype=float32", "train.seed=1"),
    },
    metrics=("heldout_loss/per_token", "recall@10", "ndcg@10"),
  )
