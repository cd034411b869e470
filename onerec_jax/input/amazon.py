"""Amazon review categories (the S3-Rec / P5 / TIGER 5-core splits) as SequenceDatasets.

Dataset `amazon_<category>` reads the folder `<data_dir>/amazon-<category>/` (case-insensitive, '-' and
'_' equivalent; amazon_beauty -> amazon-beauty/). Nothing is specific to Beauty. A folder is read by what
it holds. Interaction files (the known formats, in this order of preference for one category):
  reviews_<Category>_5.json[.gz]  McAuley's 2014 5-core reviews (and the 2018 `<Category>_5.json[.gz]`),
                                  one JSON object per line with `reviewerID`, `asin`, `overall`,
                                  `unixReviewTime`;
  ratings_<Category>.csv          McAuley's 2014 ratings-only file `user,item,rating,timestamp` (no header);
  <Category>.txt                  the shared S3-Rec copy: `user_id item_id ...`, ints from 1, time order.
Which file: the one whose <Category> is the dataset's category (amazon_beauty: Beauty.txt); else, when
the folder holds interaction files of exactly one category, that one, whatever the folder is called (a
short folder amazon-sports/ beside the official Sports_and_Outdoors.txt: amazon_sports reads it, and so
does amazon_sports_and_outdoors, found by its file when no folder of that name exists). Several
categories and none named after the dataset, or none at all, is a DataError listing the folder's files
and the dataset name (or file name) to use. A `.txt` of another name counts only when its first line is
`user_id item_id ...` integers (so `idgenrec_item_textid.txt` is not taken for interactions).

Optional side information, `items.tsv`: a TSV whose header names its columns, read by name (any order):
  item_id          the S3-Rec integer id (as in <Category>.txt), and/or
  asin             the Amazon id (as in the original reviews/ratings files); at least one of the two;
  attributes       brand and category names joined by '|' (the shared Beauty copy); optional;
  title | name | idgenrec_textid | text   a short item text (the first of these present); optional.
Other columns are ignored (and named by `describe_item_text`).

Rules. Original files: users and items are numbered in order of first appearance in the file (so ids
differ from the S3-Rec copy's, the splits do not); rows sorted by unixReviewTime, ties in file order.
`positive` = overall >= 4 and feedback `like` = the same where ratings exist, else every interaction is
positive and the feedback is zero. Item catalogue: the items interacted with, in item-id order.
Item side information (`item_content` [i, a]): multi-hot over the a attribute names of items.tsv (sorted);
`item_author` = brand (an attribute that only ever appears first in a list; 0 = none, brands sorted from 1);
`item_category` = the item's last (most specific) category name (sorted, from 1; 0 = none). Without
items.tsv or without its attributes column: one constant content column, category and author 0.
Item text (for the tokenizer's text embeddings): `<short text>. Brand and categories: <a, b, c>.` from
the columns items.tsv has (either part alone when the other column is missing or empty; `unknown item`
when both are); `describe_item_text` says which columns were used.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import json
import logging
import os
import re

import numpy as np

from onerec_jax.input import interactions as ix
from onerec_jax.input.dataset_spec import NO_TEXT, DatasetSpec, texts_in_order

PREFIX = "amazon_"
# (kind, file-name pattern whose group 1 is the category, how the name is written): preference order.
INTERACTION_FORMATS = (
  ("reviews", re.compile(r"^reviews_(.+)_5\.json(\.gz)?$", re.I), "reviews_{}_5.json[.gz]"),
  ("reviews", re.compile(r"^(?!reviews_)(.+)_5\.json(\.gz)?$", re.I), "{}_5.json[.gz]"),
  ("ratings", re.compile(r"^ratings_(.+)\.csv$", re.I), "ratings_{}.csv"),
  ("sequences", re.compile(r"^(.+)\.txt$", re.I), "{}.txt"),
)
ITEMS_FILE = "items.tsv"
KEY_COLUMNS = ("item_id", "asin")
ATTRIBUTES_COLUMN = "attributes"
TEXT_COLUMNS = ("title", "name", "idgenrec_textid", "text")  # short item text, first present wins


def _norm(text: str) -> str:
  return text.lower().replace("-", "_")


def _title(category: str) -> str:
  """`sports_and_outdoors` -> `Sports_And_Outdoors` (how a file for a category may be named)."""
  return "_".join(p.capitalize() for p in _norm(category).split("_"))


@dataclasses.dataclass(frozen=True)
class InteractionFile:
  """An interaction file of a known format found in a category folder."""

  path: str
  kind: str  # 'reviews' | 'ratings' | 'sequences'
  category: str  # as written in the file name (`Sports_and_Outdoors`)
  rank: int  # preference among the formats of one category (lower first)

  @property
  def dataset(self) -> str:
    """The dataset name that selects this file by its category."""
    return PREFIX + _norm(self.category)


def _looks_like_sequences(path: str) -> bool:
  """Whether the first non-blank line is `user_id item_id ...` integers (the S3-Rec layout)."""
  try:
    with open(path, encoding="utf-8", errors="replace") as f:
      for line in f:
        if line.strip():
          fields = line.split()
          return len(fields) >= 2 and all(x.isdigit() for x in fields)
  except OSError:
    return False
  return False


def interaction_files(folder: str) -> tuple[list[InteractionFile], list[str]]:
  """(the interaction files of known formats in `folder`, the other `.txt` files, not in that layout)."""
  found, rejected = [], []
  for name in sorted(os.listdir(folder)):
    path = os.path.join(folder, name)
    if not os.path.isfile(path) or name.lower() == ITEMS_FILE:
      continue
    for rank, (kind, pattern, _) in enumerate(INTERACTION_FORMATS):
      m = pattern.match(name)
      if m:
        if kind == "sequences" and not _looks_like_sequences(path):
          rejected.append(name)
        else:
          gz_first = 0 if name.lower().endswith(".gz") else 1
          found.append(InteractionFile(path, kind, m.group(1), 2 * rank + gz_first))
        break
  return found, rejected


def _formats_line() -> str:
  return ", ".join(t.format("<Category>") for _, _, t in INTERACTION_FORMATS)


def interaction_file(folder: str, category: str) -> InteractionFile:
  """The interaction file dataset `amazon_<category>` reads in `folder` (rules: module docstring).

  Raises:
    DataError listing the folder's files and the dataset or file name to use, when no file or files of
    several categories (none named after `category`) are there.
  """
  found, rejected = interaction_files(folder)
  exact = [f for f in found if _norm(f.category) == _norm(category)]
  if not exact:
    # An exactly named .txt is read (and its errors reported) even when its first line is not integers.
    exact = [
      InteractionFile(os.path.join(folder, n), "sequences", n[:-4], 2 * len(INTERACTION_FORMATS))
      for n in rejected
      if _norm(n[:-4]) == _norm(category)
    ]
  if exact:
    return min(exact, key=lambda f: f.rank)
  categories = sorted({_norm(f.category) for f in found})
  files = sorted(os.listdir(folder))
  if len(categories) == 1:
    chosen = min(found, key=lambda f: f.rank)
    logging.info(
      "%s%s: %s holds one category's interactions; reading %s (category %s, also dataset %s)",
      PREFIX,
      _norm(category),
      folder,
      os.path.basename(chosen.path),
      chosen.category,
      chosen.dataset,
    )
    return chosen
  if not found:
    note = f"; {rejected} are not `user_id item_id ...` integer lines" if rejected else ""
    raise ix.DataError(
      f"{PREFIX}{_norm(category)}: no interaction file in {folder} (files there: {files}{note}); "
      f"expected one of {_formats_line()}, e.g. {_title(category)}.txt (S3-Rec layout) or "
      f"reviews_{_title(category)}_5.json.gz"
    )
  by_category = {}
  for f in sorted(found, key=lambda f: f.rank):
    by_category.setdefault(f.dataset, os.path.basename(f.path))
  names = ", ".join(f"{d} ({file})" for d, file in sorted(by_category.items()))
  raise ix.DataError(
    f"{PREFIX}{_norm(category)}: {folder} holds interaction files of {len(categories)} "
    f"categories, none named after {category!r}: {sorted(os.path.basename(f.path) for f in found)}; "
    f"use the dataset name of the one to read: {names}; or keep one category per folder"
  )


def _amazon_folders(root: str) -> list[str]:
  if not os.path.isdir(root):
    return []
  return sorted(d for d in os.listdir(root) if _norm(d).startswith("amazon_") and os.path.isdir(os.path.join(root, d)))


def folder_dataset(folder_name: str) -> str:
  """The dataset name of a folder: amazon-sports -> amazon_sports."""
  return PREFIX + _norm(folder_name[len("amazon-") :])


def category_folder(root: str, category: str) -> str:
  """The folder of `amazon_<category>`: `<root>/amazon-<category>` (case-insensitive, '-' == '_'), else the one
  amazon-* folder holding an interaction file named after the category; or a DataError naming the datasets
  the amazon folders there hold."""
  want = _norm("amazon-" + category)
  folders = _amazon_folders(root)
  found = [d for d in folders if _norm(d) == want]
  if found:
    return os.path.join(root, found[0])
  holding, held = [], []
  for d in folders:
    files, _ = interaction_files(os.path.join(root, d))
    names = sorted({f.dataset for f in files} | ({folder_dataset(d)} if _resolves(root, d) else set()))
    held.append(f"{d}/: {', '.join(names) or 'no interaction file'}")
    if any(_norm(f.category) == _norm(category) for f in files):
      holding.append(d)
  if len(holding) == 1:
    return os.path.join(root, holding[0])
  if len(holding) > 1:
    raise ix.DataError(
      f"no folder amazon-{category} under {root!r}, and several amazon folders hold its "
      f"interaction file: {holding}; use their folder names: {[folder_dataset(d) for d in holding]}"
    )
  raise ix.DataError(
    f"no folder amazon-{category} under {root!r}; amazon folders there and the dataset names "
    f"that read them: {'; '.join(held) or 'none'}"
  )


def _resolves(root: str, folder_name: str) -> bool:
  """Whether the folder's own dataset name (amazon-sports -> amazon_sports) picks one interaction file."""
  try:
    interaction_file(os.path.join(root, folder_name), folder_dataset(folder_name)[len(PREFIX) :])
    return True
  except ix.DataError:
    return False


