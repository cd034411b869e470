"""KuaiRand-Pure (Kuaishou short-video logs with multi-feedback) as a SequenceDataset.

Dataset `kuairand_pure` reads `<data_dir>/kuairand-pure-slice/` (the shared two-week slice) or, if absent,
`<data_dir>/KuaiRand-Pure/data/` or `<data_dir>/kuairand-pure/` (the official download). Files:
  log_standard_*_pure.csv        every standard (non-random) exposure log present, original columns
                                 `user_id,video_id,date,hourmin,time_ms,is_click,is_like,...,long_view,
                                 play_time_ms,duration_ms,...`; the random-exposure logs are not read;
  video_features_basic_pure.csv  optional: `video_id,author_id,video_type,upload_dt,upload_type,...,tag`;
  user_features_pure.csv         optional: user_active_degree and the *_range columns.

Rules. Every exposure row is an interaction (clicked or not: the slice's 228,329 rows); rows sorted per
user by time_ms, ties in file order; users with fewer than 3 rows are dropped (counted). Item catalogue:
the videos in the log, in video_id order; a video absent from video_features_basic_pure.csv is an error.
Feedback (FEEDBACK_NAMES): long_view, is_like, play_fraction = play_time_ms / duration_ms clipped to
[0, 10], log_duration = log1p(duration_ms / 1000) / 5. `positive` = is_like or long_view.
Item side information (`item_content` [i, 1 + T + U + 1]): a constant 1, multi-hot over the T tag ids,
one-hot upload_type (U types, sorted), log1p(video_duration s) / 5; `item_category` = first tag + 1
(0 = none), `item_author` = author_id rank + 1. User static features: user_active_degree,
follow/fans/friend_user_num_range, register_days_range as category indices (sorted, from 1; 0 = unknown).
No item text (videos have tags and durations only).
"""

from __future__ import annotations

import csv
import glob
import os

import numpy as np

from onerec_jax.input import interactions as ix
from onerec_jax.input.dataset_spec import DatasetSpec

FOLDERS = ("kuairand-pure-slice", os.path.join("KuaiRand-Pure", "data"), "kuairand-pure")
LOG_COLUMNS = ("user_id", "video_id", "time_ms", "is_like", "long_view", "play_time_ms", "duration_ms")
# The feedback signals of every exposure (the reward model's objectives), packed as LoadedDataset.columns
# 'label/<name>' [u, n] with 'date' (yyyymmdd) beside them.
LABEL_COLUMNS = ("is_click", "long_view", "is_like", "is_follow", "is_comment", "is_forward", "is_hate")
USER_COLUMNS = (
  "user_active_degree",
  "follow_user_num_range",
  "fans_user_num_range",
  "friend_user_num_range",
  "register_days_range",
)


def _folder(root: str) -> str:
  for name in FOLDERS:
    path = os.path.join(root, name)
    if glob.glob(os.path.join(path, "log_standard_*_pure.csv")):
      return path
  raise ix.DataError(f"no log_standard_*_pure.csv in any of {[os.path.join(root, f) for f in FOLDERS]}")


def _csv_rows(path: str, needed: tuple[str, ...]):
  """Yields (line number, {column: text}) with the `needed` columns checked in the header."""
  with open(path, encoding="utf-8", newline="") as f:
    reader = csv.reader(f)
    header = next(reader, None)
    if header is None:
      raise ix.DataError(f"{path}: empty file")
    missing = [c for c in needed if c not in header]
    if missing:
      raise ix.DataError(f"{path}:1: header lacks columns {missing}; has {header}")
    index = [header.index(c) for c in needed]
    for number, row in enumerate(reader, start=2):
      if not row:
        continue
      if len(row) != len(header):
        raise ix.DataError(f"{path}:{number}: expected {len(header)} fields, got {len(row)}")
      yield number, [row[j] for j in index]


def _read_logs(folder: str):
  names = tuple(dict.fromkeys(LOG_COLUMNS + LABEL_COLUMNS + ("date",)))
  cols = {c: [] for c in names}
  lines, files = [], sorted(glob.glob(os.path.join(folder, "log_standard_*_pure.csv")))
  for path in files:
    for number, row in _csv_rows(path, names):
      for c, text in zip(names, row):
        cols[c].append(
          ix.parse_float(text, path, number, c) if c != "video_id" else ix.parse_int(text, path, number, c)
        )
      lines.append(number)
  return {c: np.array(v) for c, v in cols.items()}, np.array(lines), ",".join(files)


