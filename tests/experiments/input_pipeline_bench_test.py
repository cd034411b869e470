"""The throughput benchmark runs in a quick mode for every family and for config variants."""

from experiments.benchmarks import input_pipeline_bench


def test_quick_mode_every_family_and_a_variant():
  runs = [
    input_pipeline_bench.bench(e, "", steps=1)
    for e in ("sasrec_tiny", "quickstart_tiny", "quickstart_tiny:model.targets_per_window=3")
  ]
  assert [r["family"] for r in runs] == ["sasrec", "onerec", "onerec"]
  for r in runs:
    assert r["train_step"]["seconds_per_step"] > 0 and r["targets_per_batch"] > 0
  single, multi = runs[1], runs[2]
  assert single["targets_per_batch"] == single["batch_size"]  # one target per example
  assert multi["targets_per_batch"] > multi["batch_size"]  # windows of up to 3 targets
  assert multi["example_unit"].startswith("windows of 3")
