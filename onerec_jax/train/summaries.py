"""Run scalars: TensorBoard event files (tensorboardX) and the same values as JSON lines, for plots.

`Summaries(workdir)` writes workdir/tensorboard/ and workdir/scalars.jsonl (one line per call:
{"step": s, tag: value, ...}) from process 0. A resumed run appends; `read_scalars` keeps the last value
written for each (tag, step), so the steps a killed run repeats after its last checkpoint count once.
"""

from __future__ import annotations

import json
import math
import os

import jax

SCALARS_FILE = "scalars.jsonl"


class Summaries:
  """TensorBoard scalars and their JSON-lines copy, written by process 0 only."""

  def __init__(self, workdir: str):
    self.writer, self.lines = None, None
    if jax.process_index() == 0:
      from tensorboardX import SummaryWriter

      self.writer = SummaryWriter(os.path.join(workdir, "tensorboard"))
      self.lines = open(os.path.join(workdir, SCALARS_FILE), "a")

  def scalars(self, step: int, values: dict) -> None:
    if self.writer is None:
      return
    values = {k: float(v) for k, v in values.items()}
    for k, v in values.items():
      self.writer.add_scalar(k.replace("@", "_at_"), v, step)
    self.writer.flush()
    # JSON has no NaN/inf: they are written as null.
    self.lines.write(
      json.dumps({"step": int(step), **{k: v if math.isfinite(v) else None for k, v in values.items()}}) + "\n"
    )
    self.lines.flush()

  def close(self) -> None:
    if self.writer is not None:
      self.writer.close()
      self.lines.close()


def read_scalars(workdir: str) -> dict[str, tuple[list[int], list[float]]]:
  """{tag: (steps ascending, values)} from workdir/scalars.jsonl (the last value per step wins).

  Raises FileNotFoundError naming the file when the run wrote none; a line that is not JSON raises
  ValueError naming the file and line number.
  """
  path = os.path.join(workdir, SCALARS_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: no scalars file (the run was made before scalars.jsonl existed, or never logged)")
  by_tag: dict[str, dict[int, float]] = {}
  with open(path) as f:
    for number, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        row = json.loads(line)
        step = int(row.pop("step"))
      except (ValueError, KeyError) as e:
        raise ValueError(f"{path}:{number}: expected a JSON object with a 'step' field ({e})") from None
      for tag, value in row.items():
        by_tag.setdefault(tag, {})[step] = float("nan") if value is None else float(value)
  return {tag: (sorted(v), [v[s] for s in sorted(v)]) for tag, v in by_tag.items()}