def _find(folder: str, pattern: str, category: str = "") -> str | None:
  """The file in folder whose name, normalised, equals pattern.format(category), normalised."""
  want = _norm(pattern.format(category))
  for name in sorted(os.listdir(folder)):
    if _norm(name) == want:
      return os.path.join(folder, name)
  return None


@dataclasses.dataclass
class ItemsTable:
  """items.tsv read by its header.

  Attributes:
    path: the file.
    header: its column names as written.
    text_column: the short-text column used (TEXT_COLUMNS), or None.
    has_attributes: whether it has the `attributes` column.
    attributes: item key (int item_id and/or str asin) -> [attribute names] ({} without the column).
    texts: item key -> short text ('' when empty or without a text column).
    item_ids: [k] int64 item_id values (empty without that column).
  """

  path: str
  header: tuple[str, ...]
  text_column: str | None
  has_attributes: bool
  attributes: dict
  texts: dict
  item_ids: np.ndarray

  def item_text(self, key) -> str:
    name = self.texts.get(key, "").strip()
    attributes = self.attributes.get(key, [])
    parts = ([f"{name}."] if name else []) + ([f"Brand and categories: {', '.join(attributes)}."] if attributes else [])
    return " ".join(parts) or "unknown item"

  def describe(self, root: str = "") -> str:
    """Which columns the item texts use, e.g. `amazon-beauty/items.tsv: short text from column ...`."""
    known = set(KEY_COLUMNS) | {ATTRIBUTES_COLUMN} | ({self.text_column.lower()} if self.text_column else set())
    ignored = [h for h in self.header if h.lower() not in known]
    parts = [
      f"short text from column {self.text_column!r}"
      if self.text_column
      else f"no short-text column (none of {list(TEXT_COLUMNS)})",
      f"brand and categories from column {ATTRIBUTES_COLUMN!r}"
      if self.has_attributes
      else f"no {ATTRIBUTES_COLUMN!r} column",
    ]
    if ignored:
      parts.append(f"ignored columns {ignored}")
    path = os.path.relpath(self.path, root) if root else self.path
    return f"{path}: " + "; ".join(parts)


