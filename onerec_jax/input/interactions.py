"""Shared machinery of the real-data loaders: strict parsing, and interaction rows -> SequenceDataset.

Every loader reads its files into an `Interactions` table (one row per interaction, in file order) plus
item side information, and `pack_sequences` turns that into the padded `SequenceDataset`. The rules that
the loaders apply to imperfect input, each counted in one log line (`LoadStats.rules`):

* rows of one user that are not in time order in the file: sorted by timestamp, ties keep file order
  (a stable sort); counted as `users_reordered`;
* users with fewer than `min_length` (3) interactions: dropped, since leave-one-out needs a training,
  a validation and a test item; counted as `users_dropped_short` / `interactions_dropped_short`
  (a sequence-file line with a user id and no item: `users_dropped_empty`).

Everything else (a malformed row, a field that is not a number, an item absent from the item file, a
user listed twice in a sequence file) is a `DataError` naming the file, the line and the field.
Shape legend: N interaction rows, u users, n longest history, i items, f feedback values.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

import numpy as np

from onerec_jax.input.sequences import FEEDBACK_NAMES, SequenceDataset

ENV_DATA_DIR = "ONEREC_DATA_DIR"


class DataError(ValueError):
  """A dataset file that cannot be read as documented; the message names file, line and field."""


def data_root(data_dir: str = "") -> str:
  """The folder holding the dataset folders: `data_dir`, else $ONEREC_DATA_DIR; fails clearly."""
  root = data_dir or os.environ.get(ENV_DATA_DIR, "")
  if not root:
    raise DataError(f"no data directory: pass --data_dir (DataConfig.data_dir) or set ${ENV_DATA_DIR}")
  if not os.path.isdir(root):
    raise DataError(f"data directory {root!r} does not exist (from data_dir or ${ENV_DATA_DIR})")
  return root


def dataset_folder(root: str, folder: str) -> str:
  path = os.path.join(root, folder)
  if not os.path.isdir(path):
    raise DataError(f"dataset folder {path!r} not found under the data directory {root!r}")
  return path


def parse_int(text: str, path: str, line: int, field: str) -> int:
  """int(text), or a DataError naming file, line and field."""
  try:
    return int(text)
  except ValueError:
    raise DataError(f"{path}:{line}: field {field!r} is not an integer: {text!r}") from None


def parse_float(text: str, path: str, line: int, field: str) -> float:
  """float(text), or a DataError naming file, line and field."""
  try:
    value = float(text)
  except ValueError:
    raise DataError(f"{path}:{line}: field {field!r} is not a number: {text!r}") from None
  if not np.isfinite(value):
    raise DataError(f"{path}:{line}: field {field!r} is not finite: {text!r}")
  return value


def split_fields(
  text: str, sep: str | None, names: tuple[str, ...], path: str, line: int, at_least: bool = False
) -> list[str]:
  """Splits a row and checks its field count against `names` (or at least that many)."""
  fields = text.split(sep)
  if len(fields) < len(names) or (not at_least and len(fields) != len(names)):
    raise DataError(
      f"{path}:{line}: expected {len(names)}{'+' if at_least else ''} fields "
      f"({', '.join(names)}) separated by {sep!r}, got {len(fields)}: {text[:80]!r}"
    )
  return fields


def read_lines(path: str, encoding: str = "utf-8"):
  """Yields (1-based line number, line without the line end), skipping blank lines."""
  with open(path, encoding=encoding, newline="") as f:
    for number, line in enumerate(f, start=1):
      line = line.rstrip("\r\n")
      if line.strip():
        yield number, line


@dataclasses.dataclass
class Interactions:
  """Interaction rows in file order.

  Attributes:
    user: [N] int64 original user ids.
    item: [N] int64 dense item index in [0, i).
    time: [N] float64 timestamps, or None when the file order within a user is the time order.
    feedback: [N, f] float32 in FEEDBACK_NAMES order (zeros where the dataset has none).
    positive: [N] bool high-engagement interactions.
    source: the file(s) read, for messages.
  """

  user: np.ndarray
  item: np.ndarray
  time: np.ndarray | None
  feedback: np.ndarray
  positive: np.ndarray
  source: str

  @classmethod
  def build(cls, user, item, time, feedback, positive, source) -> "Interactions":
    n = len(user)
    feedback = (
      np.zeros((n, len(FEEDBACK_NAMES)), np.float32)
      if feedback is None
      else np.asarray(feedback, np.float32).reshape(n, len(FEEDBACK_NAMES))
    )
    positive = np.ones(n, bool) if positive is None else np.asarray(positive, bool)
    return cls(
      np.asarray(user, np.int64),
      np.asarray(item, np.int64),
      None if time is None else np.asarray(time, np.float64),
      feedback,
      positive,
      source,
    )


@dataclasses.dataclass
class ItemSide:
  """Item side information of a catalogue of i items (see SequenceDataset)."""

  category: np.ndarray  # [i] int32
  author: np.ndarray  # [i] int32
  content: np.ndarray  # [i, dc] float32 documented side-information vector
  num_categories: int
  num_authors: int
  raw_ids: np.ndarray  # [i] original item ids (int64) or names (object), for messages and maps


@dataclasses.dataclass
class LoadStats:
  """Counts of one load: as read (`raw_*`, what PROTOCOLS.md tabulates) and after the rules."""

  source: str  # the files read
  raw_users: int  # distinct users in the interaction file(s)
  raw_items: int  # catalogue: distinct items interacted with
  raw_interactions: int  # interaction rows read
  rules: dict  # rule name -> count (users_reordered, users_dropped_short, interactions_dropped_short)

  def as_dict(self) -> dict:
    return dataclasses.asdict(self)


@dataclasses.dataclass
class LoadedDataset:
  """A loader's result: the sequences and the counts of how they were made."""

  data: SequenceDataset
  stats: LoadStats
  item_raw_ids: np.ndarray | None = None  # [i] original id (int) or key (str) of each dense item index
  simulator: Any = None  # the Simulator a simulated dataset (`synthetic`) was drawn from, else None
  # Extra per-interaction columns packed like `data.items`: name -> [u, n] (0 where padded), e.g. the
  # KuaiRand feedback labels ('label/is_click', ...) and 'date' the reward model trains and splits on.
  columns: dict = dataclasses.field(default_factory=dict)


