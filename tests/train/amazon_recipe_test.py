"""One Amazon recipe for every category: `onerec_beauty`'s config prepares any amazon_<category> folder,
here a short-named folder holding only the short item-text column, and says which item text it used."""

import hashlib
import logging
import os

import numpy as np

from experiments import registry
from onerec_jax.tokenizer import item_text
from onerec_jax.train.assembly import prepare

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "fixtures", "shared")


def _hash_encoder(texts):
  """Deterministic stand-in for the sentence encoder (CI installs no torch): 8-d vectors from a hash."""
  rows = [np.frombuffer(hashlib.sha256(t.encode()).digest()[:8], np.uint8) for t in texts]
  return np.stack(rows).astype(np.float32) / 255.0


def test_beauty_recipe_prepares_another_category_from_its_text(tmp_path, monkeypatch, caplog):
  monkeypatch.setattr(item_text, "minilm_encoder", lambda batch_size=128: _hash_encoder)
  config = registry.get("onerec_beauty")
  config.data.dataset, config.data.data_dir = "amazon_sports", FIXTURES
  config.tokenizer.codebook_size = 2  # the fixture has a handful of items
  config.tokenizer.text_cache_dir = str(tmp_path / "cache")
  with caplog.at_level(logging.INFO):
    run = prepare(config, str(tmp_path))
  assert run.data.name == "amazon_sports" and run.sid_table.num_items == run.data.num_items
  assert config.tokenizer.item_vectors == "content"  # the recipe quantises item text, not one-hot ids
  text_line = [r.getMessage() for r in caplog.records if "tokenizer item vectors" in r.getMessage()]
  assert text_line and "items.tsv" in text_line[0] and "name" in text_line[0], text_line
  assert "yoga mat" in text_line[0] or "camping lantern" in text_line[0]
  assert run.tokenizer_metrics["vectors"] == "content"
