r"""OneRec on the real datasets, under the published protocols (../shared/PROTOCOLS.md).

Runbook (2 CPU cores; measured figures in BENCHMARKS.md and experiments/results/onerec_*.json):
  python -m experiments.train --experiment=onerec_beauty --workdir=/tmp/onerec_beauty --data_dir=../shared/data
    TIGER protocol: Amazon Beauty leave-one-out, history <= 20 items, every training position a target,
    full-catalogue ranking by beam search, history not excluded. Semantic IDs: RQ-Kmeans 3 x 256 + one
    disambiguation token over all-MiniLM-L6-v2 embeddings of the item text (needs the `tokenizer-text`
    extra; any other category: --config.data.dataset=amazon_<category>, the recipe unchanged).
    No user-id token and no raw item-id table (static pathway off, model.use_item_id_embedding=false: the
    id tables are what the model memorised), 8,000 steps, the step picked by valid Recall@10. Targets:
    TIGER Recall@10 0.0648 / NDCG@10 0.0384. Measured 2026-12-06/07 (2 cores, 83-138 min wall per seed,
    shared): test Recall@10 / NDCG@10 over seeds 0-2 0.0662 ± 0.0006 / 0.0358 ± 0.0007 (102% / 93% of
    TIGER; Recall@5 0.0423, NDCG@5 0.0281; most-popular Recall@10 0.0114). On the 4,000 steps registered
    until 2026-12-07 (commits b58905a / 09a1a34): 0.0641 ± 0.0011 / 0.0341 ± 0.0005 (99% / 89%).
    With the item-id table (the recipe until 2026-12-06): 0.0579 ± 0.0023 / 0.0312 ± 0.0014 (89% / 81%);
    with the user-id token as well (onerec_beauty_user_token, 2,000 steps) 0.0445 / 0.0217 (BENCHMARKS.md).
  python -m experiments.train --experiment=onerec_ml1m --workdir=/tmp/onerec_ml1m --data_dir=../shared/data
    HSTU protocol: ML-1M leave-one-out, history <= 200, the items of that input window excluded from the
    ranking (as HSTU's code and our SASRec; the beam of 256 is wide enough to fill K after exclusion for
    the share reported as filled_k_rate), HR/NDCG@10/50/200.
    Semantic IDs: RQ-Kmeans 3 x 256 + one token over collaborative item vectors (since 2026-12-03; the
    text IDs gave 16% less). Targets: SASRec HR@10 0.2853 / NDCG@10 0.1603. Measured 2026-12-02 (2 cores,
    4,000 steps = 11.4 epochs, 78 min wall, commit ad9ad08): test HR@10 0.2396, NDCG@10 0.1312, HR@50
    0.4834, HR@200 0.6967 (most-popular HR@10 0.0339): short of SASRec (84% / 82%; BENCHMARKS.md). With
    the text IDs (the recipe until 2026-12-03, `--config.tokenizer.item_vectors=content`): 0.2065 / 0.1131.
    At 10,000 steps (onerec_ml1m_headline, row ids_collaborative_10k, 2026-12-06): 0.2598 / 0.1442 (91% / 90%).
    At 16,000 steps (row ids_collaborative_long, 2026-12-06): 0.2687 / 0.1486 (94% / 93%).
Both train with the multi-target design (model.targets_per_window: a causal encoder over the history
window, one encoder pass for m targets); `--config.model.targets_per_window=0` is the report's design (one
encoder pass per target). `onerec_beauty_tiny` / `onerec_ml1m_tiny` are minutes-long siblings on the same
data, derived by the `tiny` transform (experiments.registry.tiny) so that they cannot drift.
"""

from __future__ import annotations

from experiments.registry import Sweep, register, register_sweep, tiny
from onerec_jax.config import ExperimentConfig
from onerec_jax.evaluation.config import EvalConfig
from onerec_jax.input.config import DataConfig
from onerec_jax.models.sizes import model_config
from onerec_jax.tokenizer.config import TokenizerConfig
from onerec_jax.train.config import TrainConfig


def _beauty(static_pathway: str, num_steps: int) -> ExperimentConfig:
  return ExperimentConfig(
    data=DataConfig(dataset="amazon_beauty", min_history=1),
    tokenizer=TokenizerConfig(num_levels=3, codebook_size=256, item_vectors="content"),
    # No positive pathway (the S3-Rec copy has no ratings: every interaction is positive, so it would
    # repeat the short window); histories are short (mean 8.9), so no lifelong pathway.
    model=model_config(
      "beauty",
      short_len=20,
      positive_len=0,
      lifelong_len=0,
      targets_per_window=10,
      dropout_rate=0.1,
      embed_dim=64,
      static_pathway=static_pathway,
    ),
    train=TrainConfig(
      batch_size=128, num_steps=num_steps, learning_rate=2e-3, warmup_steps=200, log_every=100, checkpoint_every=500
    ),
    eval=EvalConfig(num_beams=20, ks=(5, 10), batch_size=256, protocol="tiger"),
  )


