"""Amazon review categories (the S3-Rec / P5 / TIGER 5-core splits) as SequenceDatasets.

Dataset `amazon_<category>` reads `<data_dir>/amazon-<category>/` (e.g. amazon_beauty -> amazon-beauty/).
Nothing is specific to Beauty. Interaction files, first match wins:
  reviews_<Category>_5.json[.gz]  McAuley's original 5-core reviews, one JSON object per line with
                                  `reviewerID`, `asin`, `overall`, `unixReviewTime`;
  ratings_<Category>.csv          McAuley's ratings-only file `user,item,rating,timestamp` (no header);
  <Category>.txt                  the shared S3-Rec copy: `user_id item_id ...`, ints from 1, time order.
Matching of <Category> is case-insensitive, with '-' and '_' equivalent. Optional side information:
  items.tsv      TSV with header `item_id asin attributes ...`; attributes = brand and category names joined
                 by '|' (the shared copy; item_id as in <Category>.txt, or asin for the original files).

Rules. Original files: users and items are numbered in order of first appearance in the file (so ids
differ from the S3-Rec copy's, the splits do not); rows sorted by unixReviewTime, ties in file order.
`positive` = overall >= 4 and feedback `like` = the same where ratings exist, else every interaction is
positive and the feedback is zero. Item catalogue: the items interacted with, in item-id order.
Item side information (`item_content` [i, a]): multi-hot over the a attribute names of items.tsv (sorted);
`item_author` = brand (an attribute that only ever appears first in a list; 0 = none, brands sorted from 1);
`item_category` = the item's last (most specific) category name (sorted, from 1; 0 = none). Without
items.tsv: one constant content column, category and author 0.
"""

from __future__ import annotations

import csv
import gzip
import json
import os

import numpy as np

from onerec_jax.input import interactions as ix


def _norm(text: str) -> str:
  return text.lower().replace("-", "_")


def category_folder(root: str, category: str) -> str:
  """`<root>/amazon-<category>` (case-insensitive, '-' == '_'), or a DataError listing what exists."""
  want = _norm("amazon-" + category)
  found = [d for d in (os.listdir(root) if os.path.isdir(root) else []) if _norm(d) == want]
  if not found:
    have = sorted(d for d in os.listdir(root) if _norm(d).startswith("amazon_")) if os.path.isdir(root) else []
    raise ix.DataError(f"no folder amazon-{category} under {root!r}; amazon folders there: {have}")
  return os.path.join(root, found[0])


def _find(folder: str, pattern: str, category: str) -> str | None:
  """The file in folder whose name, normalised, equals pattern.format(category), normalised."""
  want = _norm(pattern.format(category))
  for name in sorted(os.listdir(folder)):
    if _norm(name) == want:
      return os.path.join(folder, name)
  return None


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


def _read_items_tsv(path: str | None):
  """{item key (int id and asin): [attribute names]} from items.tsv."""
  out = {}
  if path is None:
    return out
  for number, line in ix.read_lines(path):
    if number == 1:
      continue
    f = ix.split_fields(line, "\t", ("item_id", "asin", "attributes"), path, number, at_least=True)
    names = [a for a in f[2].split("|") if a]
    out[ix.parse_int(f[0], path, number, "item_id")] = names
    out[f[1]] = names
  return out


def _side_info(keys: list, attributes: dict) -> ix.ItemSide:
  lists = [attributes.get(k, []) for k in keys]
  if not attributes:
    return ix.ItemSide(np.zeros(len(keys), np.int32), np.zeros(len(keys), np.int32),
                       np.ones((len(keys), 1), np.float32), 1, 1, np.array(keys, dtype=object))
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
  return ix.ItemSide(category, author, content, len(categories) + 1, len(brands) + 1,
                     np.array(keys, dtype=object))


def load_amazon(root: str, category: str) -> ix.LoadedDataset:
  """Amazon `<category>` from `<root>/amazon-<category>/` (see the module docstring for the files)."""
  folder = category_folder(root, category)
  name = "amazon_" + _norm(category)
  attributes = _read_items_tsv(_find(folder, "items.tsv", category))
  reviews = _find(folder, "reviews_{}_5.json.gz", category) or _find(folder, "reviews_{}_5.json", category)
  ratings = _find(folder, "ratings_{}.csv", category)
  original = reviews or ratings
  if original:
    rows = _read_reviews_json(reviews) if reviews else _read_ratings_csv(ratings)
    users, items, cols = {}, {}, ([], [], [], [])
    for number, (user, item, rating, time) in rows:
      cols[0].append(users.setdefault(user, len(users) + 1))
      cols[1].append(items.setdefault(item, len(items)))
      cols[2].append(ix.parse_float(str(rating), original, number, "rating"))
      cols[3].append(ix.parse_float(str(time), original, number, "timestamp"))
    user, item, rating, time = (np.array(c) for c in cols)
    positive = rating >= 4
    feedback = np.zeros((len(user), 4), np.float32)
    feedback[:, 1] = positive
    side = _side_info(list(items), attributes)
    inter = ix.Interactions.build(user, item, time, feedback, positive, original)
    return ix.pack_sequences(inter, side, name=name)
  sequences = _find(folder, "{}.txt", category)
  if sequences is None:
    raise ix.DataError(f"{folder}: none of reviews_<C>_5.json[.gz], ratings_<C>.csv, <C>.txt for "
                       f"category {category!r}")
  user, raw_item, lines, empty = ix.read_sequence_file(sequences)
  if attributes:
    known = np.array([k for k in attributes if isinstance(k, int)], np.int64)
    ix.check_known_items(raw_item, known, lines, sequences, "item_id", "items.tsv")
  catalogue, item = ix.dense_index(raw_item)
  inter = ix.Interactions.build(user, item, None, None, None, sequences)
  return ix.pack_sequences(inter, _side_info([int(c) for c in catalogue], attributes), name=name,
                           empty_users=empty)