def _side_info(folder: str, catalogue: np.ndarray, lines_of, log_path: str) -> ix.ItemSide:
  path = os.path.join(folder, "video_features_basic_pure.csv")
  i = len(catalogue)
  if not os.path.exists(path):
    return ix.ItemSide(np.zeros(i, np.int32), np.zeros(i, np.int32), np.ones((i, 1), np.float32), 1, 1, catalogue)
  rows = {}
  for number, (vid, author, upload, duration, tag) in _csv_rows(
    path, ("video_id", "author_id", "upload_type", "video_duration", "tag")
  ):
    tags = [ix.parse_int(t, path, number, "tag") for t in tag.split(",") if t.strip()]
    dur = ix.parse_float(duration, path, number, "video_duration") if duration else 0.0
    rows[ix.parse_int(vid, path, number, "video_id")] = (author, upload, dur, tags)
  ix.check_known_items(
    catalogue, np.fromiter(rows, np.int64), lines_of(catalogue), log_path, "video_id", os.path.basename(path)
  )
  feats = [rows[int(v)] for v in catalogue]
  tag_vocab = sorted({t for f in feats for t in f[3]})
  uploads = sorted({f[1] for f in feats})
  authors = {a: j + 1 for j, a in enumerate(sorted({f[0] for f in feats}))}
  tag_index = {t: j for j, t in enumerate(tag_vocab)}
  content = np.concatenate(
    [
      np.ones((i, 1), np.float32),
      ix.one_hot_rows([[tag_index[t] for t in f[3]] for f in feats], len(tag_vocab)),
      ix.one_hot_rows([[uploads.index(f[1])] for f in feats], len(uploads)),
      np.log1p(np.array([[f[2] / 1000.0] for f in feats], np.float32)) / 5.0,
    ],
    axis=1,
  )
  category = np.array([tag_index[f[3][0]] + 1 if f[3] else 0 for f in feats], np.int32)
  author = np.array([authors[f[0]] for f in feats], np.int32)
  return ix.ItemSide(category, author, content, len(tag_vocab) + 1, len(authors) + 1, catalogue)


def _user_static(folder: str) -> tuple[dict, tuple[int, ...]]:
  path = os.path.join(folder, "user_features_pure.csv")
  if not os.path.exists(path):
    return {}, (1,) * len(USER_COLUMNS)
  rows = [(number, r) for number, r in _csv_rows(path, ("user_id",) + USER_COLUMNS)]
  vocabs = [sorted({r[1 + j] for _, r in rows}) for j in range(len(USER_COLUMNS))]
  index = [{v: k + 1 for k, v in enumerate(vocab)} for vocab in vocabs]
  out = {
    ix.parse_int(r[0], path, number, "user_id"): np.array(
      [index[j][r[1 + j]] for j in range(len(USER_COLUMNS))], np.int32
    )
    for number, r in rows
  }
  return out, tuple(len(v) + 1 for v in vocabs)


def load_kuairand_pure(root: str) -> ix.LoadedDataset:
  """KuaiRand-Pure from `<root>` (see the module docstring for folders, files and rules)."""
  folder = _folder(root)
  cols, lines, source = _read_logs(folder)
  catalogue, item = ix.dense_index(cols["video_id"])
  first_line = {}
  for v, n in zip(cols["video_id"][::-1], lines[::-1]):
    first_line[int(v)] = int(n)
  side = _side_info(folder, catalogue, lambda vids: np.array([first_line[int(v)] for v in vids]), source)
  duration = np.maximum(cols["duration_ms"], 1.0)
  feedback = np.stack(
    [
      cols["long_view"],
      cols["is_like"],
      np.clip(cols["play_time_ms"] / duration, 0, 10),
      np.log1p(cols["duration_ms"] / 1000.0) / 5.0,
    ],
    axis=1,
  )
  positive = (cols["is_like"] > 0) | (cols["long_view"] > 0)
  inter = ix.Interactions.build(cols["user_id"].astype(np.int64), item, cols["time_ms"], feedback, positive, source)
  static, vocab = _user_static(folder)
  columns = {f"label/{c}": (cols[c] > 0).astype(np.float32) for c in LABEL_COLUMNS}
  columns["date"] = cols["date"].astype(np.int64)
  return ix.pack_sequences(
    inter, side, name="kuairand_pure", user_static=static, static_vocab_sizes=vocab, columns=columns
  )


SPECS = (
  DatasetSpec(
    "kuairand_pure",
    lambda root, name: load_kuairand_pure(root),
    description="KuaiRand-Pure standard logs with multi-feedback, <data_dir>/kuairand-pure-slice/ "
    "or the official KuaiRand-Pure/data/; no item text",
  ),
)
