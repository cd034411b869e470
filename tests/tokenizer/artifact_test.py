"""The tokenizer is a stage that training consumes: an in-run fit writes the artifact, `tokenizer.source`
reads it back (same semantic IDs), RQ-VAE IDs train as well, and mismatches fail naming the folder."""

import json
import os

import numpy as np
import pytest

from experiments import registry
from onerec_jax.train.assembly import prepare


def _config(**tokenizer):
  config = registry.get("quickstart_tiny")
  for k, v in tokenizer.items():
    setattr(config.tokenizer, k, v)
  return config


def test_fit_writes_an_artifact_that_source_reads_back(tmp_path):
  fitted = prepare(_config(), str(tmp_path))
  folder = tmp_path / "tokenizer"
  assert {"tokenizer.json", "metrics.json", "rq_kmeans"} <= set(os.listdir(folder))
  header = json.load(open(folder / "tokenizer.json"))
  assert header["config"]["codebook_size"] == 8 and header["methods"] == ["rq_kmeans"]  # the config that made it
  again = prepare(_config(source=str(folder)), None)
  np.testing.assert_array_equal(again.sid_table.sids, fitted.sid_table.sids)
  assert again.tokenizer_metrics["source"] == str(folder)
  assert again.model_config.num_sid_levels == fitted.model_config.num_sid_levels


def test_rq_vae_ids_can_be_trained_on(tmp_path):
  config = _config(method="rq_vae")
  config.tokenizer.rq_vae.num_epochs, config.tokenizer.rq_vae.hidden_dims = 2, (16,)
  config.tokenizer.rq_vae.latent_dim = 4
  run = prepare(config, str(tmp_path))
  assert os.path.exists(tmp_path / "tokenizer" / "rq_vae" / "model.npz")
  assert run.sid_table.num_items == run.data.num_items
  assert len(np.unique(run.sid_table.sids, axis=0)) == run.data.num_items  # collisions disambiguated


def test_mismatches_name_the_folder(tmp_path):
  prepare(_config(), str(tmp_path))
  folder = str(tmp_path / "tokenizer")
  with pytest.raises(ValueError, match="not tokenizer.method='rq_vae'"):
    prepare(_config(source=folder, method="rq_vae"), None)
  with pytest.raises(FileNotFoundError, match="holds no tokenizer.json"):
    prepare(_config(source=str(tmp_path)), None)
  other = registry.get("quickstart_tiny")
  other.data.simulator.num_items = 70
  other.tokenizer.source = folder
  with pytest.raises(ValueError, match="holds 60 items, the dataset has 70"):
    prepare(other, None)
