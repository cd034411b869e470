"""Exact resume, proved with SIGKILL: a run killed mid-training and restarted ends with the same
parameters, optimiser state, MoE router biases and RNG state as an uninterrupted run of the same length."""

import os
import re
import signal
import subprocess
import sys

import jax
import numpy as np
import pytest

from onerec_jax.train.checkpointing import restore_run

_COMMON = [
  "-m",
  "experiments.train",
  "--experiment=quickstart_tiny",
  "--config.train.num_steps=9",
  "--config.train.log_every=1",
  "--config.train.checkpoint_every=3",
  "--config.eval.max_users=20",
  "--config.train.peak_matmul_size=0",
]


def _run(workdir, kill_after_step=None):
  proc = subprocess.Popen(
    [sys.executable, *_COMMON, f"--workdir={workdir}"],
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
    text=True,
    env={**os.environ, "JAX_PLATFORMS": "cpu"},
  )
  lines = []
  for line in proc.stdout:
    lines.append(line)
    if kill_after_step and f"step {kill_after_step}/9 loss" in line:
      os.kill(proc.pid, signal.SIGKILL)  # no finally block, no atexit: the process just vanishes
      break
  proc.wait(timeout=600)
  return proc.returncode, "".join(lines)


def _leaves(state):
  out = []
  for x in jax.tree.leaves(state):
    x = jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x
    out.append(np.asarray(x))
  return out


@pytest.mark.slow
def test_sigkill_then_restart_equals_the_uninterrupted_run(tmp_path):
  code, log = _run(tmp_path / "straight")
  assert code == 0, log[-3000:]
  code, log = _run(tmp_path / "killed", kill_after_step=7)
  assert code == -signal.SIGKILL, log[-3000:]
  code, log = _run(tmp_path / "killed")
  assert code == 0, log[-3000:]
  # The latest complete checkpoint: 6, or 3 if the kill came while step 6's async save was being written.
  assert re.search(r"resumed from checkpoint at step [36]\b", log), log[-3000:]
  _, _, _, a, _ = restore_run(str(tmp_path / "straight"))
  _, _, _, b, _ = restore_run(str(tmp_path / "killed"))
  assert int(a.step) == int(b.step) == 9
  assert any("router_bias" in jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(a.rest)[0])
  for x, y in zip(_leaves(a), _leaves(b)):  # params, optimiser state, router biases, RNG keys and counts
    np.testing.assert_array_equal(x, y)
