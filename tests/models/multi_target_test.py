"""Multi-target training (ModelConfig.targets_per_window): no target sees its own or a later item.

The model side: the logits of window target i do not change when anything at or after the window column
that target i predicts changes, and the last target's logits equal the single-request decoding of the same
window (what generation computes). The input side: FeatureBuilder.window_batch never puts a target, or
anything after it, in the encoder's input.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from onerec_jax.input.batches import OneRecBatch, Pathway
from onerec_jax.input.features import FeatureBuilder
from onerec_jax.input.sequences import SequenceDataset
from onerec_jax.models.onerec import OneRec, decoder_inputs
from onerec_jax.sharding.rules import make_mesh, mesh_context
from tests.models.tiny_onerec import L, T, V, tiny_config

B, M = 2, 4


def _config(**kw):
  return tiny_config(positive_len=3, lifelong_len=5, lifelong_queries=2, targets_per_window=M, **kw)


def _batch(rng):
  pathways = {}
  for name, n in (("short", T), ("positive", 3), ("lifelong", 5)):
    items = rng.integers(0, 50, (B, n)).astype(np.int32)
    items[0, :1] = -1
    pathways[name] = Pathway(
      items=items,
      sids=rng.integers(0, V, (B, n, L)).astype(np.int32),
      category=rng.integers(0, 4, (B, n)).astype(np.int32),
      author=rng.integers(0, 6, (B, n)).astype(np.int32),
      feedback=rng.random((B, n, 2)).astype(np.float32),
    )
  return OneRecBatch(
    user_id=rng.integers(0, 20, B).astype(np.int32),
    static=rng.integers(0, 3, (B, 1)).astype(np.int32),
    target_sid=rng.integers(0, V, (B, M, L)).astype(np.int32),
    target_mask=np.ones((B, M), bool),
    **pathways,
  )


@pytest.fixture(scope="module", params=[0, 2], ids=["dense", "moe"])
def model(request):
  with mesh_context(make_mesh()):
    return OneRec(_config(num_experts=request.param, num_experts_per_token=1), rngs=nnx.Rngs(0))


def _perturb_from(batch, column, rng):
  """A copy with every short-window column >= `column` replaced by other interactions."""
  short = jax.tree.map(np.array, batch.short)
  short.items[:, column:] = rng.integers(0, 50, short.items[:, column:].shape)
  short.sids[:, column:] = rng.integers(0, V, short.sids[:, column:].shape)
  short.category[:, column:] = (short.category[:, column:] + 1) % 4
  short.feedback[:, column:] += 1.0
  return batch.replace(short=short)


def test_targets_do_not_see_their_future(model):
  rng = np.random.default_rng(0)
  batch = _batch(rng)
  logits = np.asarray(model(batch)[0]).reshape(B, M, L, V)
  for i in range(M):
    column = T - M + i + 1  # first window column after target i's input: target i's item and later
    if column >= T:
      continue
    changed = np.asarray(model(_perturb_from(batch, column, rng))[0]).reshape(B, M, L, V)
    np.testing.assert_allclose(changed[:, : i + 1], logits[:, : i + 1], atol=1e-5, rtol=1e-5)
    assert not np.allclose(changed[:, i + 1 :], logits[:, i + 1 :], atol=1e-4)  # later targets do see it


def test_last_target_equals_generation_decoding(model):
  batch = _batch(np.random.default_rng(1))
  logits = np.asarray(model(batch)[0]).reshape(B, M, L, V)
  encoded, segment_ids, _ = model.encode(batch)
  tokens = decoder_inputs(jnp.asarray(batch.target_sid[:, -1, :-1]), V)
  full, _ = model.decode(tokens, model.cross_kv(encoded), segment_ids)  # every encoder token visible
  np.testing.assert_allclose(logits[:, -1], np.asarray(full), atol=1e-5, rtol=1e-5)


def _dataset():
  # 3 users, histories of 12, 9 and 5 items; item ids encode (user, position) so leaks are visible.
  lengths = np.array([12, 9, 5])
  items = np.full((3, 12), -1, np.int32)
  for u, n in enumerate(lengths):
    items[u, :n] = u * 12 + np.arange(n)
  data = SequenceDataset(
    items=items,
    lengths=lengths.astype(np.int32),
    feedback=np.zeros((3, 12, 2), np.float32),
    positive=(items >= 0) & (np.arange(12)[None] % 2 == 0),
    user_ids=np.arange(3, dtype=np.int64),
    user_static=np.zeros((3, 1), np.int32),
    static_vocab_sizes=(1,),
    item_category=np.zeros(36, np.int32),
    item_author=np.zeros(36, np.int32),
    item_content=np.zeros((36, 2), np.float32),
    num_categories=1,
    num_authors=1,
    name="toy",
  )
  data.validate()
  return data


def test_window_batch_never_feeds_a_target_to_the_encoder():
  data = _dataset()
  sids = np.stack([np.arange(36), np.arange(36) % 3], 1).astype(np.int32)
  builder = FeatureBuilder(data, sids, short_len=T, positive_len=3, lifelong_len=4)
  rows, ends = np.array([0, 0, 1, 2]), np.array([9, 5, 6, 2])
  batch, target_item = builder.window_batch(rows, ends, M, min_history=1)
  for r, (row, end) in enumerate(zip(rows, ends)):
    targets = target_item[r][batch.target_mask[r]]
    first_target = end - M + 1
    np.testing.assert_array_equal(targets, data.items[row, max(first_target, 1) : end + 1])
    short = batch.short.items[r]
    assert short.max() < data.items[row, end]  # the window ends before the last target
    np.testing.assert_array_equal(short[short >= 0], data.items[row, max(end - T, 0) : end])
    for name in ("positive", "lifelong"):  # context: before the first target only
      context = getattr(batch, name).items[r]
      assert (context[context >= 0] < data.items[row, max(first_target, 0)]).all(), (name, r)
    # Window column j holds the input of target j - (T - M): its target is the next item.
    for i in range(M):
      if batch.target_mask[r, i]:
        assert target_item[r, i] == short[T - M + i] + 1
  assert not batch.target_mask[3, : M - 2].any()  # positions < min_history are masked out
  np.testing.assert_array_equal(batch.target_sid[0, -1], sids[data.items[0, 9]])


def test_config_bounds():
  with pytest.raises(ValueError, match="targets_per_window"):
    dataclasses.replace(_config(), targets_per_window=T + 1).validate()