@register("onerec_beauty", "OneRec on Amazon Beauty, TIGER protocol (Recall/NDCG@5/10), text semantic IDs")
def onerec_beauty() -> ExperimentConfig:
  """The static pathway is off (a learned start token instead of the user id: Amazon has no user
  features, and a per-user table of 22,363 rows, each trained on ~5 targets, is what the model memorised),
  and since 2026-12-06 no raw item-id embeddings either: items enter the encoder as their semantic IDs,
  category and author only, as TIGER (a 12,101-row id table, ~16 targets per row, memorised too). Only the
  rows that hold targets are decoded (model.target_capacity 0.65: no target is dropped, 1.27x the step
  rate). Since 2026-12-07 8,000 steps (38.3 epochs of windows), evaluated every 2,000, the reported step
  picked by valid Recall@10. Measured as the headline sweep's no_item_id_8k rows (the same config; commits
  878c2ef / f1cbc82 / 3d7a144, 83-138 min each on 2 shared cores): test Recall@10 / NDCG@10 seed 0 0.0656 /
  0.0351, seed 1 0.0663 / 0.0359, seed 2 0.0668 / 0.0365, each at step 6,000; over the three 0.0662 ± 0.0006
  / 0.0358 ± 0.0007 (TIGER 0.0648 / 0.0384: 102% / 93%; Recall@5 0.0423, NDCG@5 0.0281;
  experiments/results/onerec_beauty_no_item_id_8k_seeds.json). On 4,000 steps (2026-12-06 to 2026-12-07,
  one evaluation at the end), measured 2026-12-06 as the `no_item_id` rows of
  onerec_beauty_headline (the same config; commits b58905a / 09a1a34, 35-40 min each on 2 cores: seed 0
  beside another run, seeds 1 and 2 side by side): test Recall@10 / NDCG@10 seed 0 0.0629 / 0.0335, seed 1 0.0642 / 0.0342, seed 2 0.0652 /
  0.0346, over the three 0.0641 ± 0.0011 / 0.0341 ± 0.0005 (TIGER 0.0648 / 0.0384: 99% / 89%; Recall@5
  0.0406, NDCG@5 0.0266; experiments/results/onerec_beauty_no_item_id_seeds.json). With the item-id
  table (the recipe until 2026-12-06, commit a55be40 and the headline sweep's seed rows): 0.0579 ± 0.0023 /
  0.0312 ± 0.0014 (89% / 81%); at 2,000 steps 0.0527 / 0.0265. Decoding keeps the model's distribution:
  per-level temperatures tuned on valid (experiments.tune_decoding on seed 2, 2026-12-07) were flat within 3%,
  the best (1.25 at every level) +1.0% / +0.9% on test. Semantic IDs from aligned vectors on this schedule
  (the headline sweep's no_item_id_8k_ids_aligned rows, three seeds, 2026-12-07): 0.0661 ± 0.0018 / 0.0360 ±
  0.0008, level with these content IDs, so the recipe keeps them.

  python -m experiments.train --experiment=onerec_beauty --workdir=/tmp/onerec_beauty --data_dir=../shared/data
  """
  config = _beauty("off", num_steps=8000)
  config.model.use_item_id_embedding, config.model.target_capacity = False, 0.65
  config.eval.eval_every, config.eval.select_metric = 2000, "recall@10"
  return config


@register(
  "onerec_beauty_user_token",
  "onerec_beauty with the user-id token (the recipe until 2026-12-02; the ablation sweep's base)",
)
def onerec_beauty_user_token() -> ExperimentConfig:
  """Static token = the user id. Measured (2,000 steps, commit 323bcab, 34 min on 2 shared cores): test
  Recall@10 0.0445, NDCG@10 0.0217, Recall@5 0.0262, NDCG@5 0.0158 (the `base` row of
  onerec_beauty_ablations).

  python -m experiments.train --experiment=onerec_beauty_user_token --workdir=/tmp/ut --data_dir=../shared/data
  """
  return _beauty("all", num_steps=2000)


@register("onerec_beauty_tiny", "Minutes-long sibling of onerec_beauty (the tiny transform; 2,000 steps, every user)")
def onerec_beauty_tiny() -> ExperimentConfig:
  """`tiny(onerec_beauty())` (experiments.registry.tiny: it cannot drift from its parent), trained long
  enough to learn: 2,000 steps, every test user. Measured 2026-12-06 with the parent's recipe since that day
  (no item-id table; 142 s on 2 cores beside a training run): test Recall@10 0.0197 / NDCG@10 0.0096 against
  most-popular's 0.0114 / 0.0053 (22,363 users); with the item-id table (commit bc3992a): 0.0188 / 0.0094.
  At the 200 steps it had before: 0.0065 against 0.0070 (2,000 users): below most-popular.

  python -m experiments.train --experiment=onerec_beauty_tiny --workdir=/tmp/ob_tiny --data_dir=../shared/data
  """
  config = tiny(onerec_beauty())
  config.train.num_steps, config.train.checkpoint_every, config.eval.max_users = 2000, 1000, 0
  config.eval.eval_every, config.eval.select_metric = 0, ""  # one evaluation, at the end, as measured
  return config


