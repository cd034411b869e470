"""The sweep runner: skips finished runs, resumes unfinished ones, records failures and goes on."""

import json
import os
import sys

import pytest

from experiments import registry, sweep as sweep_lib

# A stand-in for `python -m experiments.train`: counts its launches, fails on its first launch when asked
# (as a killed or crashed run does), and otherwise writes a metrics.json like the engine's.
_FAKE_TRAIN = r"""
import json, os, sys
rundir, mode = sys.argv[1], sys.argv[2]
launches = os.path.join(rundir, "launches")
n = int(open(launches).read()) + 1 if os.path.exists(launches) else 1
open(launches, "w").write(str(n))
if mode == "sleep":  # a long run: says it started, then trains "forever"
  open(os.path.join(rundir, "pid"), "w").write(str(os.getpid()))
  import time
  time.sleep(120)
if mode == "always_fail" or (mode == "fail_once" and n == 1):
  print("Traceback: injected failure in launch", n)
  sys.exit(3)
json.dump({"model": {"recall@10": 0.25 if mode != "fail_once" else 0.5},
           "train": {"steps": 10, "batch_size": 4, "model_flops_per_step": 2.0, "epochs": 1.0,
                     "parameter_counts": {"total": 100, "embedding": 40, "non_embedding": 60,
                                          "activated_non_embedding": 60}}},
          open(os.path.join(rundir, "metrics.json"), "w"))
"""


def _sweep():
  return registry.Sweep(
    experiment="quickstart_tiny",
    name="test_sweep",
    metrics=("recall@10",),
    base=("train.num_steps=10",),
    runs={"ok": (), "flaky": ("train.seed=1",), "broken": ("train.seed=2",)},
  )


@pytest.fixture
def fake_train(monkeypatch, tmp_path):
  script = tmp_path / "fake_train.py"
  script.write_text(_FAKE_TRAIN)
  modes = {"ok": "ok", "flaky": "fail_once", "broken": "always_fail"}

  def command(sweep, workdir, run, overrides, data_dir):
    return [sys.executable, str(script), os.path.join(workdir, run), modes[run]]

  monkeypatch.setattr(sweep_lib, "_command", command)
  return modes


def _launches(workdir, run):
  path = os.path.join(workdir, run, "launches")
  return int(open(path).read()) if os.path.exists(path) else 0


def test_failure_is_recorded_and_the_sweep_goes_on_then_resumes_and_skips(fake_train, tmp_path):
  workdir = str(tmp_path / "sweep")
  rows = {r["run"]: r for r in sweep_lib.run_sweep(_sweep(), workdir, parallel=2, poll_seconds=0.05)}
  assert rows["ok"]["status"] == "finished" and rows["ok"]["recall@10"] == 0.25
  assert rows["ok"]["params_non_embedding"] == 60 and rows["ok"]["train_flops"] == 20.0
  assert rows["ok"]["examples_seen"] == 40 and rows["ok"]["overrides"] == "train.num_steps=10"
  for run in ("flaky", "broken"):
    assert rows[run]["status"] == "failed"
    assert "injected failure" in rows[run]["error"]
  # Second launch: the finished run is skipped, failed runs are tried again.
  fake_train["broken"] = "ok_now"
  rows = {r["run"]: r for r in sweep_lib.run_sweep(_sweep(), workdir, poll_seconds=0.05)}
  assert _launches(workdir, "ok") == 1
  assert _launches(workdir, "flaky") == 2 and rows["flaky"]["status"] == "finished"
  assert rows["flaky"]["recall@10"] == 0.5
  state = sweep_lib.run_state(workdir, "flaky")
  assert [a["returncode"] for a in state["attempts"]] == [3, 0]
  assert rows["broken"]["status"] == "finished" and _launches(workdir, "broken") == 2  # fixed, rerun
  # The table files hold the same rows.
  table = json.load(open(os.path.join(workdir, "sweep.json")))
  assert [r["run"] for r in table["rows"]] == ["ok", "flaky", "broken"]
  assert open(os.path.join(workdir, "sweep.csv")).readline().startswith("run,")


def test_run_folder_with_other_overrides_is_an_error(fake_train, tmp_path):
  workdir = str(tmp_path / "sweep")
  rows = sweep_lib.run_sweep(_sweep(), workdir, only=["ok"], poll_seconds=0.05)
  assert [r["run"] for r in rows] == ["ok"]
  # The table keeps every run of the sweep: a launch with --only does not drop the others' rows.
  table = {r["run"]: r["status"] for r in json.load(open(os.path.join(workdir, "sweep.json")))["rows"]}
  assert table == {"ok": "finished", "flaky": "pending", "broken": "pending"}
  changed = _sweep()
  changed.runs["ok"] = ("train.seed=7",)
  with pytest.raises(ValueError, match="was run with overrides"):
    sweep_lib.run_sweep(changed, workdir, only=["ok"])


