"""Golden partition specs per model size (a sharding change is seen), and the AOT compile on 8 simulated
devices reports memory per device without running anything."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from experiments import aot_compile

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "golden_partition_specs.json")


def test_partition_specs_match_the_golden_file():
  """Regenerate with `python -m experiments.aot_compile --write_golden=tests/data/golden_partition_specs.json`
  after an intended sharding change, and review the diff."""
  golden = json.load(open(GOLDEN))
  assert sorted(golden) == sorted(aot_compile.SERIES)
  current = aot_compile.golden_specs()
  for name in aot_compile.SERIES:
    for layout, specs in golden[name].items():
      changed = {k: (v, current[name][layout].get(k)) for k, v in specs.items() if current[name][layout].get(k) != v}
      added = sorted(set(current[name][layout]) - set(specs))
      assert not changed and not added, f"{name} {layout}: changed {changed}, new parameters {added}"
  fsdp = golden["onerec_synthetic_0935b"]["fsdp"]
  assert fsdp["decoder_layers/0/ffn/ffn/w_gate"] == "P('expert', 'fsdp', 'tensor')"
  assert not any("'" in v for v in golden["onerec_synthetic_0935b"]["data_parallel"].values())  # replicated


SCRIPT = textwrap.dedent("""
    import json
    from experiments import aot_compile
    print("RESULT" + json.dumps(aot_compile.compile_experiment("onerec_synthetic_tiny", "fsdp_expert")))
""")


@pytest.mark.slow
def test_aot_compile_on_simulated_devices_reports_memory():
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  env = dict(
    os.environ,
    XLA_FLAGS="--xla_force_host_platform_device_count=8",
    JAX_PLATFORMS="cpu",
    PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""),
  )
  proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=root, capture_output=True, text=True, timeout=900)
  assert proc.returncode == 0, proc.stderr[-3000:]
  result = json.loads(proc.stdout.split("RESULT", 1)[1])
  assert result["mesh"] == {"data": 1, "fsdp": 4, "expert": 2, "tensor": 1}
  assert result["capacity_factor"] > 0  # set for expert-parallel dispatch
  for step in ("train_step", "generate_step"):
    memory = result[step]["memory_bytes_per_device"]
    assert memory["arguments"] > 0 and memory["peak_estimate"] >= memory["arguments"] - memory["aliased"]
  assert result["parameters"]["activated_non_embedding"] < result["parameters"]["non_embedding"]
