r"""Runs a registered sweep (experiments.registry.Sweep) and collects one table of its runs.

  python -m experiments.sweep --sweep=onerec_beauty_ablations --workdir=~/runs/beauty_ablations \
      --data_dir=../shared/data [--parallel=1] [--only=base,moe] [--collect_only] [--config.train.seed=1]

Each run trains in its own folder WORKDIR/<run> through `python -m experiments.train` (a subprocess, so a
crash or an out-of-memory run is recorded and the sweep goes on), N at a time. Launching the sweep again
skips finished runs and resumes unfinished ones from their last checkpoint (the engine resumes exactly);
failed runs are tried again. `--config.*` flags are added to every run's overrides. Runs named in
`Sweep.evaluate_from` re-evaluate another run's final checkpoint with their own eval overrides.

Writes WORKDIR/sweep.json and WORKDIR/sweep.csv: per run its overrides, status (pending, running,
finished, failed, or interrupted: its runner was killed without a word) and error, parameters (total,
embedding, non-embedding, activated), steps, examples seen, model FLOPs per step (analytic matmuls; XLA's
count beside it) and in all, wall time and the sweep's metrics (on eval.split, at the step picked on
valid when the run selects one).
`run_sweep` and `collect` are importable from a notebook.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time

from absl import app, flags, logging

from experiments import common_flags, registry
from onerec_jax.config_overrides import split_config_args

_SWEEP = flags.DEFINE_string("sweep", None, "registered sweep name (python -m experiments.list)")
_PARALLEL = flags.DEFINE_integer("parallel", 1, "runs launched at a time")
_ONLY = flags.DEFINE_list("only", [], "run only these runs of the sweep (default: all)")
_COLLECT_ONLY = flags.DEFINE_bool("collect_only", False, "launch nothing; collect the table of what is there")
_OVERRIDES: list[str] = []

RUN_FILE = "sweep_run.json"  # per run: overrides, status, error, attempts (wall seconds)
# A 'running' run whose runner has not written its heartbeat for this long was killed with it (SIGKILL,
# a session's end): the table calls it 'interrupted' (the next launch resumes it).
STALE_SECONDS = 600.0
METRICS_FILE = "metrics.json"  # written by the engine when a run has finished


def _read(path: str) -> dict | None:
  try:
    with open(path) as f:
      return json.load(f)
  except (FileNotFoundError, json.JSONDecodeError):
    return None


def _write(path: str, value) -> None:
  tmp = f"{path}.tmp"
  with open(tmp, "w") as f:
    json.dump(value, f, indent=1, default=float)
  os.replace(tmp, path)


def run_state(workdir: str, run: str) -> dict | None:
  return _read(os.path.join(workdir, run, RUN_FILE))


def _command(
  sweep: registry.Sweep, workdir: str, run: str, overrides: tuple[str, ...], data_dir: str | None
) -> list[str]:
  flags_ = [f"--config.{o}" for o in overrides]
  if run in sweep.evaluate_from:
    source = os.path.join(workdir, sweep.evaluate_from[run])
    return [
      sys.executable,
      "-m",
      "experiments.evaluate",
      f"--experiment={sweep.experiment}",
      f"--workdir={source}",
      f"--out={os.path.join(workdir, run, METRICS_FILE)}",
      *flags_,
    ]
  command = [
    sys.executable,
    "-m",
    "experiments.train",
    f"--experiment={sweep.experiment}",
    f"--workdir={os.path.join(workdir, run)}",
    *flags_,
  ]
  return command + ([f"--data_dir={data_dir}"] if data_dir else [])


def _error_tail(log_path: str, lines: int = 8) -> str:
  try:
    with open(log_path, errors="replace") as f:
      tail = f.readlines()[-lines:]
  except FileNotFoundError:
    return ""
  return "".join(tail).strip()


def run_sweep(
  sweep: registry.Sweep,
  workdir: str,
  *,
  parallel: int = 1,
  only=(),
  extra_overrides=(),
  data_dir: str | None = None,
  poll_seconds: float = 2.0,
  heartbeat_seconds: float = 60.0,
) -> list[dict]:
  """Launches the sweep's unfinished runs (N at a time), waits for them, returns `collect`'s rows.

  A finished run (its metrics.json written, the same overrides) is skipped; a run folder made with other
  overrides is an error (use another workdir). Runs that evaluate another run wait for it. Every
  `heartbeat_seconds` the running attempts' wall time is written to their run files, so a runner killed
  without warning (SIGKILL, a session's end) loses at most that much of the table's wall time.
  """
  sweep.validate()
  os.makedirs(workdir, exist_ok=True)
  names = list(only) or list(sweep.runs)
  unknown = [n for n in names if n not in sweep.runs]
  if unknown:
    raise ValueError(f"--only names runs that sweep {sweep.name!r} does not have: {unknown}; runs: {list(sweep.runs)}")
  todo = []
  for run in names:
    overrides = sweep.overrides(run) + tuple(extra_overrides)
    state = run_state(workdir, run)
    if state and list(state["overrides"]) != list(overrides):
      raise ValueError(
        f"{os.path.join(workdir, run)} was run with overrides {state['overrides']}, not "
        f"{list(overrides)}: use another --workdir or remove that folder"
      )
    if state and state["status"] == "finished" and os.path.exists(os.path.join(workdir, run, METRICS_FILE)):
      logging.info("sweep %s: %s finished, skipped", sweep.name, run)
      continue
    todo.append((run, overrides, state))
  running: dict[str, tuple[subprocess.Popen, dict, float, object]] = {}

  def finish(run: str, returncode: int) -> None:
    proc, state, start, log = running.pop(run)
    log.close()
    state["attempts"][-1].update(seconds=time.time() - start, returncode=returncode)
    done = returncode == 0 and os.path.exists(os.path.join(workdir, run, METRICS_FILE))
    state["status"] = "finished" if done else "failed"
    state["error"] = "" if done else _error_tail(os.path.join(workdir, run, "log.txt"))
    _write(os.path.join(workdir, run, RUN_FILE), state)
    logging.info("sweep %s: %s %s (exit %d, %.0f s)", sweep.name, run, state["status"], returncode, time.time() - start)

  def launch(run: str, overrides, state: dict | None) -> None:
    rundir = os.path.join(workdir, run)
    os.makedirs(rundir, exist_ok=True)
    state = state or {"run": run, "experiment": sweep.experiment, "overrides": list(overrides), "attempts": []}
    state.update(status="running", error="")
    state["attempts"].append({"started": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": 0.0, "alive_at": time.time()})
    _write(os.path.join(rundir, RUN_FILE), state)
    log = open(os.path.join(rundir, "log.txt"), "a")
    command = _command(sweep, workdir, run, overrides, data_dir)
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    logging.info("sweep %s: launching %s: %s", sweep.name, run, " ".join(overrides) or "(no overrides)")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=os.getcwd())
    running[run] = (proc, state, time.time(), log)

  def fail_without_running(run: str, overrides, state: dict | None, error: str) -> None:
    rundir = os.path.join(workdir, run)
    os.makedirs(rundir, exist_ok=True)
    state = state or {"run": run, "experiment": sweep.experiment, "overrides": list(overrides), "attempts": []}
    state.update(status="failed", error=error)
    _write(os.path.join(rundir, RUN_FILE), state)
    logging.warning("sweep %s: %s failed: %s", sweep.name, run, error)

  pending = list(todo)
  last_heartbeat = time.time()
  # SIGTERM (a scheduler's or `kill`'s stop) would end this process without its `finally`, leaving the
  # children training as orphans and their runs marked 'running': turn it into an exit that stops them.
  previous = None
  if threading.current_thread() is threading.main_thread():
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
  try:
    while pending or running:
      for run, (proc, *_rest) in list(running.items()):
        if proc.poll() is not None:
          finish(run, proc.returncode)
      for item in list(pending):
        if len(running) >= max(parallel, 1):
          break
        run, overrides, state = item
        source = sweep.evaluate_from.get(run)
        if source is not None:
          source_state = run_state(workdir, source) or {}
          if source in running or any(p[0] == source for p in pending):
            continue  # wait for the run it evaluates
          if source_state.get("status") != "finished":
            pending.remove(item)
            fail_without_running(run, overrides, state, f"the run it evaluates, {source!r}, has not finished")
            continue
        pending.remove(item)
        launch(run, overrides, state)
      if running and time.time() - last_heartbeat >= heartbeat_seconds:
        last_heartbeat = time.time()
        for run, (_proc, state, start, _log) in running.items():
          state["attempts"][-1].update(seconds=last_heartbeat - start, alive_at=last_heartbeat)
          _write(os.path.join(workdir, run, RUN_FILE), state)
      time.sleep(poll_seconds if running else 0)
  finally:  # interrupted: stop the children; their checkpoints let the next launch resume them
    for run, (proc, *_rest) in list(running.items()):
      proc.terminate()
      proc.wait()
      finish(run, proc.returncode)
    if previous is not None:
      signal.signal(signal.SIGTERM, previous)
  return collect(sweep, workdir, only=names)


def _exit_on_signal(signum, frame):
  del frame
  logging.warning("sweep: signal %d received: stopping the running runs (they resume on the next launch)", signum)
  raise SystemExit(128 + signum)


def collect(sweep: registry.Sweep, workdir: str, only=()) -> list[dict]:
  """One row per run: overrides, status, error, parameters, FLOPs, examples, wall time, metrics.

  Writes WORKDIR/sweep.json and WORKDIR/sweep.csv over every run of the sweep (a launch with --only never
  drops the other runs' rows from the table); returns the rows of `only` (default: all). A run that has
  not run yet has status 'pending'.
  """
  rows = []
  for run in sweep.runs:
    state = run_state(workdir, run) or {}
    row = {
      "run": run,
      "overrides": " ".join(sweep.overrides(run)),
      "status": _status(state),
      "error": state.get("error", ""),
      "wall_seconds": sum(a.get("seconds", 0.0) for a in state.get("attempts", [])),
    }
    results = _read(os.path.join(workdir, run, METRICS_FILE)) if row["status"] == "finished" else None
    source = sweep.evaluate_from.get(run, run)
    trained = _read(os.path.join(workdir, source, METRICS_FILE)) if results else None
    if results and trained:
      train = trained.get("train", {})
      counts = train.get("parameter_counts", {"total": train.get("parameters", 0)})
      row.update({f"params_{k}": v for k, v in counts.items()})
      steps, batch = train.get("steps", 0), train.get("batch_size", 0)
      flops = train.get("model_flops_per_step", 0.0)
      row.update(
        steps=steps,
        batch_size=batch,
        examples_seen=steps * batch,
        epochs=train.get("epochs", 0.0),
        flops_per_step=flops,
        xla_flops_per_step=train.get("xla_flops_per_step", 0.0),
        train_flops=flops * steps,
        train_seconds=train.get("seconds_this_run", 0.0),
        final_train_loss=train.get("final_loss", float("nan")),
      )
      selected = results.get("selected")
      values = selected["test"] if selected else results.get("model", {})
      row["selected_step"] = selected["step"] if selected else results.get("checkpoint_step", steps)
      for metric in sweep.metrics:
        row[metric] = _metric(results, values, metric)
    rows.append(row)
  _write(
    os.path.join(workdir, "sweep.json"),
    {"sweep": sweep.name, "experiment": sweep.experiment, "metrics": list(sweep.metrics), "rows": rows},
  )
  columns = []
  for row in rows:
    columns += [k for k in row if k not in columns]
  with open(os.path.join(workdir, "sweep.csv"), "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
  return [row for row in rows if row["run"] in only] if only else rows


def _status(state: dict) -> str:
  """The run's status for the table: 'pending' before any launch; 'interrupted' for a 'running' run whose
  runner's heartbeat stopped more than STALE_SECONDS ago (or, from runners older than the heartbeat
  stamp, never came); else the recorded status."""
  status = state.get("status", "pending")
  if status == "running":
    attempts = state.get("attempts") or [{}]
    if time.time() - attempts[-1].get("alive_at", 0.0) > STALE_SECONDS:
      return "interrupted"
  return status


def _metric(results: dict, values: dict, name: str) -> float:
  """A model metric ('recall@10', 'auc/click') or else a path into metrics.json ('legal_rate',
  'ground_truth_engagement@10/model'); NaN where the run has none."""
  if name in values:
    return values[name]
  node = results
  for part in name.split("/"):
    if not isinstance(node, dict) or part not in node:
      return float("nan")
    node = node[part]
  return float(node) if isinstance(node, (int, float)) else float("nan")


def format_table(rows: list[dict], metrics) -> str:
  """A fixed-width text table of the rows' status, size, cost and metrics."""
  columns = ["run", "status", "params_non_embedding", "steps", "wall_seconds", *metrics]

  def cell(row, c):
    v = row.get(c, "")
    return f"{v:.4f}" if isinstance(v, float) and c in metrics else (f"{v:.0f}" if isinstance(v, float) else str(v))

  table = [columns] + [[cell(r, c) for c in columns] for r in rows]
  widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
  return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths)) for line in table)


