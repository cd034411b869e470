"""MovieLens-1M and MovieLens-100K as SequenceDatasets, from the shared copies or the GroupLens files.

Files read, in `<data_dir>/ml-1m/` (first match wins):
  ratings.dat     GroupLens original, `UserID::MovieID::Rating::Timestamp`;
  sequences.txt   the shared copy: `user_id item_1 ... item_n`, original ids, time order (no ratings, no
                  timestamps; ../shared/data/ml-1m/SOURCE.md: DiffuRec's order, i.e. by rating timestamp);
  movies.dat      `MovieID::Title (Year)::Genre|Genre` (latin-1), needed for the item side information;
  users.dat       `UserID::Gender::Age::Occupation::Zip` (optional: static user features).
and in `<data_dir>/ml-100k/`:
  u.data / u.item / u.user                       GroupLens original (tab / `|` separated, latin-1);
  ml-100k.inter / ml-100k.item / ml-100k.user    RecBole atomic files (the shared copy).

Rules. Time order: by timestamp, ties kept in file order (ratings.dat ties may therefore differ from the
shared sequences.txt, whose tie order is DiffuRec's). Item catalogue: the movies with at least one
interaction, indexed in MovieID order (ML-1M: 3,706). Feedback: `like` = rating >= 4 where ratings exist,
every other FEEDBACK_NAMES column 0; `positive` = rating >= 4, or every interaction when the file has
no ratings (sequences.txt).
Item side information (`item_content` [i, 30]): 19 genre multi-hot (GENRES order) + 11 decade-of-release
one-hot (unknown/before 1910, 1910s, ..., 2000s+); `item_category` = first listed genre, `item_author` 0.
User static features: gender (1 F, 2 M), age bucket (1..7, ML-1M codes), occupation (1..), 0 = unknown.
Item text (DatasetSpec.item_texts, for the tokenizer's text embeddings): ML-1M `movies.dat` title (with
year) and genres, plus the director and the first three actors from `movies_extrainfos.dat` where that file
exists (the shared copy has it); ML-100K `u.item` title and genres, or `ml-100k.item` title, year, genres.
"""

from __future__ import annotations

import os
import re

import numpy as np

from onerec_jax.input import interactions as ix
from onerec_jax.input.dataset_spec import DatasetSpec, read_text_lines, texts_in_order

GENRES = (
  "unknown",
  "Action",
  "Adventure",
  "Animation",
  "Children's",
  "Comedy",
  "Crime",
  "Documentary",
  "Drama",
  "Fantasy",
  "Film-Noir",
  "Horror",
  "Musical",
  "Mystery",
  "Romance",
  "Sci-Fi",
  "Thriller",
  "War",
  "Western",
)
AGE_BUCKETS = (1, 18, 25, 35, 45, 50, 56)  # ML-1M age codes = lower bounds of the buckets
STATIC_VOCAB = (3, len(AGE_BUCKETS) + 1, 32)  # gender, age bucket, occupation (index 0 = unknown)
_YEAR = re.compile(r"\((\d{4})\)\s*$")


def _age_bucket(age: int) -> int:
  return int(np.searchsorted(AGE_BUCKETS, age, side="right"))  # 1..7


def _side_info(raw_items: np.ndarray, genres: dict[int, list[int]], years: dict[int, int]) -> ix.ItemSide:
  """Side information of the catalogue `raw_items` [i] (sorted MovieIDs)."""
  lists = [genres.get(int(m), []) for m in raw_items]
  year = np.array([years.get(int(m), 0) for m in raw_items])
  content = np.concatenate([ix.one_hot_rows(lists, len(GENRES)), ix.decade_one_hot(year)], axis=1)
  category = np.array([g[0] if g else 0 for g in lists], np.int32)
  return ix.ItemSide(category, np.zeros(len(raw_items), np.int32), content, len(GENRES), 1, raw_items)


