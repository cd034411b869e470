"""The attention benchmark in a quick setting (CI): every implementation timed, Pallas in interpret mode on CPU.

Run as a subprocess: the benchmark's absl flags would clash with the experiments' in one test process.
"""

import json
import os
import subprocess
import sys


def test_rows_for_every_impl_and_pass(tmp_path):
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  out = tmp_path / "attention.json"
  args = ["--lengths=16", "--batch=1", "--warmup=0", "--runs=1", "--dtype=float32", f"--out={out}"]
  subprocess.run(
    [sys.executable, "-m", "kernels_pallas.benchmarks.attention_bench", *args],
    cwd=root,
    check=True,
    capture_output=True,
    timeout=300,
  )
  data = json.loads(out.read_text())
  rows = data["rows"] if isinstance(data, dict) else data
  impls = {r["impl"] for r in rows}
  assert {"reference", "xla", "pallas(interpret)"} <= impls
  assert {(r["causal"], r["mode"]) for r in rows} == {(c, m) for c in (False, True) for m in ("fwd", "fwd+bwd")}
  assert all(r["ms"] > 0 and r["vs_xla"] > 0 for r in rows)