def dense_index(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(sorted unique raw ids [i], dense index of every entry [N]) - dense order follows raw id order."""
  uniq, inverse = np.unique(raw, return_inverse=True)
  return uniq, inverse.astype(np.int64)


def pack_sequences(
  inter: Interactions,
  side: ItemSide,
  *,
  name: str,
  user_static: dict | None = None,
  static_vocab_sizes: tuple[int, ...] = (1,),
  min_length: int = 3,
  empty_users: int = 0,
  columns: dict | None = None,
) -> LoadedDataset:
  """Groups rows by user (users sorted by id), orders each user's rows in time, pads, applies the rules.

  Args:
    inter: the interaction rows, in file order.
    side: item side information; every `inter.item` must be < len(side.category).
    name: dataset name (for messages and `SequenceDataset.name`).
    user_static: raw user id -> [num_static] int features; users missing get zeros.
    static_vocab_sizes: vocabulary of each static feature (index 0 = unknown).
    min_length: users with fewer interactions are dropped (counted).
    empty_users: users the reader saw with no interaction at all (a sequence-file line with only a user
      id); counted as `users_dropped_empty` and in `raw_users`.
    columns: extra per-row arrays [N] (name -> values, in file order), packed into [u, n] beside items.

  Returns:
    LoadedDataset with a validated SequenceDataset ([u, n] items etc.) and its LoadStats.
  """
  num = len(inter.user)
  if num == 0:
    raise DataError(f"{inter.source}: no interactions")
  num_items = len(side.category)
  if inter.item.min() < 0 or inter.item.max() >= num_items:
    raise DataError(f"{inter.source}: item index outside [0, {num_items})")
  file_order = np.arange(num)
  time = inter.time if inter.time is not None else np.zeros(num)
  order = np.lexsort((file_order, time, inter.user))  # by user, then time, then file order
  users, starts, counts = np.unique(inter.user[order], return_index=True, return_counts=True)
  reordered = 0
  if inter.time is not None:
    by_file = np.lexsort((file_order, inter.user))
    t_file = inter.time[by_file]
    backwards = (np.diff(t_file) < 0) & (np.diff(inter.user[by_file]) == 0)
    reordered = int(np.unique(inter.user[by_file][1:][backwards]).shape[0])
  keep = counts >= min_length
  rules = {
    "users_reordered": reordered,
    "users_dropped_short": int((~keep).sum()),
    "interactions_dropped_short": int(counts[~keep].sum()),
    "users_dropped_empty": int(empty_users),
  }
  stats = LoadStats(inter.source, int(len(users)) + int(empty_users), num_items, num, rules)
  logging.info(
    "%s: read %d interactions, %d users, %d items from %s; rules applied: %s",
    name,
    num,
    stats.raw_users,
    num_items,
    inter.source,
    rules,
  )
  if not keep.any():
    raise DataError(f"{inter.source}: no user has {min_length} or more interactions")
  users, starts, counts = users[keep], starts[keep], counts[keep]
  u, n = len(users), int(counts.max())
  col = np.arange(n)[None, :]
  valid = col < counts[:, None]
  rows = order[(starts[:, None] + np.minimum(col, counts[:, None] - 1))]  # [u, n] row of each slot
  items = np.where(valid, inter.item[rows], -1).astype(np.int32)
  feedback = np.where(valid[..., None], inter.feedback[rows], 0).astype(np.float32)
  positive = valid & inter.positive[rows]
  num_static = len(static_vocab_sizes)
  statics = np.zeros((u, num_static), np.int32)
  if user_static:
    for r, user in enumerate(users):
      if int(user) in user_static:
        statics[r] = user_static[int(user)]
  data = SequenceDataset(
    items=items,
    lengths=counts.astype(np.int32),
    feedback=feedback,
    positive=positive,
    user_ids=users.astype(np.int64),
    user_static=statics,
    static_vocab_sizes=tuple(static_vocab_sizes),
    item_category=side.category.astype(np.int32),
    item_author=side.author.astype(np.int32),
    item_content=side.content.astype(np.float32),
    num_categories=int(side.num_categories),
    num_authors=int(side.num_authors),
    name=name,
  )
  data.validate()
  packed = {name: np.where(valid, np.asarray(values)[rows], 0) for name, values in (columns or {}).items()}
  return LoadedDataset(data, stats, np.asarray(side.raw_ids), columns=packed)


def one_hot_rows(index_lists: list[list[int]], width: int) -> np.ndarray:
  """[len(index_lists), width] float32 multi-hot rows."""
  out = np.zeros((len(index_lists), width), np.float32)
  for r, idx in enumerate(index_lists):
    if idx:
      out[r, idx] = 1.0
  return out


def decade_one_hot(years: np.ndarray, first: int = 1910, last: int = 2000) -> np.ndarray:
  """[i, 2 + (last - first) / 10] one-hot decade: unknown or before `first`, first..last-decade, >= last."""
  bins = (last - first) // 10 + 1
  out = np.zeros((len(years), bins + 1), np.float32)
  idx = np.where(years > 0, np.clip((years - first) // 10 + 1, 0, bins), 0)
  out[np.arange(len(years)), idx.astype(np.int64)] = 1.0
  return out


def read_sequence_file(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
  """Reads `user_id item_1 ... item_n` lines (space separated, items in time order).

  Returns:
    (user [N] int64, raw item id [N] int64, line number [N], number of users listed with no item).

  Raises:
    DataError on a non-integer field or a user listed twice (naming file, line and field).
  """
  users, items, lines, seen, empty = [], [], [], {}, 0
  for number, line in read_lines(path):
    fields = line.split()
    user = parse_int(fields[0], path, number, "user_id")
    if user in seen:
      raise DataError(f"{path}:{number}: field 'user_id' {user} already listed on line {seen[user]}")
    seen[user] = number
    if len(fields) == 1:
      empty += 1
      continue
    try:
      row = np.array(fields[1:], dtype=np.int64)
    except ValueError:
      bad = next(j for j, f in enumerate(fields[1:]) if not f.lstrip("-").isdigit())
      raise DataError(f"{path}:{number}: field 'item_{bad + 1}' is not an integer: {fields[bad + 1]!r}") from None
    users.append(np.full(len(row), user, np.int64))
    items.append(row)
    lines.append(np.full(len(row), number, np.int64))
  if not users:
    raise DataError(f"{path}: no interactions")
  return np.concatenate(users), np.concatenate(items), np.concatenate(lines), empty


def check_known_items(
  raw_items: np.ndarray, known: np.ndarray, lines: np.ndarray, path: str, field: str, item_file: str
) -> None:
  """Raises DataError at the first interaction whose item is absent from the item file."""
  bad = ~np.isin(raw_items, known)
  if bad.any():
    j = int(np.argmax(bad))
    raise DataError(
      f"{path}:{int(lines[j])}: field {field!r} = {raw_items[j]} is not in {item_file} ({int(bad.sum())} such rows)"
    )
