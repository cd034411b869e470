"""The dataset registry (onerec_jax/input/datasets.py): every dataset is one DatasetSpec next to its loader;
Amazon category folders are read by what they hold; item text comes from the spec and says which columns it used.

Fixtures: tests/data/fixtures (tests/data/make_fixtures.py). `shared/amazon-sports/` is a short folder name
beside `Sports_and_Outdoors.txt` (the official category name), an items.tsv with `item_id asin name` (no
attributes column) and an IDGenRec-style `idgenrec_item_textid.txt` that is not interactions.
"""

import os
import shutil

import numpy as np
import pytest

from onerec_jax.input import datasets
from onerec_jax.input.amazon import interaction_file, load_amazon
from onerec_jax.input.config import DataConfig
from onerec_jax.input.dataset_spec import DatasetSpec
from onerec_jax.input.interactions import DataError
from onerec_jax.input.movielens import load_ml100k
from onerec_jax.tokenizer import item_text

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "data", "fixtures")
ORIGINAL, SHARED = os.path.join(FIXTURES, "original"), os.path.join(FIXTURES, "shared")
BY_ASIN = {1: ["B02", "B03", "B01"], 2: ["B02", "B04", "B01", "B03"], 3: ["B04", "B03", "B05"]}


def raw_sequences(loaded):
  d = loaded.data
  return {int(u): [loaded.item_raw_ids[i] for i in d.items[r, : d.lengths[r]]] for r, u in enumerate(d.user_ids)}


@pytest.fixture
def scratch_spec():
  """Registers specs for one test and removes them afterwards."""
  added = []

  def add(spec, **kw):
    added.append(spec.name)
    return datasets.register(spec, **kw)

  yield add
  for name in added:
    datasets.unregister(name)


def test_registry_lists_every_dataset_with_its_spec():
  names = datasets.dataset_names()
  assert names[0] == "synthetic"
  for n in ("ml1m", "ml100k", "amazon_beauty", "kuairand_pure"):
    assert n in names
  assert {s.name for s in datasets.specs()} >= {"synthetic", "ml1m", "ml100k", "kuairand_pure", "amazon_<category>"}
  for spec in datasets.specs():
    assert spec.description and spec.load is not None, spec.name
  assert datasets.get_spec("ml1m").protocol == "hstu" and datasets.get_spec("amazon_sports").protocol == "tiger"
  assert datasets.get_spec("amazon_sports").name == "amazon_<category>"
  assert not datasets.get_spec("kuairand_pure").has_text and datasets.get_spec("ml100k").has_text
  assert not datasets.get_spec("synthetic").reads_files
  # A pattern lists one name per folder it finds in the data directory.
  assert "amazon_sports" in datasets.dataset_names(SHARED) and "amazon_toys" in datasets.dataset_names(ORIGINAL)


def test_unknown_names_fail_with_the_known_list():
  for call in (
    lambda: datasets.get_spec("movielens"),
    lambda: datasets.load_dataset(DataConfig(dataset="movielens", data_dir=SHARED)),
    lambda: datasets.load_sequences(DataConfig(dataset="movielens", tfds_dir="/tmp")),
    lambda: item_text.item_texts("movielens", SHARED, [1]),
  ):
    with pytest.raises(
      ValueError,
      match=r"data.dataset='movielens' is unknown; known: \('synthetic', .*'ml1m'.*\) "
      r"\(or amazon_<category>\)",
    ):
      call()
  assert not datasets.is_known_dataset("amazon_") and datasets.is_known_dataset("amazon_x")