@register("onerec_ml1m", "OneRec on ML-1M, HSTU protocol (HR/NDCG@10/50/200, history excluded)")
def onerec_ml1m() -> ExperimentConfig:
  """Multi-target causal encoder over the last 200 items (50 targets per window), 2+2 layers d 64, static
  gender / age / occupation + user id, RQ-Kmeans 3 x 256 + 1 over collaborative item vectors, beam 256,
  HSTU's 200-item window excluded. Measured 2026-12-02 as the `ids_collaborative` row of
  onerec_ml1m_headline (the same config; commit ad9ad08, 4,000 steps = 11.4 epochs, 78 min on 2 cores,
  part of it shared): test HR@10 0.2396, NDCG@10 0.1312, HR@50 0.4834, HR@200 0.6967 (SASRec published:
  0.2853 / 0.1603, 84% / 82%; most-popular HR@10 0.0339; metrics JSON
  experiments/results/onerec_ml1m_collaborative_metrics.json). Until 2026-12-03 the recipe quantised the
  movie text (titles, genres): 0.2065 / 0.1131 (commit 403122a, experiments/results/onerec_ml1m_metrics.json);
  semantic IDs from collaborative vectors were +23% at 1,500 steps (onerec_ml1m_ablations) and +16% at
  4,000 (ML-1M has ~270 interactions per item and little text). On a 5,000-step schedule (the
  `ids_collaborative_5k` row, 2026-12-03): 0.2475 / 0.1364 (87% / 85%); on a 10,000-step schedule (the
  `ids_collaborative_10k` row, 2026-12-06, 131 min, 28 epochs): 0.2598 / 0.1442 (91% / 90%; our own SASRec
  0.2770 / 0.1564; metrics JSON experiments/results/onerec_ml1m_collaborative_10k_metrics.json); on a
  16,000-step schedule (`ids_collaborative_long`, 2026-12-06, 45 epochs): 0.2687 / 0.1486 (94% / 93%; metrics JSON
  experiments/results/onerec_ml1m_collaborative_long_metrics.json).

  python -m experiments.train --experiment=onerec_ml1m --workdir=/tmp/onerec_ml1m --data_dir=../shared/data
  """
  return ExperimentConfig(
    data=DataConfig(dataset="ml1m", min_history=1),
    tokenizer=TokenizerConfig(num_levels=3, codebook_size=256, item_vectors="collaborative"),
    # Static: gender, age, occupation (+ user id). The shared copy has no ratings (every interaction is
    # positive), so no positive pathway; short: the last 200 items (the protocol's history), causal, the
    # last 50 positions are targets.
    model=model_config(
      "ml1m", short_len=200, positive_len=0, lifelong_len=0, targets_per_window=50, dropout_rate=0.2, embed_dim=32
    ),
    train=TrainConfig(
      batch_size=64, num_steps=4000, learning_rate=2e-3, warmup_steps=200, log_every=100, checkpoint_every=500
    ),
    # HSTU's protocol excludes the 200-item history window, also where a row reads a shorter short window.
    eval=EvalConfig(
      num_beams=256, ks=(10, 50, 200), batch_size=64, protocol="hstu", exclude="window", exclude_window=200
    ),
  )


@register("onerec_ml1m_long", "onerec_ml1m trained 4x longer (16,000 steps, 45 epochs), evaluated every 2,000 steps")
def onerec_ml1m_long() -> ExperimentConfig:
  """The longer variant beside onerec_ml1m: the 4,000-step run (11 epochs) ended with its train loss still
  falling, where our SASRec trains 89 epochs; ~5 h with both cores to itself (1.15 s per step,
  2026-12-03), so it resumes across sessions. The reported step is the one with the best valid HR@10
  (eval.select_metric). With the text IDs (not measured to its end) (the parent's recipe until
  2026-12-03) it was started 2026-12-02 (commit bdca657) and paused at step 2,000 (test HR@10 0.1788
  there). With collaborative IDs it is the `ids_collaborative_long` row of onerec_ml1m_headline,
  measured 2026-12-06 (commit a0519f5, about 3 h 25 min): test HR@10 / NDCG@10 0.2687 / 0.1486 (94% / 93%).

  python -m experiments.train --experiment=onerec_ml1m_long --workdir=~/runs/onerec_ml1m_long \
      --data_dir=../shared/data
  """
  config = onerec_ml1m()
  config.train.num_steps, config.train.checkpoint_every = 16000, 500
  config.eval.eval_every, config.eval.select_metric = 2000, "hr@10"
  return config


@register("onerec_ml1m_tiny", "Minutes-long sibling of onerec_ml1m (the tiny transform; 3,000 steps, beam 256)")
def onerec_ml1m_tiny() -> ExperimentConfig:
  """`tiny(onerec_ml1m())`: the parent's protocol, exclusion and design at the tiny widths; 3,000 steps,
  every user, and the parent's beam of 256 (the tiny transform's narrow beam cannot fill the lists once
  the 200-item window is excluded: at 100 steps and its beam 1.4% of the lists were full). Measured
  2026-12-06 (commit bc3992a with these settings as overrides, 86 s on 2 cores beside a training run):
  test HR@10 0.0914 / NDCG@10 0.0451 / HR@200 0.5273 against most-popular's 0.0339 / 0.0165 / 0.3253
  (6,040 users; lists filled for 89%). At the 100 steps and beam it had before: 0.0040 against 0.0300
  (500 users).

  python -m experiments.train --experiment=onerec_ml1m_tiny --workdir=/tmp/om_tiny --data_dir=../shared/data
  """
  config = tiny(onerec_ml1m())
  config.train.num_steps, config.train.checkpoint_every, config.eval.max_users = 3000, 1000, 0
  config.eval.num_beams = onerec_ml1m().eval.num_beams
  return config


