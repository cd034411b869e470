"""The encoder-decoder: shapes, causality of the decoder, padding invariance of the encoder."""

import dataclasses
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from onerec_jax.input.batches import OneRecBatch, Pathway
from onerec_jax.models.onerec import OneRec, decoder_inputs
from onerec_jax.models.sizes import model_config
from onerec_jax.sharding.rules import make_mesh, mesh_context

B, V, L = 3, 8, 3


def _config(**kw):
  return model_config(
    "tiny",
    num_items=50,
    num_users=20,
    num_categories=4,
    num_authors=6,
    static_vocab_sizes=(3, 2),
    num_feedback=2,
    num_sid_levels=L,
    sid_vocab_size=V,
    short_len=4,
    positive_len=3,
    lifelong_len=6,
    lifelong_queries=2,
    **kw,
  )


def _batch(rng, cfg):
  pathways = {}
  for name, n in (("short", cfg.short_len), ("positive", cfg.positive_len), ("lifelong", cfg.lifelong_len)):
    items = rng.integers(0, 50, (B, n)).astype(np.int32)
    items[0, :2] = -1  # padding in the first row
    pathways[name] = Pathway(
      items=items,
      sids=rng.integers(0, V, (B, n, L)).astype(np.int32),
      category=rng.integers(0, 4, (B, n)).astype(np.int32),
      author=rng.integers(0, 6, (B, n)).astype(np.int32),
      feedback=rng.random((B, n, 2)).astype(np.float32),
    )
  return OneRecBatch(
    user_id=rng.integers(0, 20, B).astype(np.int32),
    static=np.stack([rng.integers(0, 3, B), rng.integers(0, 2, B)], 1).astype(np.int32),
    target_sid=rng.integers(0, V, (B, L)).astype(np.int32),
    **pathways,
  )


@pytest.fixture(scope="module")
def model_and_batch():
  cfg = _config(num_experts=2, num_experts_per_token=1)
  with mesh_context(make_mesh()):
    model = OneRec(cfg, rngs=nnx.Rngs(0))
  return model, cfg, _batch(np.random.default_rng(0), cfg)


def test_shapes_and_aux(model_and_batch):
  model, cfg, batch = model_and_batch
  logits, aux = model(batch)
  assert logits.shape == (B, L, V)
  assert set(aux) == {"decoder_layers/0/ffn/ffn"}
  assert aux["decoder_layers/0/ffn/ffn"]["expert_load"].shape == (2,)
  encoded, seg, _ = model.encode(batch)
  assert encoded.shape == (B, 1 + cfg.short_len + cfg.positive_len + cfg.lifelong_queries, cfg.d_model)
  assert seg[0, 1] == 0 and seg[1, 1] == 1  # padded short-term slot is masked


def test_decoder_is_causal(model_and_batch):
  model, _, batch = model_and_batch
  logits, _ = model(batch)
  target = batch.target_sid.copy()
  target[:, 1:] = (target[:, 1:] + 1) % V
  changed = batch.replace(target_sid=target)
  logits2, _ = model(changed)
  np.testing.assert_allclose(logits[:, :2], logits2[:, :2], atol=1e-5)  # position 1 sees token 0 only
  assert not np.allclose(logits[:, 2], logits2[:, 2], atol=1e-4)


def test_padding_content_is_ignored(model_and_batch):
  model, _, batch = model_and_batch
  sids, feedback = batch.short.sids.copy(), batch.short.feedback.copy()
  sids[0, :2] = (sids[0, :2] + 3) % V  # only padded slots change
  feedback[0, :2] += 5.0
  changed = batch.replace(short=batch.short.replace(sids=sids, feedback=feedback))
  np.testing.assert_allclose(model(batch)[0], model(changed)[0], atol=1e-5)


def test_decoder_inputs_offsets_levels():
  tokens = decoder_inputs(jnp.array([[2, 5]]), vocab_size=8)
  np.testing.assert_array_equal(tokens, [[0, 1 + 2, 1 + 8 + 5]])


def test_shared_cross_kv_across_beams_equals_tiled(model_and_batch):
  model, cfg, batch = model_and_batch
  encoded, seg, _ = model.encode(batch)
  beams = 4
  prefix = jnp.asarray(np.random.default_rng(1).integers(0, V, (B * beams, 2)), jnp.int32)
  tokens = decoder_inputs(prefix, V)
  shared, _ = model.decode(tokens, model.cross_kv(encoded), seg)
  tiled_enc = jnp.repeat(encoded, beams, axis=0)
  tiled, _ = model.decode(tokens, model.cross_kv(tiled_enc), jnp.repeat(seg, beams, axis=0))
  np.testing.assert_allclose(shared, tiled, atol=1e-5)