def read_items_tsv(path: str | None) -> ItemsTable | None:
  """items.tsv by its header names (module docstring), or None when there is no such file."""
  if path is None:
    return None
  rows = ix.read_lines(path)
  first = next(rows, None)
  if first is None:
    raise ix.DataError(f"{path}: empty file; expected a header naming item_id and/or asin")
  header = tuple(h.strip() for h in first[1].split("\t"))
  lower = [h.lower() for h in header]
  if not any(k in lower for k in KEY_COLUMNS):
    raise ix.DataError(
      f"{path}:{first[0]}: header {list(header)} names neither item_id nor asin; expected a TSV "
      f"header such as `item_id asin attributes idgenrec_textid` (columns read: "
      f"{list(KEY_COLUMNS) + [ATTRIBUTES_COLUMN] + list(TEXT_COLUMNS)})"
    )
  col = {c: lower.index(c) for c in KEY_COLUMNS + (ATTRIBUTES_COLUMN,) + TEXT_COLUMNS if c in lower}
  text_column = next((header[col[c]] for c in TEXT_COLUMNS if c in col), None)
  text_index = next((col[c] for c in TEXT_COLUMNS if c in col), None)
  attributes, texts, item_ids = {}, {}, []
  for number, line in rows:
    f = ix.split_fields(line, "\t", header, path, number)
    keys = []
    if "item_id" in col:
      item_ids.append(ix.parse_int(f[col["item_id"]], path, number, header[col["item_id"]]))
      keys.append(item_ids[-1])
    if "asin" in col:
      keys.append(f[col["asin"]])
    for key in keys:
      if ATTRIBUTES_COLUMN in col:
        attributes[key] = [a for a in f[col[ATTRIBUTES_COLUMN]].split("|") if a]
      texts[key] = f[text_index].strip() if text_index is not None else ""
  return ItemsTable(
    path, header, text_column, ATTRIBUTES_COLUMN in col, attributes, texts, np.array(item_ids, np.int64)
  )