@register_sweep(
  "onerec_beauty_ablations",
  "onerec_beauty ablations at 2,000 steps: static pathway, item-id "
  "embeddings, dropout, MoE, ID vectors, RQ-VAE, the report's design, beam width",
)
def onerec_beauty_ablations() -> Sweep:
  """The issue-9 ablation rows on Beauty, each against `base` (onerec_beauty_user_token: the rows were
  started before the registered recipe dropped the user-id token, which is the `static_off` row).
  Measured 2026-12-02 (test Recall@10 / NDCG@10, one seed each; table in
  experiments/results/onerec_beauty_ablations.json): base 0.0445 / 0.0217; beam 10 / 50 0.0423 / 0.0451
  Recall@10; static_off 0.0527 / 0.0265; no_item_id 0.0403 / 0.0197; dropout_03 0.0363 / 0.0174;
  static_off_dropout_03 0.0441 / 0.0223; moe_4e_top1 0.0441 / 0.0220; ids_aligned 0.0464 / 0.0230;
  ids_collaborative 0.0427 / 0.0206; ids_rq_vae 0.0443 / 0.0228; report_design 0.0461 / 0.0234.
  static_off_no_item_id has not run.

  python -m experiments.sweep --sweep=onerec_beauty_ablations --workdir=~/runs/beauty_ablations \
      --data_dir=../shared/data
  """
  return Sweep(
    experiment="onerec_beauty_user_token",
    base=("train.num_steps=2000", "train.checkpoint_every=500"),
    runs={
      "base": (),
      "beam_10": ("eval.num_beams=10",),
      "beam_50": ("eval.num_beams=50",),
      "static_off": ("model.static_pathway=off",),  # no user-id token: a learned start token
      # Memorisation: the encoder without raw item-id embeddings (semantic IDs, category, author
      # only, as TIGER), and stronger dropout.
      "no_item_id": ("model.use_item_id_embedding=false",),
      "dropout_03": ("model.dropout_rate=0.3",),
      # The regularisers together, from the best single row (static_off).
      "static_off_no_item_id": ("model.static_pathway=off", "model.use_item_id_embedding=false"),
      "static_off_dropout_03": ("model.static_pathway=off", "model.dropout_rate=0.3"),
      # Equal activated parameters: 4 experts of the dense width (512), one per token.
      "moe_4e_top1": ("model.num_experts=4", "model.num_experts_per_token=1"),
      "ids_aligned": ("tokenizer.item_vectors=aligned",),
      "ids_collaborative": ("tokenizer.item_vectors=collaborative",),
      "ids_rq_vae": ("tokenizer.method=rq_vae",),
      # The report's one-encoder-pass-per-target design at about the base's wall time (0.39 s per
      # step against 1.04 s measured side by side in onerec_beauty_design_bench.json).
      "report_design": ("model.targets_per_window=0", "train.num_steps=5000"),
    },
    evaluate_from={"beam_10": "base", "beam_50": "base"},
    metrics=("recall@5", "ndcg@5", "recall@10", "ndcg@10"),
  )


