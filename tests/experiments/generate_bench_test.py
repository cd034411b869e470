"""The generation benchmark runs per beam width on a tiny experiment, every generated item real."""

from experiments.benchmarks import generate_bench


def test_quick_mode():
  result = generate_bench.bench("quickstart_tiny", beams=[4, 16], users=8, steps=1, repeats=2)
  assert [r["beams"] for r in result["beams"]] == [4, 16]
  for r in result["beams"]:
    assert r["users_per_second"] > 0 and r["legal_rate"] == 1.0 and len(r["seconds_per_call_repeats"]) == 2