def markdown_table(rows: list[dict], metrics, sweep: registry.Sweep | None = None) -> str:
  """The rows as a Markdown table (BENCHMARKS.md): run, overrides beyond the base, steps, wall, metrics."""
  base = set(sweep.base) if sweep else set()
  lines = [
    "| run | overrides | status | steps | wall | " + " | ".join(metrics) + " |",
    "|---" * (5 + len(metrics)) + "|",
  ]
  for r in rows:
    own = " ".join(o for o in r["overrides"].split(" ") if o and o not in base) or "(base)"
    wall = f"{r['wall_seconds'] / 60:.0f} min" if r.get("wall_seconds") else "-"
    values = [f"{r[m]:.4f}" if isinstance(r.get(m), float) else "-" for m in metrics]
    lines.append(
      f"| {r['run']} | `{own}` | {r['status']} | {r.get('steps', '-')} | {wall} | " + " | ".join(values) + " |"
    )
  return "\n".join(lines)


def parse_flags(argv):
  rest, overrides = split_config_args(argv)
  _OVERRIDES.extend(o[len("--config.") :] for o in overrides)
  return flags.FLAGS(rest)


def main(argv):
  del argv
  if not _SWEEP.value or not common_flags.WORKDIR.value:
    raise app.UsageError("--sweep and --workdir are required")
  sweep = registry.get_sweep(_SWEEP.value)
  workdir = os.path.expanduser(common_flags.WORKDIR.value)
  if _COLLECT_ONLY.value:
    if not os.path.isdir(workdir):
      raise app.UsageError(f"--collect_only: {workdir} does not exist (no runs of sweep {sweep.name!r} to collect)")
    rows = collect(sweep, workdir, only=_ONLY.value)
  else:
    rows = run_sweep(
      sweep,
      workdir,
      parallel=_PARALLEL.value,
      only=_ONLY.value,
      extra_overrides=_OVERRIDES,
      data_dir=common_flags.DATA_DIR.value,
    )
  print(format_table(rows, sweep.metrics))
  print(markdown_table(rows, sweep.metrics, sweep))
  print(f"table: {os.path.join(workdir, 'sweep.csv')} and sweep.json")
  failed = [r["run"] for r in rows if r["status"] == "failed"]
  for row in rows:
    if row["status"] == "failed":
      print(f"--- {row['run']} failed:\n{row['error']}")
  return 1 if failed else 0


if __name__ == "__main__":
  logging.set_verbosity(logging.INFO)
  app.run(main, flags_parser=parse_flags)