def _read_reviews_json(path: str):
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "rt", encoding="utf-8") as f:
    for number, line in enumerate(f, start=1):
      if not line.strip():
        continue
      try:
        row = json.loads(line)
      except json.JSONDecodeError as e:
        raise ix.DataError(f"{path}:{number}: not a JSON object ({e})") from None
      fields = []
      for key in ("reviewerID", "asin", "overall", "unixReviewTime"):
        if key not in row:
          raise ix.DataError(f"{path}:{number}: field {key!r} missing")
        fields.append(row[key])
      yield number, fields


def _read_ratings_csv(path: str):
  with open(path, encoding="utf-8", newline="") as f:
    for number, row in enumerate(csv.reader(f), start=1):
      if row:
        if len(row) != 4:
          raise ix.DataError(f"{path}:{number}: expected 4 fields (user, item, rating, timestamp), got {len(row)}")
        yield number, row


def _side_info(keys: list, attributes: dict) -> ix.ItemSide:
  lists = [attributes.get(k, []) for k in keys]
  if not attributes:
    return ix.ItemSide(
      np.zeros(len(keys), np.int32),
      np.zeros(len(keys), np.int32),
      np.ones((len(keys), 1), np.float32),
      1,
      1,
      np.array(keys, dtype=object),
    )
  later = {a for names in lists for a in names[1:]}
  brands = sorted({names[0] for names in lists if names and names[0] not in later})
  categories = sorted(later | {names[0] for names in lists if names and names[0] not in brands})
  vocab = sorted(set(brands) | set(categories))
  index = {a: j for j, a in enumerate(vocab)}
  brand_index = {b: j + 1 for j, b in enumerate(brands)}
  category_index = {c: j + 1 for j, c in enumerate(categories)}
  content = ix.one_hot_rows([[index[a] for a in names] for names in lists], len(vocab))
  author = np.array([brand_index.get(names[0], 0) if names else 0 for names in lists], np.int32)
  last_category = [next((a for a in reversed(names) if a in category_index), None) for names in lists]
  category = np.array([category_index.get(c, 0) for c in last_category], np.int32)
  return ix.ItemSide(category, author, content, len(categories) + 1, len(brands) + 1, np.array(keys, dtype=object))


