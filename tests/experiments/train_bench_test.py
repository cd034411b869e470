"""The training benchmark: both families, both dtypes, MFU against the measured peak, memory reported."""

from experiments.benchmarks import train_bench


def test_quick_mode():
  peaks = {"float32": 5e10, "bfloat16": 1e11}
  runs = [
    train_bench.bench(e, dtype, "", steps=1, repeats=2, peaks=peaks)
    for e, dtype in (
      ("quickstart_tiny", "float32"),
      ("quickstart_tiny", "bfloat16"),
      ("sasrec_tiny", "float32"),
      ("sasrec_tiny", "bfloat16"),
    )
  ]
  f32, bf16, sasrec, skipped = runs
  assert f32["dtype"] == "float32" and bf16["dtype"] == "bfloat16"
  for r in (f32, bf16, sasrec):
    assert r["seconds_per_step"] > 0 and len(r["seconds_per_step_repeats"]) == 2
    assert 0 < r["mfu"] < 1 and r["model_flops_per_step"] > 0 and r["tokens_per_second"] > r["examples_per_second"]
    assert 0 < r["targets_per_second"] <= r["tokens_per_second"]
    assert r["memory_bytes"]["arguments"] > 0
    assert r["parameters"]["non_embedding"] < r["parameters"]["total"]
  assert "skipped" in skipped
  assert f32["targets_per_second"] == f32["examples_per_second"]  # the report's design: one per example


def test_reward_family_counts_one_target_per_impression():
  r = train_bench.bench("reward_synthetic_tiny", "float32", "", steps=1, repeats=1, peaks={"float32": 5e10})
  assert r["targets_per_second"] == r["examples_per_second"] < r["tokens_per_second"]


def test_multi_target_windows_count_their_supervised_targets():
  r = train_bench.bench(
    "quickstart_tiny:model.targets_per_window=2", "float32", "", steps=1, repeats=1, peaks={"float32": 5e10}
  )
  assert r["examples_per_second"] < r["targets_per_second"] <= 2 * r["examples_per_second"]