@register_sweep(
  "onerec_beauty_headline",
  "onerec_beauty (no user-id token): seeds 1 and 2, the TIGER peer's size, no item ids, aligned IDs, hashed user ids, a parameter average, 10k steps",
)
def onerec_beauty_headline() -> Sweep:
  """The registered Beauty recipe's seeds (seed 0 is the registered run in BENCHMARKS.md) and the next
  attempts at the TIGER gap, each at the registered 4,000 steps: TIGER's size (4+4 layers, 6 heads of 64,
  feed-forward 1024; bfloat16 compute, where this CPU trains it 1.4x faster), and the semantic IDs alone as
  the encoder's item input; TIGER's hashed user token; the report's one-target design at equal wall time;
  10,000 steps in bfloat16. Measured 2026-12-02 (test Recall@10 / NDCG@10; the registered run, seed 0:
  0.0554 / 0.0299): seed_1 0.0600 / 0.0327, seed_2 0.0583 / 0.0311 (over the three seeds 0.0579 ± 0.0023 /
  0.0312 ± 0.0014), report_design_10k 0.0529 / 0.0283, long_bf16 0.0566 / 0.0318 at its picked step 4,000
  (valid Recall@10 peaks there and falls by step 10,000: it overfits); ema_0999 (2026-12-06, commit f41a76a,
  46 min shared) 0.0578 / 0.0316 and ids_aligned (same commit, 48 min shared) 0.0582 / 0.0313, both level
  with the seeds' mean; constant_lr (commit 03b3e03, 18 min) 0.0553 / 0.0303, no gain; user_hash_2000
  (commit c756bbe, 34 min shared) 0.0551 / 0.0298, at seed 0's level; **no_item_id** (commit b58905a, 40 min
  shared) 0.0629 / 0.0335, no_item_id_seed_1 / _seed_2 (commit 09a1a34, 35 min each side by side) 0.0642 /
  0.0342 and 0.0652 / 0.0346: over the three 0.0641 ± 0.0011 / 0.0341 ± 0.0005 (+11% / +9%; 99% / 89% of
  TIGER), the registered recipe since 2026-12-06; no_item_id_8k (commit 878c2ef, 83 min, part shared) 0.0656 /
  0.0351 at the step valid picked, 6,000 (seed 0 at 4,000 steps: 0.0629 / 0.0335; valid Recall@10 0.0678 /
  0.0856 / 0.0893 / 0.0877 at steps 2,000-8,000): +4% / +5% on one seed; no_item_id_8k_seed_1 (commit f1cbc82,
  138 min shared) 0.0663 / 0.0359, also at step 6,000; no_item_id_8k_seed_2 (commit 3d7a144, 124 min shared)
  0.0668 / 0.0365, also at step 6,000: over the three 0.0662 ± 0.0006 / 0.0358 ± 0.0007 (102% / 93% of
  TIGER), the registered recipe since 2026-12-07; no_item_id_8k_ids_aligned (commit 475c403, 105 min shared)
  0.0673 / 0.0367 at its picked step 8,000; its seeds 1 and 2 (commits dfd8eb7 / d7c387d, 126 and 108 min side
  by side) 0.0641 / 0.0351 and 0.0669 / 0.0363, each at step 6,000: over the three 0.0661 ± 0.0018 / 0.0360 ±
  0.0008, level with the content IDs (experiments/results/onerec_beauty_no_item_id_8k_ids_aligned_seeds.json);
  no_item_id_tiger_size (commit 878c2ef, 71 min, 1.2 steps/s alone, bfloat16) 0.0643 / 0.0341: level with the
  small model's three-seed mean, so capacity is not what is short at 4,000 steps; tiger_size not run. The mean
  and spread over seeds: experiments.seed_spread.

  python -m experiments.sweep --sweep=onerec_beauty_headline --workdir=~/runs/beauty_headline \
      --data_dir=../shared/data
  """
  tiger_size = (
    "model.num_encoder_layers=4",
    "model.num_decoder_layers=4",
    "model.num_heads=6",
    "model.head_dim=64",
    "model.ffn_dim=1024",
    "model.dtype=bfloat16",
  )
  # The registered recipe since 2026-12-06 on top of the pinned base below.
  no_item_id = ("model.use_item_id_embedding=false", "model.target_capacity=0.65")
  eight_k = ("train.num_steps=8000", "eval.eval_every=2000", "eval.select_metric=recall@10")
  # The rows without a schedule of their own ran on the registered 4,000 steps, one evaluation at the end
  # (the recipe until 2026-12-07): pinned below, so that they stay reproducible as run.
  four_k = ("train.num_steps=4000", "eval.eval_every=0", "eval.select_metric=")
  return Sweep(
    experiment="onerec_beauty",
    # The rows ran on the registered recipe until 2026-12-06 (with the item-id table, every slot decoded):
    # pinned, so that they stay reproducible as run; the no_item_id rows are the registered recipe since.
    base=("train.checkpoint_every=500", "model.use_item_id_embedding=true", "model.target_capacity=0"),
    runs=_pin_schedule(
      four_k,
      {
        "seed_1": ("train.seed=1",),
        "seed_2": ("train.seed=2",),
        "tiger_size": tiger_size,
        # The encoder without raw item-id embeddings (semantic IDs, category, author only, as TIGER): the
        # user-id token's removal was +18%, so a second memorising table may cost too (with the token it did
        # not help: -9% at 2,000 steps, onerec_beauty_ablations). Capacity 0.65 as ema_0999.
        "no_item_id": no_item_id,
        # Its seeds (2026-12-06: seed 0 gave Recall@10 0.0629, above the registered recipe's three seeds).
        "no_item_id_seed_1": no_item_id + ("train.seed=1",),
        "no_item_id_seed_2": no_item_id + ("train.seed=2",),
        # Next, on the registered recipe since 2026-12-06 (no item-id table): TIGER's size, and a longer
        # schedule now that the tables the model over-fitted are gone (evaluated every 2,000 steps, the step
        # picked by valid Recall@10). The longer schedule measured 2026-12-06 (seed 0, valid picked step 6,000):
        # test 0.0656 / 0.0351. TIGER's size (2026-12-06, 4,000 steps): 0.0643 / 0.0341, no gain.
        "no_item_id_tiger_size": tiger_size + no_item_id,
        "no_item_id_8k": no_item_id + eight_k,
        # Its seeds (2026-12-06: seed 0 picked step 6,000, test 0.0656 / 0.0351, above the 4,000-step seeds).
        "no_item_id_8k_seed_1": no_item_id + eight_k + ("train.seed=1",),
        "no_item_id_8k_seed_2": no_item_id + eight_k + ("train.seed=2",),
        # The history unlikelihood loss (2026-12-07): no Beauty user takes an item twice, yet the recipe
        # fills 7.2% of its top-10 slots with the user's own earlier items, and removing them from the
        # ranking gives test Recall@10 / NDCG@10 +9% / +13% (seed 1 of the 8,000-step schedule). Under the
        # TIGER protocol the ranking keeps them, so the model must learn it: each target's 2 most recent
        # earlier items decoded beside it and pushed down (-log(1 - pi)); 8,000 steps to compare with the
        # seeds above step for step.
        # The k = 2 row's first evaluation (commit 42f2120, the gradient through every level) was below the
        # seeds at step 2,000. Since then no gradient flows through the levels a negative shares with its
        # target (losses.history_unlikelihood): there it fought the next-token loss on the same logits.
        "no_item_id_8k_unlikelihood": no_item_id + eight_k + ("model.history_negatives=2",),
        # The most recent earlier item only: 1.5x the plain step's decoder rows instead of 3x.
        "no_item_id_8k_unlikelihood_k1": no_item_id + eight_k + ("model.history_negatives=1",),
        # Ten times the term: in training the negatives' mean pi(o) is about 3e-3 (step 700 of the k1 row), so
        # at weight 1 its gradient is some 300x weaker than the next-token loss's. Measured 2026-12-07 (commit
        # 73d2411, beside seed 2): at step 2,000 valid Recall@10 / NDCG@10 0.0645 / 0.0326, below the three
        # seeds (0.0678-0.0695 / 0.0342-0.0365) as the k = 2 row was; valid history_share@10 0.051 against
        # seed 2's 0.059 at that step. At step 4,000 level with the seeds (test 0.0622 / 0.0336; history_share
        # 0.058 against seed 2's 0.071); at step 6,000, where the seeds peak, below them: test 0.0641 / 0.0345
        # (seeds 0.0656-0.0668 / 0.0351-0.0365), history_share 0.060 (seed 2 0.074); stopped there. The k1 row
        # (weight 1) was paused at step 1,500 for it.
        "no_item_id_8k_unlikelihood_k1_w10": no_item_id
        + eight_k
        + ("model.history_negatives=1", "model.history_unlikelihood_weight=10"),
        # The pairwise form (losses.history_pairwise): -log sigmoid(log pi(target) - log pi(o)), a gradient of
        # ~1 wherever the history item outranks the target, instead of the unlikelihood's ~pi(o). Measured
        # 2026-12-07 (commit 7aa1fd1): at step 2,000 valid 0.0440 / 0.0235, history_share@10 0.015 (seed 2
        # 0.0685 / 0.0356 / 0.059): the history items leave the top 10 and a third of the hits with them.
        # Stopped at step 2,500.
        "no_item_id_8k_pairwise_k1": no_item_id
        + eight_k
        + ("model.history_negatives=1", "model.history_loss=pairwise"),
        # Stronger dropout on the 8,000-step schedule: valid Recall@10 peaks at step 6,000 and is flat to
        # 8,000 while the train loss keeps falling (seed 2: 0.0897 / 0.0895), so the model has capacity to
        # spare for regularisation (0.3 at 2,000 steps with the user-id table under-fit: ablations).
        # Measured 2026-12-07 (commit a537387): below seed 2 at every step; at step 6,000 test 0.0602 / 0.0318
        # with a lower held-out loss than seed 2's (8.458 per item against 8.596). Stopped there.
        "no_item_id_8k_dropout_02": no_item_id + eight_k + ("model.dropout_rate=0.2",),
        # Ten times the decoupled weight decay (AdamW 0.1 instead of 0.01: the weights shrink by e^-1.6 over
        # the schedule instead of e^-0.16), the other regulariser the recipe has.
        # Measured 2026-12-07 (commit ca18015): step 6,000 test 0.0649 / 0.0345, below the seeds; no gain.
        "no_item_id_8k_wd_01": no_item_id + eight_k + ("train.weight_decay=0.1",),
        # Semantic IDs quantised from the text embeddings aligned to the collaborative ones (the item-to-item
        # contrastive loss) instead of the text alone, on the registered recipe: the ID source is the one
        # lever of the ablations not yet tried without the item-id table (ids_aligned below, with it, was
        # level with the seeds at 4,000 steps; +4% Recall@10 at 2,000 steps with the user-id token).
        # Measured 2026-12-07 (commit 475c403, 105 min shared): test 0.0673 / 0.0367 at the picked step 8,000,
        # above all three content-ID seeds (+1.7% / +2.5% over their mean) on one seed. Seeds 1 and 2 (2026-12-07,
        # side by side, 126 / 108 min): 0.0641 / 0.0351 and 0.0669 / 0.0363, so over three seeds 0.0661 ± 0.0018 /
        # 0.0360 ± 0.0008 against the content IDs' 0.0662 ± 0.0006 / 0.0358 ± 0.0007: level, the recipe keeps
        # the content IDs.
        "no_item_id_8k_ids_aligned": no_item_id + eight_k + ("tokenizer.item_vectors=aligned",),
        "no_item_id_8k_ids_aligned_seed_1": no_item_id + eight_k + ("tokenizer.item_vectors=aligned", "train.seed=1"),
        "no_item_id_8k_ids_aligned_seed_2": no_item_id + eight_k + ("tokenizer.item_vectors=aligned", "train.seed=2"),
        # Aligned semantic IDs gave +4% Recall@10 over content IDs with the user-id token (ablations).
        "ids_aligned": ("tokenizer.item_vectors=aligned",),
        # TIGER's user token: the user id hashed into 2,000 shared rows (between the per-user table, which
        # memorised, and no user token). Decoding only the target rows (capacity 0.65, as ema_0999: no target
        # is dropped, 1.27x the step rate). Measured 2026-12-06: test Recall@10 / NDCG@10 0.0551 / 0.0298.
        "user_hash_2000": ("model.static_pathway=all", "model.user_id_buckets=2000", "model.target_capacity=0.65"),
        # The report's one-target design at about the registered run's wall time (0.39 s against 1.04 s per
        # step side by side): with the user-id token it beat the multi-target design at equal wall time
        # (the ablations' report_design row: Recall@10 0.0461 against 0.0445).
        "report_design_10k": (
          "model.targets_per_window=0",
          "train.num_steps=10000",
          "eval.eval_every=2500",
          "eval.select_metric=recall@10",
        ),
        # A moving average of the parameters (decay 0.999: about the last 1,000 steps) evaluated in place of
        # the raw ones; decoding only the rows that hold targets (capacity 0.65: the fullest of 20,000 random
        # batches fills 60%, so no target is dropped; 1.27x the training rate, BENCHMARKS.md).
        "ema_0999": ("train.ema_decay=0.999", "model.target_capacity=0.65"),
        # What moved SASRec on ML-1M besides its init (2026-12-06): the rate held after warm-up, no clipping.
        "constant_lr": ("train.lr_schedule=constant", "train.grad_clip_norm=0", "model.target_capacity=0.65"),
        # The longer variant: valid Recall@10 was still rising at 4,000 steps; bfloat16 compute (1.4x the
        # float32 step rate at the TIGER peer's size on this CPU, BENCHMARKS.md), evaluated every 2,000
        # steps with the reported step picked by valid Recall@10.
        "long_bf16": (
          "train.num_steps=10000",
          "model.dtype=bfloat16",
          "eval.eval_every=2000",
          "eval.select_metric=recall@10",
        ),
      },
    ),
    metrics=("recall@5", "ndcg@5", "recall@10", "ndcg@10"),
  )