def test_a_new_spec_is_one_registration(scratch_spec, tmp_path):
  """Adding a dataset touches one place: its spec. Loading, listing, config validation and text follow."""

  def texts(root, name, raw_ids):
    return [f"movie {int(r)}" for r in raw_ids]

  scratch_spec(
    DatasetSpec(
      "toy_movies",
      lambda root, name: load_ml100k(root),
      texts,
      lambda root, name: "ids",
      description="ML-100K under another name",
    )
  )
  assert "toy_movies" in datasets.dataset_names()
  DataConfig(dataset="toy_movies").validate()
  loaded = datasets.load_dataset(DataConfig(dataset="toy_movies", data_dir=ORIGINAL))
  assert raw_sequences(loaded) == raw_sequences(load_ml100k(ORIGINAL))
  data, sim = datasets.load_sequences(DataConfig(dataset="toy_movies", data_dir=ORIGINAL))
  assert sim is None and data.num_users == 3
  assert item_text.item_texts("toy_movies", ORIGINAL, loaded.item_raw_ids[:2]) == ["movie 10", "movie 20"]
  assert item_text.describe_item_text("toy_movies", ORIGINAL) == "ids"
  with pytest.raises(ValueError, match="already registered"):
    datasets.register(DatasetSpec("toy_movies", lambda root, name: None))
  # A pattern spec: every name with its prefix; the most specific pattern wins.
  scratch_spec(DatasetSpec("toyfam_<x>", lambda root, name: load_ml100k(root), description="family"))
  scratch_spec(DatasetSpec("amazon_toyfam_<x>", lambda root, name: load_ml100k(root), description="narrower"))
  assert datasets.get_spec("toyfam_a").name == "toyfam_<x>"
  assert datasets.get_spec("amazon_toyfam_a").name == "amazon_toyfam_<x>"
  assert datasets.get_spec("amazon_beauty").name == "amazon_<category>"
  with pytest.raises(ValueError, match="'toyfam_a' has no item text"):
    datasets.item_texts(ORIGINAL, "toyfam_a", [1])
  with pytest.raises(ValueError, match="placeholder"):
    DatasetSpec("bad_<x>_y", lambda root, name: None)


def test_short_folder_name_beside_the_official_file_loads():
  sports = load_amazon(SHARED, "sports")
  assert sports.data.name == "amazon_sports"
  asin = {1: "B02", 2: "B03", 3: "B01", 4: "B04", 5: "B05"}  # items.tsv item_id -> asin
  assert {u: [asin[i] for i in seq] for u, seq in raw_sequences(sports).items()} == BY_ASIN
  # Same interactions as the Beauty fixture; no attributes column: one constant content column.
  beauty = load_amazon(SHARED, "beauty")
  np.testing.assert_array_equal(sports.data.items, beauty.data.items)
  assert sports.data.item_content.shape == (5, 1) and not sports.data.item_author.any()
  # Through the registry, and also under the official category name (found by its file, no such folder).
  assert datasets.load_dataset(DataConfig(dataset="amazon_sports", data_dir=SHARED)).data.num_users == 3
  official = datasets.load_dataset(DataConfig(dataset="amazon_sports_and_outdoors", data_dir=SHARED))
  assert official.data.name == "amazon_sports_and_outdoors"
  np.testing.assert_array_equal(official.data.items, sports.data.items)
  chosen = interaction_file(os.path.join(SHARED, "amazon-sports"), "sports")
  assert os.path.basename(chosen.path) == "Sports_and_Outdoors.txt" and chosen.kind == "sequences"


def test_items_without_attributes_give_texts_and_name_the_columns(tmp_path):
  loaded = load_amazon(SHARED, "sports")
  texts = item_text.item_texts("amazon_sports", SHARED, loaded.item_raw_ids)
  assert texts == ["yoga mat.", "camping lantern.", "trail running shoes.", "unknown item", "water bottle."]
  described = item_text.describe_item_text("amazon_sports", SHARED)
  assert described == "amazon-sports/items.tsv: short text from column 'name'; no 'attributes' column"
  # The shared Beauty layout: both parts, and the description names both columns.
  beauty = load_amazon(SHARED, "beauty")
  assert item_text.item_texts("amazon_beauty", SHARED, beauty.item_raw_ids[:1]) == [
    "text 1. Brand and categories: Skin Care, Face."
  ]
  assert "'idgenrec_textid'" in datasets.describe_item_text(SHARED, "amazon_beauty")
  # Attributes and no text column (read by the header names, in any order), keyed by ASIN.
  folder = tmp_path / "amazon-toys"
  shutil.copytree(os.path.join(ORIGINAL, "amazon-toys"), folder)
  rows = (folder / "items.tsv").read_text().splitlines()[1:]
  (folder / "items.tsv").write_text(
    "attributes\tasin\textra\n" + "".join(f"{r.split(chr(9))[2]}\t{r.split(chr(9))[1]}\tx\n" for r in rows)
  )
  toys = load_amazon(str(tmp_path), "toys")
  assert raw_sequences(toys) == BY_ASIN and toys.data.item_content.shape[1] > 1  # attributes still used
  assert item_text.item_texts("amazon_toys", str(tmp_path), ["B03"]) == [
    "Brand and categories: Maybelline, Makeup, Eyes, Mascara."
  ]
  assert datasets.describe_item_text(str(tmp_path), "amazon_toys") == (
    "amazon-toys/items.tsv: no short-text column (none of ['title', 'name', 'idgenrec_textid', 'text']); "
    "brand and categories from column 'attributes'; ignored columns ['extra']"
  )
  (folder / "items.tsv").write_text("id\tattributes\n1\tA\n")
  with pytest.raises(DataError, match=r"items.tsv:1: header \['id', 'attributes'\] names neither item_id nor asin"):
    load_amazon(str(tmp_path), "toys")
  (folder / "items.tsv").unlink()
  with pytest.raises(ValueError, match="no items.tsv, so amazon_toys has no item text"):
    item_text.item_texts("amazon_toys", str(tmp_path), ["B03"])