def _genre_ids(names: list[str], path: str, line: int) -> list[int]:
  out = []
  for g in names:
    if g not in GENRES:
      raise ix.DataError(f"{path}:{line}: field 'genres' has unknown genre {g!r}; known: {GENRES}")
    out.append(GENRES.index(g))
  return out


def _finish(
  name: str,
  user,
  raw_item,
  lines,
  time,
  rating,
  source: str,
  item_path: str,
  genres,
  years,
  user_static,
  empty_users: int = 0,
) -> ix.LoadedDataset:
  """Catalogue, checks and packing shared by both MovieLens sets."""
  if genres:
    ix.check_known_items(raw_item, np.fromiter(genres, np.int64), lines, source, "item_id", os.path.basename(item_path))
  catalogue, item = ix.dense_index(raw_item)
  feedback, positive = None, None
  if rating is not None:
    positive = rating >= 4
    feedback = np.zeros((len(user), 4), np.float32)
    feedback[:, 1] = positive  # FEEDBACK_NAMES[1] == 'like'
  inter = ix.Interactions.build(user, item, time, feedback, positive, source)
  return ix.pack_sequences(
    inter,
    _side_info(catalogue, genres, years),
    name=name,
    user_static=user_static,
    static_vocab_sizes=STATIC_VOCAB,
    empty_users=empty_users,
  )


def _read_dat_users(path: str) -> dict[int, np.ndarray]:
  """users.dat -> {UserID: [gender, age bucket, occupation + 1]}."""
  out = {}
  if not os.path.exists(path):
    return out
  for number, line in ix.read_lines(path, "latin-1"):
    f = ix.split_fields(line, "::", ("UserID", "Gender", "Age", "Occupation", "Zip-code"), path, number)
    gender = {"F": 1, "M": 2}.get(f[1], 0)
    age = ix.parse_int(f[2], path, number, "Age")
    occupation = ix.parse_int(f[3], path, number, "Occupation") + 1
    out[ix.parse_int(f[0], path, number, "UserID")] = np.array(
      [gender, _age_bucket(age), min(occupation, STATIC_VOCAB[2] - 1)], np.int32
    )
  return out


def _read_movies_dat(path: str) -> tuple[dict, dict]:
  genres, years = {}, {}
  if not os.path.exists(path):
    return genres, years
  for number, line in ix.read_lines(path, "latin-1"):
    f = ix.split_fields(line, "::", ("MovieID", "Title", "Genres"), path, number)
    movie = ix.parse_int(f[0], path, number, "MovieID")
    genres[movie] = _genre_ids(f[2].split("|") if f[2] else [], path, number)
    m = _YEAR.search(f[1])
    years[movie] = int(m.group(1)) if m else 0
  return genres, years


def load_ml1m(root: str) -> ix.LoadedDataset:
  """ML-1M from `<root>/ml-1m` (ratings.dat if present, else the shared sequences.txt)."""
  folder = ix.dataset_folder(root, "ml-1m")
  ratings, sequences = os.path.join(folder, "ratings.dat"), os.path.join(folder, "sequences.txt")
  movies = os.path.join(folder, "movies.dat")
  genres, years = _read_movies_dat(movies)
  users = _read_dat_users(os.path.join(folder, "users.dat"))
  if os.path.exists(ratings):
    cols = ([], [], [], [], [])
    for number, line in ix.read_lines(ratings, "latin-1"):
      f = ix.split_fields(line, "::", ("UserID", "MovieID", "Rating", "Timestamp"), ratings, number)
      cols[0].append(ix.parse_int(f[0], ratings, number, "UserID"))
      cols[1].append(ix.parse_int(f[1], ratings, number, "MovieID"))
      cols[2].append(ix.parse_float(f[2], ratings, number, "Rating"))
      cols[3].append(ix.parse_int(f[3], ratings, number, "Timestamp"))
      cols[4].append(number)
    user, item, rating, time, lines = (np.array(c) for c in cols)
    return _finish("ml1m", user, item, lines, time, rating, ratings, movies, genres, years, users)
  if os.path.exists(sequences):
    user, item, lines, empty = ix.read_sequence_file(sequences)
    return _finish("ml1m", user, item, lines, None, None, sequences, movies, genres, years, users, empty)
  raise ix.DataError(f"{folder}: neither ratings.dat (GroupLens) nor sequences.txt (shared copy) found")


