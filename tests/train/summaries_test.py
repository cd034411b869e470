"""The JSON-lines copy of a run's scalars: appended on resume, the last value per step wins, NaN kept."""

import math

import pytest

from onerec_jax.train.summaries import SCALARS_FILE, Summaries, read_scalars


def test_scalars_round_trip_and_resume(tmp_path):
  s = Summaries(str(tmp_path))
  s.scalars(1, {"train/loss": 3.0})
  s.scalars(2, {"train/loss": 2.0, "train/mfu": 0.2})
  s.close()
  s = Summaries(str(tmp_path))  # a resumed run repeats step 2 and goes on
  s.scalars(2, {"train/loss": 2.5})
  s.scalars(3, {"train/loss": float("nan")})
  s.close()
  got = read_scalars(str(tmp_path))
  assert got["train/loss"][0] == [1, 2, 3]
  assert got["train/loss"][1][:2] == [3.0, 2.5] and math.isnan(got["train/loss"][1][2])
  assert got["train/mfu"] == ([2], [0.2])


def test_bad_lines_and_missing_files_are_named(tmp_path):
  with pytest.raises(FileNotFoundError, match="no scalars file"):
    read_scalars(str(tmp_path))
  (tmp_path / SCALARS_FILE).write_text('{"step": 1, "a": 1}\nnot json\n')
  with pytest.raises(ValueError, match=f"{SCALARS_FILE}:2"):
    read_scalars(str(tmp_path))