def test_ambiguous_or_empty_folders_name_the_files_and_the_name_to_use(tmp_path):
  folder = tmp_path / "amazon-sports"
  shutil.copytree(os.path.join(SHARED, "amazon-sports"), folder)
  shutil.copy(folder / "Sports_and_Outdoors.txt", folder / "Toys_and_Games.txt")
  with pytest.raises(
    DataError,
    match=r"amazon_sports: .*amazon-sports holds interaction files of 2 categories, "
    r"none named after 'sports': \['Sports_and_Outdoors.txt', 'Toys_and_Games.txt'\]; "
    r"use the dataset name of the one to read: amazon_sports_and_outdoors "
    r"\(Sports_and_Outdoors.txt\), amazon_toys_and_games \(Toys_and_Games.txt\)",
  ):
    load_amazon(str(tmp_path), "sports")
  with pytest.raises(DataError, match=r"amazon-sports/: amazon_sports_and_outdoors, amazon_toys_and_games$"):
    load_amazon(str(tmp_path), "garden")  # the ambiguous folder: its own name reads nothing
  # The names the error gives work; a file named after the dataset also settles it.
  assert load_amazon(str(tmp_path), "toys_and_games").data.num_users == 3
  shutil.copy(folder / "Sports_and_Outdoors.txt", folder / "sports.txt")
  assert os.path.basename(interaction_file(str(folder), "sports").path) == "sports.txt"
  # No interaction file: the files there, the formats, and the file name to use.
  for name in ("Sports_and_Outdoors.txt", "Toys_and_Games.txt", "sports.txt"):
    (folder / name).unlink()
  with pytest.raises(
    DataError,
    match=r"amazon_sports: no interaction file in .*amazon-sports \(files there: "
    r"\['idgenrec_item_textid.txt', 'items.tsv'\]; \['idgenrec_item_textid.txt'\] "
    r"are not `user_id item_id ...` integer lines\); expected one of "
    r"reviews_<Category>_5.json\[.gz\].*e.g. Sports.txt",
  ):
    load_amazon(str(tmp_path), "sports")
  # No folder of that name: the error lists the amazon folders and the datasets they hold.
  with pytest.raises(
    DataError,
    match=r"no folder amazon-garden .* dataset names that read them: amazon-beauty/: "
    r"amazon_beauty; amazon-sports/: amazon_sports, amazon_sports_and_outdoors$",
  ):
    load_amazon(SHARED, "garden")
  with pytest.raises(DataError, match=r"amazon-sports/: no interaction file$"):
    load_amazon(str(tmp_path), "garden")


def test_text_less_datasets_raise_with_the_alternatives():
  for name in ("kuairand_pure", "synthetic"):
    with pytest.raises(ValueError, match="has no item text; use --vectors=collaborative"):
      item_text.item_texts(name, SHARED, [1])
    with pytest.raises(ValueError, match="has no item text"):
      item_text.describe_item_text(name, SHARED)
