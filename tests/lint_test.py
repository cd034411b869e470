"""The linter and formatter (ruff, configured in ruff.toml): no bugs (undefined names, syntax errors, unused imports) and the formatting applied."""

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
  proc = subprocess.run(
    [ruff, "check", "--output-format", "concise", "onerec_jax", "kernels_pallas", "experiments", "tests", "data"],
    cwd=ROOT,
    capture_output=True,
    text=True,
  )
  assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_is_applied():
  """One formatter for the tree: `ruff format .` (settings in ruff.toml) leaves nothing to change."""
  ruff = shutil.which("ruff")
  if ruff is None:
    if os.environ.get("CI"):
      pytest.fail("ruff is not installed: it is part of the [test] extra")
    pytest.skip("ruff not installed")
  proc = subprocess.run([ruff, "format", "--check", "."], cwd=ROOT, capture_output=True, text=True)
  assert proc.returncode == 0, "run `ruff format .`:\n" + proc.stdout + proc.stderr
