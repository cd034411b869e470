"""Real-data loaders on small fixtures in the original and the shared formats (tests/data/fixtures).

Both formats of each dataset hold the same interactions (tests/data/make_fixtures.py), so the loaders must
give the same sequences; the rules (time order, short users dropped) and the errors (file, line, field)
are checked by hand.
"""

import logging
import os
import shutil

import numpy as np
import pytest

from onerec_jax.input import datasets
from onerec_jax.input.amazon import load_amazon
from onerec_jax.input.config import DataConfig
from onerec_jax.input.interactions import DataError
from onerec_jax.input.kuairand import load_kuairand_pure
from onerec_jax.input.movielens import GENRES, load_ml100k, load_ml1m

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "data", "fixtures")
ORIGINAL, SHARED = os.path.join(FIXTURES, "original"), os.path.join(FIXTURES, "shared")


def raw_sequences(loaded):
  """{user id: [raw item ids in time order]}."""
  d = loaded.data
  return {int(u): [loaded.item_raw_ids[i] for i in d.items[r, : d.lengths[r]]] for r, u in enumerate(d.user_ids)}


def test_ml1m_ratings_dat_and_sequences_txt_agree(caplog):
  with caplog.at_level(logging.INFO):
    original = load_ml1m(ORIGINAL)
  shared = load_ml1m(SHARED)
  expected = {1: [20, 30, 10, 40], 2: [50, 10, 20], 3: [60, 10, 30, 20, 50]}  # by timestamp; user 4 dropped
  assert raw_sequences(original) == expected == raw_sequences(shared)
  assert original.stats.rules == {
    "users_reordered": 2,
    "users_dropped_short": 1,
    "interactions_dropped_short": 2,
    "users_dropped_empty": 0,
  }
  assert "users_dropped_short': 1" in caplog.text  # the rule is counted in a log line
  assert (original.stats.raw_users, original.stats.raw_items, original.stats.raw_interactions) == (4, 6, 14)
  d = original.data
  # positive = rating >= 4: user 1 in time order rated 3, 4, 5, 2; sequences.txt has no ratings.
  np.testing.assert_array_equal(d.positive[0, :4], [False, True, True, False])
  np.testing.assert_array_equal(d.feedback[0, :4, 1], [0, 1, 1, 0])
  assert shared.data.positive[0, :4].all() and not shared.data.feedback.any()
  # Catalogue = rated movies in MovieID order (70 never rated); content = 19 genres + 11 decades.
  np.testing.assert_array_equal(original.item_raw_ids, [10, 20, 30, 40, 50, 60])
  assert d.item_content.shape == (6, 30)
  toy = d.item_content[0]
  assert [GENRES[g] for g in np.nonzero(toy[:19])[0]] == ["Animation", "Children's", "Comedy"]
  assert toy[19 + 1 + (1990 - 1910) // 10] == 1  # the 1990s
  assert d.item_category[0] == GENRES.index("Animation")
  np.testing.assert_array_equal(d.user_static[0], [1, 1, 11])  # F, age code 1 -> bucket 1, occupation 10 + 1


def test_ml100k_grouplens_and_recbole_agree():
  original, shared = load_ml100k(ORIGINAL), load_ml100k(SHARED)
  assert (
    raw_sequences(original) == raw_sequences(shared) == {1: [20, 30, 10, 40], 2: [50, 10, 20], 3: [60, 10, 30, 20, 50]}
  )
  for field in ("items", "positive", "feedback", "user_static", "item_content", "item_category"):
    np.testing.assert_array_equal(getattr(original.data, field), getattr(shared.data, field), err_msg=field)


def test_amazon_original_reviews_and_shared_layout_agree():
  shared, original = load_amazon(SHARED, "beauty"), load_amazon(ORIGINAL, "toys")  # nothing Beauty-specific
  asin = {1: "B02", 2: "B03", 3: "B01", 4: "B04", 5: "B05"}  # the shared copy's ids (items.tsv)
  by_asin = {u: [asin[i] for i in seq] for u, seq in raw_sequences(shared).items()}
  assert (
    by_asin
    == raw_sequences(original)
    == {1: ["B02", "B03", "B01"], 2: ["B02", "B04", "B01", "B03"], 3: ["B04", "B03", "B05"]}
  )
  assert shared.data.name == "amazon_beauty" and original.data.name == "amazon_toys"
  np.testing.assert_array_equal(original.data.positive[1, :4], [True, True, False, True])  # overall >= 4
  # Side information: brands only ever appear first; the category is the most specific name.
  d, ids = shared.data, list(shared.item_raw_ids)
  b03, b02 = ids.index(2), ids.index(1)
  assert d.item_author[b03] > 0 and d.item_author[b02] == 0  # Maybelline vs no brand
  assert d.num_authors == 4  # none, Cococare, Maybelline, OPI
  assert d.item_content[b03].sum() == 4  # Maybelline|Makeup|Eyes|Mascara


def test_kuairand_feedback_positive_and_short_users():
  loaded = load_kuairand_pure(SHARED)
  d = loaded.data
  assert raw_sequences(loaded) == {7: [100, 102, 101], 8: [101, 100, 102]}
  assert loaded.stats.raw_users == 3 and loaded.stats.rules["users_dropped_short"] == 1
  np.testing.assert_allclose(d.feedback[0, :3, 0], [1, 0, 1])  # long_view
  np.testing.assert_allclose(d.feedback[0, :3, 2], [0.9, 0.02, 2.0])  # play / duration
  np.testing.assert_allclose(d.feedback[0, 0, 3], np.log1p(10.0) / 5)
  np.testing.assert_array_equal(d.positive[1, :3], [True, True, False])  # like or long view
  assert d.item_author[0] == d.item_author[2] != d.item_author[1]  # author 55 twice
  assert d.item_category[2] == 0 and d.item_category[0] == 1  # video 102 has no tag; 100's first tag is 3
  assert d.user_static.shape == (2, 5) and (d.user_static > 0).all()


def test_registry_names_and_config():
  names = datasets.dataset_names()
  for n in ("synthetic", "ml1m", "ml100k", "amazon_beauty", "kuairand_pure"):
    assert n in names
  assert datasets.is_known_dataset("amazon_sports") and not datasets.is_known_dataset("movielens")
  DataConfig(dataset="amazon_toys").validate()
  with pytest.raises(ValueError, match="data.dataset='movielens' is unknown"):
    DataConfig(dataset="movielens").validate()
  data, sim = datasets.load_sequences(DataConfig(dataset="ml1m", data_dir=SHARED))
  assert sim is None and data.num_users == 3


def test_data_dir_from_environment(monkeypatch):
  monkeypatch.setenv("ONEREC_DATA_DIR", ORIGINAL)
  assert datasets.load_dataset(DataConfig(dataset="ml100k")).data.num_users == 3
  monkeypatch.delenv("ONEREC_DATA_DIR")
  with pytest.raises(DataError, match="no data directory"):
    datasets.load_dataset(DataConfig(dataset="ml100k"))
  with pytest.raises(DataError, match="no folder amazon-garden"):
    datasets.load_dataset(DataConfig(dataset="amazon_garden", data_dir=SHARED))


def _copy(tmp_path, root, folder):
  dst = tmp_path / folder
  shutil.copytree(os.path.join(root, folder), dst)
  return dst


@pytest.mark.parametrize(
  "line, message",
  [
    ("1::10::5\n", r"ratings.dat:2: expected 4 fields \(UserID, MovieID, Rating, Timestamp\)"),
    ("1::ten::5::100\n", r"ratings.dat:2: field 'MovieID' is not an integer: 'ten'"),
    ("1::99::5::100\n", r"ratings.dat:2: field 'item_id' = 99 is not in movies.dat"),
    ("1::10::5::nan\n", r"ratings.dat:2: field 'Timestamp' is not an integer"),
  ],
)
def test_ml1m_bad_rows_name_file_line_field(tmp_path, line, message):
  folder = _copy(tmp_path, ORIGINAL, "ml-1m")
  rows = (folder / "ratings.dat").read_text().splitlines(keepends=True)
  (folder / "ratings.dat").write_text(rows[0] + line + "".join(rows[1:]))
  with pytest.raises(DataError, match=message):
    load_ml1m(str(tmp_path))


def test_sequence_file_rules_and_errors(tmp_path):
  folder = _copy(tmp_path, SHARED, "ml-1m")
  text = (folder / "sequences.txt").read_text()
  (folder / "sequences.txt").write_text(text + "5\n")  # a user with an empty history: dropped, counted
  loaded = load_ml1m(str(tmp_path))
  assert loaded.stats.rules["users_dropped_empty"] == 1 and loaded.stats.raw_users == 5
  (folder / "sequences.txt").write_text(text + "2 10 20 30\n")
  with pytest.raises(DataError, match=r"sequences.txt:5: field 'user_id' 2 already listed on line 2"):
    load_ml1m(str(tmp_path))
  (folder / "sequences.txt").write_text(text + "6 10 x 30\n")
  with pytest.raises(DataError, match=r"sequences.txt:5: field 'item_2' is not an integer: 'x'"):
    load_ml1m(str(tmp_path))


def test_amazon_and_kuairand_bad_input(tmp_path):
  folder = _copy(tmp_path, ORIGINAL, "amazon-toys")
  with open(folder / "reviews_Toys_5.json", "a") as f:
    f.write('{"reviewerID": "A9", "asin": "B01"}\n')
  with pytest.raises(DataError, match=r"reviews_Toys_5.json:11: field 'overall' missing"):
    load_amazon(str(tmp_path), "toys")
  folder = _copy(tmp_path, SHARED, "kuairand-pure-slice")
  log = folder / "log_standard_4_25_to_5_08_pure.csv"
  lines = log.read_text().splitlines(keepends=True)
  log.write_text("".join(lines[:3]) + lines[3].replace(",102,", ",999,") + "".join(lines[4:]))
  with pytest.raises(
    DataError,
    match=r"log_standard_4_25_to_5_08_pure.csv:4: field 'video_id' = 999 is not in "
    "video_features_basic_pure.csv",
  ):
    load_kuairand_pure(str(tmp_path))
  log.write_text("".join(lines[:2]) + lines[2].replace(",1001,", ",10x1,") + "".join(lines[3:]))
  with pytest.raises(DataError, match=r":3: field 'time_ms' is not a number: '10x1'"):
    load_kuairand_pure(str(tmp_path))