def load_amazon(root: str, category: str) -> ix.LoadedDataset:
  """Amazon `<category>` from its folder under `root` (see the module docstring for the files and rules)."""
  folder = category_folder(root, category)
  name = PREFIX + _norm(category)
  table = read_items_tsv(_find(folder, ITEMS_FILE))
  attributes = table.attributes if table is not None else {}
  source = interaction_file(folder, category)
  if source.kind != "sequences":
    path = source.path
    rows = _read_reviews_json(path) if source.kind == "reviews" else _read_ratings_csv(path)
    users, items, cols = {}, {}, ([], [], [], [])
    for number, (user, item, rating, time) in rows:
      cols[0].append(users.setdefault(user, len(users) + 1))
      cols[1].append(items.setdefault(item, len(items)))
      cols[2].append(ix.parse_float(str(rating), path, number, "rating"))
      cols[3].append(ix.parse_float(str(time), path, number, "timestamp"))
    user, item, rating, time = (np.array(c) for c in cols)
    positive = rating >= 4
    feedback = np.zeros((len(user), 4), np.float32)
    feedback[:, 1] = positive
    side = _side_info(list(items), attributes)
    inter = ix.Interactions.build(user, item, time, feedback, positive, path)
    return ix.pack_sequences(inter, side, name=name)
  sequences = source.path
  user, raw_item, lines, empty = ix.read_sequence_file(sequences)
  if table is not None and len(table.item_ids):
    ix.check_known_items(raw_item, table.item_ids, lines, sequences, "item_id", ITEMS_FILE)
  catalogue, item = ix.dense_index(raw_item)
  inter = ix.Interactions.build(user, item, None, None, None, sequences)
  return ix.pack_sequences(inter, _side_info([int(c) for c in catalogue], attributes), name=name, empty_users=empty)


def _items_table(root: str, name: str) -> ItemsTable:
  folder = category_folder(root, name[len(PREFIX) :])
  table = read_items_tsv(_find(folder, ITEMS_FILE))
  if table is None:
    raise ValueError(f"{folder}: no {ITEMS_FILE}, so {name} {NO_TEXT}")
  return table


def amazon_item_texts(root: str, name: str, raw_ids) -> list[str]:
  """One text per item (raw ids: item_id ints or ASINs), from the columns items.tsv has."""
  table = _items_table(root, name)
  texts = {key: table.item_text(key) for key in table.texts}
  return texts_in_order(name, texts, raw_ids, table.path)


def amazon_describe_text(root: str, name: str) -> str:
  """Which items.tsv columns the item texts of `name` use."""
  return _items_table(root, name).describe(root)


def amazon_names(root: str) -> tuple[str, ...]:
  """amazon_beauty, and one name per amazon-* folder under `root` ('' = none)."""
  found = [folder_dataset(d) for d in _amazon_folders(root)] if root else []
  return tuple(dict.fromkeys(["amazon_beauty"] + found))


SPECS = (
  DatasetSpec(
    "amazon_<category>",
    lambda root, name: load_amazon(root, name[len(PREFIX) :]),
    amazon_item_texts,
    amazon_describe_text,
    protocol="tiger",
    list_names=amazon_names,
    description="an Amazon review category (S3-Rec/TIGER 5-core), <data_dir>/amazon-<category>/",
  ),
)
