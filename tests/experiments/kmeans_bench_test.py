"""The k-means benchmark runs end to end in a quick mode (CI) and appends its table."""

import os
import subprocess
import sys


def test_quick_mode_writes_the_table(tmp_path):
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  out = tmp_path / "kmeans.md"
  subprocess.run(
    [
      sys.executable,
      "-m",
      "experiments.benchmarks.kmeans_bench",
      "--quick",
      "--num_vectors=3000",
      "--iters=2",
      "--nopeer",
      f"--out={out}",
    ],
    cwd=root,
    check=True,
    capture_output=True,
    timeout=300,
  )
  text = out.read_text()
  assert "| ours (JAX) |" in text and "3,000 x 64-d, 3 x 256 codes, 2 iterations" in text
  assert "faiss not run" in text
