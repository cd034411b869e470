"""The linter (ruff, configured in ruff.toml) finds no bugs: undefined names, syntax errors, unused imports."""

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_ruff_check_is_clean():
  ruff = shutil.which("ruff")
  if ruff is None:
    if os.environ.get("CI"):
      pytest.fail("ruff is not installed: it is part of the [test] extra")
    pytest.skip("ruff not installed")
  proc = subprocess.run([ruff, "check", "--output-format", "concise", "onerec_jax", "kernels_pallas", "experiments",
                         "tests", "data"], cwd=ROOT, capture_output=True, text=True)
  assert proc.returncode == 0, proc.stdout + proc.stderr