def test_unknown_override_or_run_is_caught_before_anything_runs(tmp_path):
  bad = _sweep()
  bad.runs["typo"] = ("train.num_stepz=3",)
  with pytest.raises(ValueError, match="num_steps"):
    sweep_lib.run_sweep(bad, str(tmp_path / "w"))
  with pytest.raises(ValueError, match="does not have"):
    sweep_lib.run_sweep(_sweep(), str(tmp_path / "w"), only=["nope"])
  assert not os.path.exists(tmp_path / "w" / "ok")


def test_registered_sweeps_validate():
  for name in registry.sweep_names():
    sweep = registry.get_sweep(name).validate()
    assert sweep.name == name and sweep.metrics and sweep.runs


@pytest.mark.slow
def test_real_runs_train_and_a_beam_row_reevaluates(tmp_path):
  """End to end through experiments.train and experiments.evaluate (subprocesses, the tiny quickstart)."""
  sweep = registry.Sweep(
    experiment="quickstart_tiny",
    name="e2e",
    metrics=("recall@10",),
    base=("train.num_steps=3", "train.log_every=1", "eval.max_users=50"),
    runs={"base": (), "beam_30": ("eval.num_beams=30",)},
    evaluate_from={"beam_30": "base"},
  )
  workdir = str(tmp_path / "e2e")
  rows = {r["run"]: r for r in sweep_lib.run_sweep(sweep, workdir, poll_seconds=0.2)}
  assert rows["base"]["status"] == "finished", rows["base"]["error"]
  assert rows["beam_30"]["status"] == "finished", rows["beam_30"]["error"]
  assert rows["base"]["flops_per_step"] > 0 and rows["beam_30"]["params_total"] == rows["base"]["params_total"]
  beam = json.load(open(os.path.join(workdir, "beam_30", "metrics.json")))
  assert beam["evaluated"]["overrides"][-1].endswith("eval.num_beams=30")
  assert not os.path.exists(os.path.join(workdir, "beam_30", "checkpoints"))  # evaluated, not trained


def _start_driver(tmp_path, extra=""):
  """A sweep of one long ("sleep") run in a subprocess; returns (driver process, workdir, child pid)."""
  import subprocess
  import time

  script = tmp_path / "fake_train.py"
  script.write_text(_FAKE_TRAIN)
  workdir = tmp_path / "sweep"
  driver = f"""
import os, sys
from experiments import registry, sweep as sweep_lib
sweep_lib._command = lambda sweep, workdir, run, overrides, data_dir: [
  sys.executable, {str(script)!r}, os.path.join(workdir, run), "sleep"]
s = registry.Sweep(experiment="quickstart_tiny", name="t", metrics=("recall@10",), runs={{"long": ()}})
sweep_lib.run_sweep(s, {str(workdir)!r}, poll_seconds=0.1{extra})
"""
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  proc = subprocess.Popen([sys.executable, "-c", driver], cwd=root)
  pid_file = workdir / "long" / "pid"
  deadline = time.time() + 60
  while not pid_file.exists() and time.time() < deadline:
    time.sleep(0.1)
  assert pid_file.exists(), "the child never started"
  time.sleep(0.3)  # the pid is written before the child's sleep starts
  return proc, workdir, int(pid_file.read_text())


def test_a_killed_runner_keeps_the_wall_time_of_its_heartbeats(tmp_path):
  """SIGKILL gives the runner no chance to record anything: the heartbeat already wrote the attempt's
  wall time so far."""
  import signal
  import time

  proc, workdir, child = _start_driver(tmp_path, extra=", heartbeat_seconds=0.2")
  time.sleep(1.0)
  proc.send_signal(signal.SIGKILL)
  proc.wait(timeout=30)
  os.kill(child, signal.SIGKILL)  # SIGKILL leaves the child behind: stop it here
  state = json.load(open(workdir / "long" / sweep_lib.RUN_FILE))
  assert state["status"] == "running" and state["attempts"][-1]["seconds"] >= 0.5
  # The table tells the killed run from a live one by the heartbeat's age.
  assert sweep_lib._status(state) == "running"  # the last heartbeat is recent
  state["attempts"][-1]["alive_at"] -= sweep_lib.STALE_SECONDS + 1
  assert sweep_lib._status(state) == "interrupted"
  assert sweep_lib._status({"status": "running", "attempts": [{"seconds": 5.0}]}) == "interrupted"  # no stamp
  assert sweep_lib._status({}) == "pending"


def test_sigterm_stops_the_children_and_records_them(tmp_path):
  """`kill SWEEP` (SIGTERM) stops the running child too (no orphan keeps training) and records the run
  as failed with the signal's exit code, so the next launch resumes it."""
  import signal

  proc, workdir, child = _start_driver(tmp_path)
  proc.send_signal(signal.SIGTERM)
  assert proc.wait(timeout=30) == 128 + signal.SIGTERM
  with pytest.raises(ProcessLookupError):  # the child is gone (reaped by the sweep), not orphaned
    os.kill(child, 0)
  state = json.load(open(workdir / "long" / sweep_lib.RUN_FILE))
  assert state["status"] == "failed" and state["attempts"][-1]["returncode"] == -signal.SIGTERM
