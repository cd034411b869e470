"""Tests of the item <-> semantic ID table: dedup, two-way lookup, stats, save/load."""

import json

import jax.numpy as jnp
import numpy as np
import pytest

from onerec_jax.tokenizer import semantic_ids
from onerec_jax.tokenizer.semantic_ids import SemanticIdTable

# Items 0, 2, 5 share (1, 2); items 1 and 4 share (0, 0); item 3 is alone.
_CODES = np.array([[1, 2], [0, 0], [1, 2], [3, 1], [0, 0], [1, 2]])


def test_extra_token_disambiguates_in_item_order():
  table = SemanticIdTable.from_codes(_CODES, codebook_sizes=4)
  assert table.num_levels == 3 and table.sids.dtype == np.int32
  np.testing.assert_array_equal(table.sids[:, 2], [0, 0, 1, 0, 1, 2])
  np.testing.assert_array_equal(table.sids[:, :2], _CODES)
  assert table.vocab_sizes == (4, 4, 4)  # 3 items in the largest group, rounded up to 4
  assert table.collision_share == pytest.approx(5 / 6)
  assert table.max_items_per_code == 3
  assert table.mean_items_per_code == pytest.approx(6 / 3)


def test_default_codebook_sizes_from_codes():
  assert SemanticIdTable.from_codes(_CODES).vocab_sizes == (4, 3, 4)
  assert SemanticIdTable.from_codes(_CODES, dedup='none').vocab_sizes == (4, 3)


@pytest.mark.parametrize('num_codes', [4, 64])
def test_dedup_gives_unique_sids_and_round_trips(num_codes):
  codes = np.random.default_rng(0).integers(0, num_codes, size=(5000, 3))
  table = SemanticIdTable.from_codes(jnp.asarray(codes), codebook_sizes=num_codes)
  assert len({tuple(s) for s in table.sids.tolist()}) == 5000
  items = np.arange(5000)
  np.testing.assert_array_equal(table.item_of(table.sid_of(items)), items)
  # and sid -> item -> sid
  np.testing.assert_array_equal(table.sid_of(table.item_of(table.sids)), table.sids)


def test_item_of_returns_minus_one_for_unknown_sids():
  table = SemanticIdTable.from_codes(_CODES, codebook_sizes=4)
  queries = np.array([[1, 2, 2], [1, 2, 3], [2, 2, 0], [3, 1, 0], [-1, 0, 0], [0, 0, 4], [9, 9, 9]])
  np.testing.assert_array_equal(table.item_of(queries), [5, -1, -1, 3, -1, -1, -1])
  with pytest.raises(ValueError, match='item_of expects'):
    table.item_of(_CODES)


def test_none_dedup_maps_shared_tuple_to_smallest_item():
  table = SemanticIdTable.from_codes(_CODES, dedup='none')
  assert table.num_levels == 2
  np.testing.assert_array_equal(table.item_of(_CODES), [0, 1, 0, 3, 1, 0])
  assert table.collision_share == pytest.approx(5 / 6)


def test_sid_of_rejects_unknown_items():
  table = SemanticIdTable.from_codes(_CODES)
  np.testing.assert_array_equal(table.sid_of(np.array([[3]])), table.sids[[3]][None])
  with pytest.raises(ValueError, match=r'unknown item ids \[-1, 6\]'):
    table.sid_of([0, 6, -1])


def test_bad_codes_raise():
  with pytest.raises(ValueError, match='integers'):
    SemanticIdTable.from_codes(np.zeros((3, 2), np.float32))
  with pytest.raises(ValueError, match='codebook_size'):
    SemanticIdTable.from_codes(_CODES, codebook_sizes=2)
  with pytest.raises(ValueError, match='dedup'):
    SemanticIdTable.from_codes(_CODES, dedup='hash')
  with pytest.raises(ValueError, match='int64'):
    SemanticIdTable.from_codes(_CODES, codebook_sizes=2**32)


@pytest.mark.parametrize('dedup', ['extra_token', 'none'])
def test_save_load_round_trip(tmp_path, dedup):
  table = SemanticIdTable.from_codes(_CODES, dedup=dedup, codebook_sizes=8)
  path = str(tmp_path / 'sids.npz')
  table.save(path)
  loaded = SemanticIdTable.load(path)
  np.testing.assert_array_equal(loaded.sids, table.sids)
  np.testing.assert_array_equal(loaded.codes, table.codes)
  assert loaded.vocab_sizes == table.vocab_sizes and loaded.dedup == dedup
  assert loaded.stats() == table.stats()


def _rewrite(path, **changes):
  with np.load(path) as data:
    arrays = dict(data)
  meta = json.loads(str(arrays['meta']))
  meta.update(changes.pop('meta', {}))
  arrays.update(changes)
  arrays['meta'] = np.asarray(json.dumps(meta))
  with open(path, 'wb') as f:
    np.savez(f, **arrays)


def test_load_checks_version_format_and_integrity(tmp_path):
  path = str(tmp_path / 'sids.npz')
  SemanticIdTable.from_codes(_CODES).save(path)
  _rewrite(path, meta={'format_version': semantic_ids.FORMAT_VERSION + 1})
  with pytest.raises(ValueError, match='format version 2 is not supported'):
    SemanticIdTable.load(path)
  SemanticIdTable.from_codes(_CODES).save(path)
  _rewrite(path, meta={'format': 'something_else'})
  with pytest.raises(ValueError, match='format'):
    SemanticIdTable.load(path)
  SemanticIdTable.from_codes(_CODES).save(path)
  _rewrite(path, sids=np.zeros((6, 3), np.int32))
  with pytest.raises(ValueError, match='corrupt'):
    SemanticIdTable.load(path)
  np.savez(str(tmp_path / 'other.npz'), x=np.zeros(3))
  with pytest.raises(ValueError, match='not a saved SemanticIdTable'):
    SemanticIdTable.load(str(tmp_path / 'other.npz'))
