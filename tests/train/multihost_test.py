"""Multi-host: two local processes joined by jax.distributed (gloo on CPU) train as one 2-device job.

The same experiment on one process with two CPU devices is the reference: the data-parallel mesh, the
global batch (each process feeds its half) and the step are the same, so the losses and the final
evaluation must match.
"""

import json
import os
import re
import socket
import subprocess
import sys

import pytest

_COMMON = [
  "-m",
  "experiments.train",
  "--experiment=quickstart_tiny",
  "--config.train.num_steps=6",
  "--config.train.log_every=3",
  "--config.train.checkpoint_every=3",
  "--config.eval.max_users=40",
  "--config.train.peak_matmul_size=0",
]


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _env(devices: int) -> dict:
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
  env["JAX_PLATFORMS"] = "cpu"
  return env


def _losses(log: str) -> list[float]:
  return [float(x) for x in re.findall(r"step \d+/6 loss ([0-9.]+)", log)]


@pytest.mark.slow
def test_two_processes_give_the_single_process_losses(tmp_path):
  single = subprocess.run(
    [sys.executable, *_COMMON, f"--workdir={tmp_path / 'single'}"],
    env=_env(2),
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert single.returncode == 0, single.stderr[-3000:]
  port = _free_port()
  procs = [
    subprocess.Popen(
      [
        sys.executable,
        *_COMMON,
        f"--workdir={tmp_path / 'multi'}",
        "--distributed",
        f"--coordinator_address=localhost:{port}",
        "--num_processes=2",
        f"--process_id={i}",
      ],
      env=_env(1),
      stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT,
      text=True,
    )
    for i in range(2)
  ]
  outs = [p.communicate(timeout=600)[0] for p in procs]
  for p, out in zip(procs, outs):
    assert p.returncode == 0, out[-3000:]
  assert "process 0 of 2; 1 local of 2 devices" in outs[0]
  expected = _losses(single.stderr)
  assert len(expected) == 2
  for out in outs:
    got = _losses(out)
    assert got == pytest.approx(expected, rel=1e-4), (got, expected)
  a = json.load(open(tmp_path / "single" / "metrics.json"))["model"]
  b = json.load(open(tmp_path / "multi" / "metrics.json"))["model"]
  assert b == pytest.approx(a, abs=1e-6)