def _read_100k_items(folder: str) -> tuple[dict, dict, str]:
  """Genres and years from u.item (GroupLens) or ml-100k.item (RecBole)."""
  genres, years = {}, {}
  original, recbole = os.path.join(folder, "u.item"), os.path.join(folder, "ml-100k.item")
  if os.path.exists(original):
    for number, line in ix.read_lines(original, "latin-1"):
      f = ix.split_fields(
        line, "|", ("movie id", "title", "release date", "video release date", "URL") + GENRES, original, number
      )
      movie = ix.parse_int(f[0], original, number, "movie id")
      genres[movie] = [g for g in range(len(GENRES)) if f[5 + g] == "1"]
      years[movie] = int(f[2][-4:]) if f[2][-4:].isdigit() else 0
    return genres, years, original
  if os.path.exists(recbole):
    for number, line in ix.read_lines(recbole):
      if number == 1:
        continue  # header
      f = ix.split_fields(line, "\t", ("item_id", "movie_title", "release_year", "class"), recbole, number)
      movie = ix.parse_int(f[0], recbole, number, "item_id")
      genres[movie] = _genre_ids(f[3].split(), recbole, number)
      years[movie] = int(f[2]) if f[2].isdigit() else 0
    return genres, years, recbole
  return genres, years, original


def _read_100k_users(folder: str) -> dict[int, np.ndarray]:
  original, recbole = os.path.join(folder, "u.user"), os.path.join(folder, "ml-100k.user")
  rows = []
  if os.path.exists(original):
    for number, line in ix.read_lines(original, "latin-1"):
      f = ix.split_fields(line, "|", ("user id", "age", "gender", "occupation", "zip code"), original, number)
      rows.append((original, number, f))
  elif os.path.exists(recbole):
    for number, line in ix.read_lines(recbole):
      if number > 1:
        rows.append(
          (
            recbole,
            number,
            ix.split_fields(line, "\t", ("user_id", "age", "gender", "occupation", "zip_code"), recbole, number),
          )
        )
  occupations = sorted({f[3] for _, _, f in rows})
  out = {}
  for path, number, f in rows:
    out[ix.parse_int(f[0], path, number, "user_id")] = np.array(
      [
        {"F": 1, "M": 2}.get(f[2], 0),
        _age_bucket(ix.parse_int(f[1], path, number, "age")),
        min(occupations.index(f[3]) + 1, STATIC_VOCAB[2] - 1),
      ],
      np.int32,
    )
  return out


def load_ml100k(root: str) -> ix.LoadedDataset:
  """ML-100K from `<root>/ml-100k` (u.data if present, else the RecBole ml-100k.inter)."""
  folder = ix.dataset_folder(root, "ml-100k")
  original, recbole = os.path.join(folder, "u.data"), os.path.join(folder, "ml-100k.inter")
  if os.path.exists(original):
    path, sep, header = original, "\t", False
  elif os.path.exists(recbole):
    path, sep, header = recbole, "\t", True
  else:
    raise ix.DataError(f"{folder}: neither u.data (GroupLens) nor ml-100k.inter (RecBole) found")
  cols = ([], [], [], [], [])
  names = ("user_id", "item_id", "rating", "timestamp")
  for number, line in ix.read_lines(path, "latin-1"):
    if header and number == 1:
      continue
    f = ix.split_fields(line, sep, names, path, number)
    cols[0].append(ix.parse_int(f[0], path, number, names[0]))
    cols[1].append(ix.parse_int(f[1], path, number, names[1]))
    cols[2].append(ix.parse_float(f[2], path, number, names[2]))
    cols[3].append(ix.parse_float(f[3], path, number, names[3]))
    cols[4].append(number)
  user, item, rating, time, lines = (np.array(c) for c in cols)
  genres, years, item_path = _read_100k_items(folder)
  return _finish("ml100k", user, item, lines, time, rating, path, item_path, genres, years, _read_100k_users(folder))