def test_builds_without_mesh_and_validates():
  with pytest.raises(ValueError, match="fill it from the data"):
    OneRec(model_config("tiny"), rngs=nnx.Rngs(0))
  model = OneRec(_config(), rngs=nnx.Rngs(0))  # dense, outside any mesh: names recorded only
  assert model(_batch(np.random.default_rng(2), _config()))[0].shape == (B, L, V)


def test_train_step_with_dropout_advances_rng_and_stays_finite():
  import optax
  from onerec_jax.train.train_step import init_state, make_train_step

  cfg = _config(dropout_rate=0.2, num_experts=2, num_experts_per_token=1)
  with mesh_context(make_mesh()):
    model = OneRec(cfg, rngs=nnx.Rngs(params=0, dropout=1))
    tx = optax.adam(1e-3)
    graphdef, state = init_state(model, tx)
    from onerec_jax.losses.next_token import semantic_id_loss

    def loss_fn(model, batch, step):
      logits, aux = model(batch)
      loss, metrics = semantic_id_loss(logits, batch.target_sid)
      return loss, metrics, aux

    step = jax.jit(make_train_step(graphdef, tx, loss_fn, router_bias_step=1e-3))
    batch = _batch(np.random.default_rng(3), cfg)
    new_state, metrics = step(state, batch)
    assert np.isfinite(float(metrics["loss"]))
    for key in ("moe/expert_load_max_over_mean", "moe/dropped_fraction", "moe/router_z_loss"):  # logged
      assert np.isfinite(float(metrics[key])), key
    before, after = jax.tree.leaves(state.rest), jax.tree.leaves(new_state.rest)
    assert any(
      not np.array_equal(
        jax.random.key_data(a) if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key) else a,
        jax.random.key_data(b) if jax.dtypes.issubdtype(b.dtype, jax.dtypes.prng_key) else b,
      )
      for a, b in zip(before, after)
    ), "dropout RNG / router bias must advance"


@pytest.mark.parametrize("pathway", ["all", "features", "off"])
def test_static_pathway_switch(pathway):
  """'features' drops the user id, 'off' every static input (a learned start token stays)."""
  cfg = _config(static_pathway=pathway)
  with mesh_context(make_mesh()):
    model = OneRec(cfg, rngs=nnx.Rngs(0))
  batch = _batch(np.random.default_rng(0), cfg)
  logits, _ = model(batch)
  assert logits.shape == (B, L, V) and np.isfinite(np.asarray(logits)).all()
  assert (model.user is not None) == (pathway == "all")
  assert len(model.static) == (0 if pathway == "off" else 2)
  changed = batch.replace(user_id=(batch.user_id + 1) % 20, static=(batch.static + 1) % np.array([3, 2], np.int32))
  moved = np.abs(np.asarray(model(changed)[0]) - np.asarray(logits)).max()
  assert (moved == 0) == (pathway == "off")  # off: the static inputs cannot reach the output


def test_hashed_user_ids_share_rows(tmp_path):
  """model.user_id_buckets=n: the run's user table has n rows and ids n apart get the same token."""
  from experiments import registry
  from onerec_jax.train.assembly import prepare

  config = registry.get("quickstart_tiny")
  config.model.user_id_buckets = 7
  run = prepare(config, str(tmp_path))
  assert run.model_config.num_users == 7 < run.data.num_users
  with mesh_context(make_mesh()):
    model = OneRec(dataclasses.replace(_config(), num_users=7), rngs=nnx.Rngs(0))
  batch = _batch(np.random.default_rng(0), _config())
  same = batch.replace(user_id=batch.user_id + 7)
  other = batch.replace(user_id=(batch.user_id + 1) % 7)
  logits = np.asarray(model(batch)[0])
  np.testing.assert_array_equal(np.asarray(model(same)[0]), logits)
  assert np.abs(np.asarray(model(other)[0]) - logits).max() > 0
  with pytest.raises(ValueError, match="user_id_buckets"):
    _config(user_id_buckets=-1).validate()
  with pytest.raises(ValueError, match="no user-id token"):
    _config(user_id_buckets=100, static_pathway="off").validate()