def _pin_schedule(schedule: tuple[str, ...], runs: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
  """`schedule` prepended to each run that sets no train.num_steps of its own."""
  return {
    name: overrides if any(o.startswith("train.num_steps=") for o in overrides) else schedule + overrides
    for name, overrides in runs.items()
  }


@register_sweep(
  "onerec_ml1m_ablations",
  "onerec_ml1m ablations at 1,500 steps: lifelong pathway (last-N vs hierarchical k-means), static pathway, ID source",
)
def onerec_ml1m_ablations() -> Sweep:
  """ML-1M rows: the lifelong pathway beside a 50-item short window (last 64 interactions vs 64
  hierarchical k-means representatives of the whole history, as the report), the static pathway off, and
  semantic IDs from collaborative or aligned vectors instead of the item text.
  Measured 2026-12-02 (test, HSTU's 200-item window excluded, re-evaluated with
  --config.eval.exclude_window=200): short50_lifelong_last64 HR@10 0.1548 / NDCG@10 0.0812,
  short50_lifelong_hkmeans64 0.1561 / 0.0806 (equal), base 0.1568 / 0.0842; ids_collaborative 0.1927 /
  0.1034 (+23%: the source of onerec_ml1m_headline); static_off 0.1598 / 0.0818 (neutral); ids_aligned
  (2026-12-06, commit 9166472, 35 min) 0.1525 / 0.0833 (-3% / -1%: aligning the text to the
  collaborative vectors keeps the text's IDs' quality); short50 (2026-12-06, commit bc3992a, 11 min shared)
  0.1485 / 0.0768: the lifelong pathway adds 4-5% beside the 50-item window. ids_collaborative_d128 (Beauty's
  width on the collaborative-ID row): not yet run (started 2026-12-06 and stopped after compiling: beside two
  other runs it would have taken over 2 h).

  python -m experiments.sweep --sweep=onerec_ml1m_ablations --workdir=~/runs/ml1m_ablations \
      --data_dir=../shared/data
  """
  short = ("model.short_len=50", "model.targets_per_window=25")
  lifelong = short + ("model.lifelong_len=64", "model.lifelong_queries=16")
  return Sweep(
    experiment="onerec_ml1m",
    # The rows ran with the text IDs (onerec_ml1m's recipe until 2026-12-03): pinned so that they stay
    # reproducible as run; the ids_* rows override it.
    base=("train.num_steps=1500", "train.checkpoint_every=500", "tokenizer.item_vectors=content"),
    runs={
      "base": (),
      "static_off": ("model.static_pathway=off",),
      "short50": short,
      "short50_lifelong_last64": lifelong + ("model.lifelong_compression=last",),
      "short50_lifelong_hkmeans64": lifelong + ("model.lifelong_compression=hkmeans",),
      # The semantic IDs' source: ML-1M has ~270 interactions per item (Beauty ~16), so collaborative
      # vectors (and content aligned to them) may carry more than the movie titles and genres.
      "ids_collaborative": ("tokenizer.item_vectors=collaborative",),
      "ids_aligned": ("tokenizer.item_vectors=aligned",),
      # Width: the collaborative-ID row at Beauty's width (d 128, 4 heads of 32, feed-forward 512) against
      # ids_collaborative at d 64: whether the 0.8M-parameter model, not the epochs, limits ML-1M. 3.4x the
      # model FLOP per step (1.12e11 against 3.29e10): ~50 min alone on 2 cores for its 1,500 steps.
      "ids_collaborative_d128": (
        "tokenizer.item_vectors=collaborative",
        "model.d_model=128",
        "model.num_heads=4",
        "model.ffn_dim=512",
      ),
    },
    metrics=("hr@10", "ndcg@10", "hr@50", "hr@200"),
  )


@register_sweep(
  "onerec_ml1m_headline",
  "onerec_ml1m at its registered 4,000 steps with semantic IDs from collaborative vectors (the best ablation row)",
)
def onerec_ml1m_headline() -> Sweep:
  """The next attempts at the SASRec gap on ML-1M, each the registered recipe changed as named. Semantic
  IDs from collaborative vectors gave HR@10 0.1927 / NDCG@10 0.1034 against the text IDs' 0.1568 / 0.0842
  at 1,500 steps (onerec_ml1m_ablations, 2026-12-02): +23%. Measured 2026-12-02 (commit ad9ad08, 78 min
  on 2 cores, part of it shared): ids_collaborative (4,000 steps) test HR@10 0.2396, NDCG@10 0.1312, HR@50
  0.4834, HR@200 0.6967 (the text IDs: 0.2065 / 0.1131; SASRec published 0.2853 / 0.1603: 84% / 82%):
  since 2026-12-03 this is onerec_ml1m's registered recipe (the rows still name the vectors, so that they
  read the same whatever the parent holds). ids_collaborative_5k (2026-12-03, 132 min shared, resumed at step
  2,000 from a 6,000-step schedule): test HR@10 0.2475, NDCG@10 0.1364, HR@50 0.4990, HR@200 0.7028 (87% / 85%);
  ids_collaborative_10k (2026-12-06, commit 4533861, 131 min, ~45 of them shared): 0.2598 / 0.1442 / 0.5149 /
  0.7195 (91% / 90%; valid HR@10 still rising at step 10,000); ids_collaborative_long
  (2026-12-06, commit a0519f5, 16,000 steps, 45 epochs, about 3 h 25 min): 0.2687 / 0.1486 / 0.5255 / 0.7199
  (94% / 93%; the step valid picked: 16,000); ids_collaborative_balanced (2026-12-07, commit 475c403,
  105 min shared) 0.2323 / 0.1272 / 0.4831 / 0.7043: -3% at HR@10 against plain k-means, no gain;
  ids_collaborative_wsd_40k (114 epochs on a warm-up-stable-decay schedule, the
  length the +5% per doubling of epochs asks for; several sessions) started 2026-12-07 and resumed the same
  day from its step-500 checkpoint; not finished (it checkpoints every 500 steps and the sweep resumes it).

  python -m experiments.sweep --sweep=onerec_ml1m_headline --workdir=~/runs/ml1m_headline \
      --data_dir=../shared/data
  """
  collaborative = ("tokenizer.item_vectors=collaborative",)
  return Sweep(
    experiment="onerec_ml1m",
    base=("train.checkpoint_every=500",),
    runs={
      "ids_collaborative": collaborative,
      # 5,000 steps (14.2 epochs, 1.25x the registered schedule): what fits one 3-hour session on the 2
      # cores beside other work (~1.3 s per step), evaluated every 2,000 with the step picked on valid
      # HR@10. The measured run (2026-12-03) began as a 6,000-step schedule and was resumed at step 2,000
      # as this row, so its learning rate stepped from 0.80x to 0.72x of the peak there.
      "ids_collaborative_5k": collaborative
      + ("train.num_steps=5000", "eval.eval_every=2000", "eval.select_metric=hr@10"),
      # 10,000 steps (28 epochs), evaluated every 2,000 with the step picked on valid HR@10. Measured
      # 2026-12-06: 1.55-1.68 steps/s alone on a 2-core machine (0.8 beside another run), 131 min in all:
      # test HR@10 0.2598 / NDCG@10 0.1442 at step 10,000 (the step valid picked).
      "ids_collaborative_10k": collaborative
      + ("train.num_steps=10000", "eval.eval_every=2000", "eval.select_metric=hr@10"),
      # OneRec V1's balanced k-means over the same vectors, at the registered 4,000 steps (compare with
      # ids_collaborative). Plain k-means puts up to 64 movies under one 3-level prefix (11.2% of items
      # collide; the 4th token, which carries no meaning, tells them apart); balanced: at most 7 (8.6%),
      # level entropy 7.999 bits against 7.46 / 7.17 / 6.77 (`python -m experiments.tokenize
      # --dataset=ml1m --data_dir=../shared/data --out=/tmp/tok --method=rq_kmeans --vectors=collaborative
      # --noprobe --config.balanced=true`, 2026-12-06, 18 s). Measured 2026-12-07 (commit 475c403, 105 min
      # shared): test HR@10 / NDCG@10 / HR@50 / HR@200 0.2323 / 0.1272 / 0.4831 / 0.7043: -3% at 10, no gain.
      "ids_collaborative_balanced": collaborative + ("tokenizer.balanced=true",),
      # 16,000 steps (45 epochs) as onerec_ml1m_long, evaluated every 2,000 with the step picked on valid.
      # Measured 2026-12-06: test HR@10 / NDCG@10 0.2687 / 0.1486 (94% / 93%) at step 16,000.
      "ids_collaborative_long": collaborative
      + ("train.num_steps=16000", "eval.eval_every=2000", "eval.select_metric=hr@10"),
      # 40,000 steps (114 epochs, about what SASRec's curve and +5% per doubling of epochs ask for) on a
      # warm-up-stable-decay schedule: the peak rate held to step 36,000, then a linear decay over the last
      # 4,000. ~7.5 h alone on 2 cores, so it runs over several sessions (checkpoints every 500 steps, the
      # sweep resumes it); evaluated every 4,000 steps. A stable-phase checkpoint can be decayed on its own to
      # read off a shorter schedule's result: copy the run folder and train it with
      # --config.train.num_steps=STEP+4000 (experiments.train; the schedule's length may change on resume).
      "ids_collaborative_wsd_40k": collaborative
      + (
        "train.num_steps=40000",
        "train.lr_schedule=wsd",
        "train.decay_steps=4000",
        "eval.eval_every=4000",
        "eval.select_metric=hr@10",
      ),
    },
    metrics=("hr@10", "ndcg@10", "hr@50", "hr@200"),
  )