def _ml1m_texts(folder: str) -> dict[int, str]:
  texts = {}
  for line in read_text_lines(os.path.join(folder, "movies.dat"), "latin-1"):
    movie, title, genres = line.split("::")[:3]
    texts[int(movie)] = f"{title}. Genres: {genres.replace('|', ', ')}."
  extra = os.path.join(folder, "movies_extrainfos.dat")
  if os.path.exists(extra):
    for line in read_text_lines(extra, "utf-8"):
      f = line.split("::")
      if len(f) >= 9 and int(f[0]) in texts:
        actors = ", ".join(a.strip() for a in f[8].split(",")[:3] if a.strip() and a.strip() != "N/A")
        director = f[6].strip() if f[6].strip() != "N/A" else ""
        texts[int(f[0])] += (f" Director: {director}." if director else "") + (f" Cast: {actors}." if actors else "")
  return texts


def ml1m_item_texts(root: str, name: str, raw_ids) -> list[str]:
  """One text per MovieID: `Title (Year). Genres: a, b.` [+ ` Director: d. Cast: x, y, z.`]."""
  return texts_in_order(name, _ml1m_texts(os.path.join(root, "ml-1m")), raw_ids, "ml-1m/movies.dat")


def ml1m_describe_text(root: str, name: str) -> str:
  extra = os.path.exists(os.path.join(root, "ml-1m", "movies_extrainfos.dat"))
  return "ml-1m/movies.dat title (year) and genres" + (
    "; director and first 3 actors from ml-1m/movies_extrainfos.dat"
    if extra
    else " (no movies_extrainfos.dat: no director or cast)"
  )


def _ml100k_texts(folder: str) -> dict[int, str]:
  texts = {}
  original, recbole = os.path.join(folder, "u.item"), os.path.join(folder, "ml-100k.item")
  if os.path.exists(original):
    for line in read_text_lines(original, "latin-1"):
      f = line.split("|")
      genres = [g for g, flag in zip(GENRES, f[5:]) if flag == "1"]
      texts[int(f[0])] = f"{f[1]}. Genres: {', '.join(genres)}."
  else:
    for line in read_text_lines(recbole, "latin-1")[1:]:
      f = line.split("\t")
      texts[int(f[0])] = f"{f[1]} ({f[2]}). Genres: {', '.join(f[3].split())}."
  return texts


def ml100k_item_texts(root: str, name: str, raw_ids) -> list[str]:
  """One text per movie id: `Title. Genres: a, b.` (u.item) or `Title (Year). Genres: a, b.` (RecBole)."""
  folder = os.path.join(root, "ml-100k")
  item_file = "u.item" if os.path.exists(os.path.join(folder, "u.item")) else "ml-100k.item"
  return texts_in_order(name, _ml100k_texts(folder), raw_ids, f"ml-100k/{item_file}")


def ml100k_describe_text(root: str, name: str) -> str:
  if os.path.exists(os.path.join(root, "ml-100k", "u.item")):
    return "ml-100k/u.item movie title and genre flags"
  return "ml-100k/ml-100k.item columns movie_title, release_year, class (genres)"


SPECS = (
  DatasetSpec(
    "ml1m",
    lambda root, name: load_ml1m(root),
    ml1m_item_texts,
    ml1m_describe_text,
    protocol="hstu",
    description="MovieLens-1M, <data_dir>/ml-1m/ (GroupLens ratings.dat or the shared sequences.txt)",
  ),
  DatasetSpec(
    "ml100k",
    lambda root, name: load_ml100k(root),
    ml100k_item_texts,
    ml100k_describe_text,
    description="MovieLens-100K, <data_dir>/ml-100k/ (GroupLens u.* or RecBole ml-100k.*)",
  ),
)
