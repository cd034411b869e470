"""End to end: `experiments.tokenize` on the synthetic dataset (tiny config), and its bad-input errors."""

import json
import os

import numpy as np
import pytest

from experiments import tokenize
from onerec_jax.input import datasets
from onerec_jax.input.config import DataConfig
from onerec_jax.input.simulator import SimulatorConfig
from onerec_jax.tokenizer import build
from onerec_jax.tokenizer import rq_vae
from onerec_jax.tokenizer.semantic_ids import SemanticIdTable

_TINY = [
  '--config.codebook_size=16',
  '--config.num_iters=5',
  '--config.rq_vae.num_epochs=3',
  '--config.rq_vae.hidden_dims=32',
  '--config.rq_vae.latent_dim=8',
  '--config.vectors.align_steps=50',
  '--config.vectors.align_dim=16',
  '--config.vectors.align_hidden=32',
]
_KEYS = [
  'utilization/level_1',
  'utilization/level_3',
  'entropy_bits/level_2',
  'entropy_norm/level_1',
  'recon_loss_rel',
  'recon_loss_rel/level_1',
  'items_per_sid_max',
  'items_per_sid_mean',
  'collision_share',
  'fit_seconds',
  'unique_sids',
  'sid_tokens',
]


@pytest.fixture(scope='module', autouse=True)
def small_world():
  """A smaller simulated world than the default (load_dataset is what `run` calls), built once."""
  loaded = datasets.load_dataset(
    DataConfig(
      dataset='synthetic',
      simulator=SimulatorConfig(num_users=300, num_items=200, num_authors=40, min_history=8, max_history=20),
    )
  )
  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(datasets, 'load_dataset', lambda config: loaded)
    yield loaded


@pytest.fixture(scope='module')
def tokenized(tmp_path_factory, small_world):
  out = str(tmp_path_factory.mktemp('tok'))
  result = tokenize.run('synthetic', '', out, 'both', 'aligned', _TINY, show_items=['3'])
  return out, result


def test_writes_json_with_all_keys_and_tables_load(tokenized):
  out, result = tokenized
  with open(os.path.join(out, 'metrics.json')) as f:
    saved = json.load(f)
  assert saved['methods'].keys() == {'rq_kmeans', 'rq_vae'}
  for method in ('rq_kmeans', 'rq_vae'):
    for key in _KEYS:
      assert key in saved['methods'][method], (method, key)
    table = SemanticIdTable.load(os.path.join(out, method, 'sids.npz'))
    assert table.num_items == result['num_items'] and table.num_levels == 4
    assert saved['methods'][method]['unique_sids']
  assert np.load(os.path.join(out, 'rq_kmeans', 'codebooks.npy')).shape == (3, 16, 16)
  rq_vae.load_rq_vae(os.path.join(out, 'rq_vae', 'model.npz'))
  assert 'heldout_next_hit@10' in saved['probe'] and len(saved['sids_of']['3']) == 4
  # The recorded config names the vectors that were quantised (it once kept the default, 'side').
  assert saved['vectors'] == 'aligned' and saved['config']['item_vectors'] == 'aligned'


def test_encode_with_saved_tokenizer_and_dim_mismatch(tokenized, tmp_path):
  out, result = tokenized
  vecs = np.random.default_rng(0).normal(size=(result['num_items'], result['dim'])).astype(np.float32)
  np.save(tmp_path / 'v.npy', vecs)
  again = tokenize.run(
    'synthetic', '', str(tmp_path / 'enc'), 'both', str(tmp_path / 'v.npy'), _TINY, tokenizer=out, probe=False
  )
  assert again['methods']['rq_kmeans']['utilization/level_1'] > 0
  np.save(tmp_path / 'w.npy', vecs[:, :5])
  with pytest.raises(ValueError, match='dimension mismatch'):
    tokenize.run('synthetic', '', str(tmp_path / 'enc'), 'both', str(tmp_path / 'w.npy'), _TINY, tokenizer=out)


def test_bad_inputs(tmp_path, tokenized):
  out, result = tokenized
  n = result['num_items']
  bad = np.ones((n, 4), np.float32)
  bad[5, 2] = np.inf
  np.save(tmp_path / 'inf.npy', bad)
  with pytest.raises(ValueError, match='NaN or Inf'):
    tokenize.run('synthetic', '', str(tmp_path / 'o'), 'rq_kmeans', str(tmp_path / 'inf.npy'), _TINY)
  np.save(tmp_path / 'rows.npy', np.ones((n - 1, 4), np.float32))
  with pytest.raises(ValueError, match='one row per item'):
    tokenize.run('synthetic', '', str(tmp_path / 'o'), 'rq_kmeans', str(tmp_path / 'rows.npy'), _TINY)
  with pytest.raises(ValueError, match='fewer than codebook_size'):
    tokenize.run('synthetic', '', str(tmp_path / 'o'), 'rq_kmeans', 'side', ['--config.codebook_size=500'])
  np.savez(tmp_path / 'ids.npz', vectors=np.ones((2, 4), np.float32), item_ids=np.array([1, 99999]))
  with pytest.raises(ValueError, match='unknown item ids'):
    tokenize.run('synthetic', '', str(tmp_path / 'o'), 'rq_kmeans', str(tmp_path / 'ids.npz'), _TINY)
  with pytest.raises(ValueError, match='unknown item ids'):
    build.sids_of_items(out, 'rq_kmeans', None, ['3', '-7'])
  with pytest.raises(ValueError, match='not found'):
    tokenize.run('synthetic', '', str(tmp_path / 'o'), 'rq_kmeans', 'nope.npy', _TINY)
  with pytest.raises(ValueError, match='unknown config field'):
    tokenize.run('synthetic', '', str(tmp_path / 'o'), 'rq_kmeans', 'side', ['--config.codebook_sise=4'])
  with pytest.raises(ValueError, match='contradicts --vectors=side'):
    tokenize.run('synthetic', '', str(tmp_path / 'o'), 'rq_kmeans', 'side', ['--config.item_vectors=content'])
