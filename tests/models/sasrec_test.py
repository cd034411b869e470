"""SASRec: shapes, causality, padding, the sampled softmax by hand, registered configs under eval_shape,
and a tiny end-to-end run with exact resume (train, checkpoint, restore, rank)."""

import dataclasses
import json
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from experiments import registry
from experiments.registry import build_config
from onerec_jax.input.batches import SasrecBatch
from onerec_jax.losses.sampled_softmax import full_softmax_loss, sampled_softmax_loss
from onerec_jax.models.sasrec import SASRec, SasrecConfig


def tiny_model(**kw):
  cfg = SasrecConfig(num_items=30, max_len=6, embed_dim=8, num_blocks=2, num_heads=2, dropout=0.0, **kw)
  return SASRec(cfg, rngs=nnx.Rngs(0))


def test_shapes_causality_and_padding():
  model = tiny_model(attention_impl="reference")
  encode = jax.jit(model.encode)  # one compilation instead of op-by-op dispatch
  items = jnp.array([[-1, -1, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]], jnp.int32)
  q = encode(items)
  assert q.shape == (2, 6, 8)
  assert float(jnp.abs(q[0, :2]).max()) == 0.0  # padded positions are zero
  changed = encode(items.at[:, -1].set(7))
  np.testing.assert_allclose(changed[:, :-1], q[:, :-1], atol=1e-6)  # the future does not leak back
  assert float(jnp.abs(changed[:, -1] - q[:, -1]).max()) > 1e-4
  scores = jax.jit(model.score_all)(items)
  assert scores.shape == (2, 30)
  # Cosine scoring: |logit| <= 1 / temperature.
  assert float(jnp.abs(scores).max()) <= 1 / model.config.temperature + 1e-3
  xla = tiny_model(attention_impl="xla")
  np.testing.assert_allclose(jax.jit(xla.encode)(items), q, atol=1e-5)  # same init (seed 0), other attention backend


def test_dropout_needs_rngs_and_train_mode():
  cfg = SasrecConfig(num_items=30, max_len=6, embed_dim=8, num_blocks=1, num_heads=1, dropout=0.5)
  model = SASRec(cfg, rngs=nnx.Rngs(0))
  items = jnp.array([[1, 2, 3, 4, 5, 6]], jnp.int32)
  encode = nnx.jit(lambda m, key: m.encode(items, nnx.Rngs(dropout=key)))
  model.train()
  a, b = encode(model, jax.random.key(1)), encode(model, jax.random.key(2))
  assert float(jnp.abs(a - b).max()) > 1e-4
  model.eval()
  np.testing.assert_allclose(encode(model, jax.random.key(1)), jax.jit(model.encode)(items), rtol=1e-5, atol=1e-5)


def test_sampled_softmax_by_hand():
  q = jnp.array([[[1.0, 0.0], [0.0, 2.0]]])  # [b=1, t=2, d=2]
  pos_vec = jnp.array([[[2.0, 0.0], [0.0, 1.0]]])
  positives = jnp.array([[5, 7]])
  neg_vec = jnp.array([[1.0, 0.0], [0.0, 1.0]])
  negatives = jnp.array([7, 9])  # 7 is position 1's positive: masked there
  loss, m = sampled_softmax_loss(q, pos_vec, positives, neg_vec, negatives, jnp.array([[True, True]]))
  # position 0: logits [2 | 1, 0]; position 1: [2 | -inf (hit), 2].
  want = ((np.log(np.exp(2) + np.exp(1) + 1) - 2) + (np.log(2 * np.exp(2)) - 2)) / 2
  assert float(loss) == pytest.approx(want, rel=1e-6)
  assert float(m["accuracy"]) == pytest.approx(0.5)  # position 1 ties with a negative: not a win
  only_first, _ = sampled_softmax_loss(q, pos_vec, positives, neg_vec, negatives, jnp.array([[True, False]]))
  assert float(only_first) == pytest.approx(np.log(np.exp(2) + np.exp(1) + 1) - 2, rel=1e-6)


def test_full_softmax_by_hand():
  q = jnp.array([[[1.0, 0.0], [0.0, 2.0]]])  # [b=1, t=2, d=2]
  items = jnp.array([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # [i=3, d]
  positives = jnp.array([[0, 2]])
  loss, m = full_softmax_loss(q, items, positives, jnp.array([[True, True]]))
  # position 0: logits [2, 0, 1], target 0; position 1: [0, 2, 2], target 2 (ties item 1: argmax picks 1).
  want = ((np.log(np.exp(2) + 1 + np.e) - 2) + (np.log(1 + 2 * np.exp(2)) - 2)) / 2
  assert float(loss) == pytest.approx(want, rel=1e-6)
  assert float(m["accuracy"]) == pytest.approx(0.5)
  assert float(m["num_targets"]) == 2
  only_second, _ = full_softmax_loss(q, items, jnp.array([[-1, 2]]), jnp.array([[False, True]]))  # padding target
  assert float(only_second) == pytest.approx(np.log(1 + 2 * np.exp(2)) - 2, rel=1e-6)


def _sasrec_names():
  return [n for n in registry.names() if registry.get(n).family == "sasrec"]


@pytest.mark.parametrize("name", _sasrec_names())
def test_registered_sasrec_experiments_build_abstractly(name):
  config = registry.get(name).validate()
  assert config.name == name and config.description
  config.sasrec.num_items = 12101
  model = nnx.eval_shape(lambda: SASRec(config.sasrec, rngs=nnx.Rngs(0)))
  count = sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
  assert count > 12101 * config.sasrec.embed_dim


def test_families_and_overrides():
  assert {"sasrec_ml1m", "sasrec_beauty", "sasrec_tiny"} <= set(_sasrec_names())
  config = build_config(
    "sasrec_tiny",
    [
      "--config.sasrec.num_negatives=4",
      "--config.eval.ks=(1,2)",
      "--config.eval.select_metric=hr@2",
      "--config.eval.num_beams=2",
    ],
    data_dir="/nowhere",
  )
  assert config.sasrec.num_negatives == 4 and config.eval.ks == (1, 2) and config.data.data_dir == "/nowhere"
  with pytest.raises(ValueError, match="eval.select_metric='ndcg@10' is not one of"):
    build_config("sasrec_tiny", ["--config.eval.ks=(5,)"], data_dir="")
  with pytest.raises(ValueError, match="window_stride=9 must be in"):
    build_config("sasrec_tiny", ["--config.sasrec.window_stride=9"], data_dir="")
  with pytest.raises(ValueError, match="family='nope' is unknown"):
    build_config("sasrec_tiny", ["--config.family=nope"], data_dir="")


@pytest.mark.slow
def test_tiny_end_to_end_with_exact_resume(tmp_path):
  from onerec_jax.train.trainer import train_and_evaluate  # the one engine

  full, resumed = str(tmp_path / "full"), str(tmp_path / "resumed")
  results = train_and_evaluate(registry.get("sasrec_tiny"), full)  # 4 steps, checkpoints at 2 and 4
  assert results["num_users"] == 64 and 0.0 <= results["model"]["hr@10"] <= 1.0
  assert results["selected"]["step"] in (2, 4) and results["train"]["family"] == "sasrec"
  assert [h["step"] for h in json.load(open(os.path.join(full, "eval_history.json")))] == [2, 4]
  assert os.listdir(os.path.join(full, "tensorboard"))  # the engine's summaries, for every family
  # Interrupt after step 2: drop the step-4 checkpoint, then run again from the same workdir.
  shutil.copytree(full, resumed)
  shutil.rmtree(os.path.join(resumed, "checkpoints", "4"))
  again = train_and_evaluate(registry.get("sasrec_tiny"), resumed)
  assert again["train"]["resumed_from"] == 2
  assert again["model"] == results["model"]
  # The same pick; its state kept in each run's own selected_checkpoint (the copied step 4 was dropped on resume).
  assert again["selected"].pop("checkpoint") == os.path.join(resumed, "selected_checkpoint")
  assert results["selected"].pop("checkpoint") == os.path.join(full, "selected_checkpoint")
  assert again["selected"] == results["selected"]
  assert os.listdir(os.path.join(resumed, "selected_checkpoint")) == [str(results["selected"]["step"])]


def test_per_sequence_negatives_match_shared_when_equal():
  rng = np.random.default_rng(0)
  q, pos_vec = jnp.asarray(rng.normal(size=(2, 3, 4))), jnp.asarray(rng.normal(size=(2, 3, 4)))
  positives = jnp.array([[1, 2, 3], [4, 5, 6]])
  neg_vec, negatives = jnp.asarray(rng.normal(size=(5, 4))), jnp.array([2, 7, 8, 9, 4])
  mask = jnp.ones((2, 3), bool)
  shared, _ = sampled_softmax_loss(q, pos_vec, positives, neg_vec, negatives, mask)
  per_seq, _ = sampled_softmax_loss(
    q, pos_vec, positives, jnp.broadcast_to(neg_vec, (2, 5, 4)), jnp.broadcast_to(negatives, (2, 5)), mask
  )
  assert float(shared) == pytest.approx(float(per_seq), rel=1e-6)
  per_pos, _ = sampled_softmax_loss(
    q, pos_vec, positives, jnp.broadcast_to(neg_vec, (2, 3, 5, 4)), jnp.broadcast_to(negatives, (2, 3, 5)), mask
  )
  assert float(shared) == pytest.approx(float(per_pos), rel=1e-6)


def test_per_position_negatives_mask_their_own_accidental_hits():
  """Position 0's negatives contain its positive (masked); position 1's do not: hand-computed loss."""
  q = jnp.array([[[1.0, 0.0], [0.0, 1.0]]])  # [b=1, t=2, d=2]
  items = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # item vectors
  positives = jnp.array([[0, 1]])
  negatives = jnp.array([[[0, 2], [2, 2]]])  # [b, t, m=2]
  loss, _ = sampled_softmax_loss(q, items[positives], positives, items[negatives], negatives, jnp.ones((1, 2), bool))
  # position 0: logits [pos 1, (hit masked), 1] -> log(e + e) - 1; position 1: [1, 1, 1] -> log(3 e) - 1
  expected = (np.log(2 * np.e) - 1 + np.log(3 * np.e) - 1) / 2
  assert float(loss) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("negatives_per", ["position", "sequence", "batch", "all"])
def test_train_step_loss_equals_the_loss_by_hand(negatives_per):
  """The step's loss is the sampled softmax over negatives drawn from (seed, step) by its rule; the
  per-position path normalises the item table once and gathers from it (same numbers)."""
  from onerec_jax.losses.sampled_softmax import sample_negatives
  from onerec_jax.train.optimizer import make_optimizer
  from onerec_jax.train.sasrec_task import SasrecTask
  from onerec_jax.train.train_step import init_state, make_train_step

  config = registry.get("sasrec_tiny")
  config.train.seed = 7
  config.sasrec = dataclasses.replace(
    tiny_model().config, similarity="cosine", num_negatives=5, negatives_per=negatives_per, window_stride=1
  )
  task = SasrecTask(config, None)
  task.model_config = dataclasses.replace(task.model_config, num_items=30)  # the hand-built model's catalogue
  model = tiny_model(similarity="cosine")
  tx = make_optimizer(config.train)
  graphdef, state = init_state(model, tx)
  rng = np.random.default_rng(0)
  inputs = rng.integers(-1, 30, size=(3, 6)).astype(np.int32)
  batch = SasrecBatch(
    inputs=jnp.asarray(inputs),
    targets=jnp.asarray(rng.integers(0, 30, size=(3, 6)), jnp.int32),
    mask=jnp.asarray(inputs >= 0),
  )
  step = make_train_step(graphdef, tx, task.loss)
  _, metrics = step(state, batch)
  queries = model.encode(batch.inputs)
  if negatives_per == "all":  # the full softmax: no draw
    expected, _ = full_softmax_loss(queries, model.item_vectors(jnp.arange(30)), batch.targets, batch.mask)
    assert float(metrics["loss"]) == pytest.approx(float(expected), rel=1e-5)
    return
  key = jax.random.fold_in(jax.random.key(7), 0)
  shape = {"position": (3, 6, 5), "sequence": (3, 5), "batch": (5,)}[negatives_per]
  negatives = sample_negatives(jax.random.fold_in(key, 0), 30, shape)
  queries = model.encode(batch.inputs)
  expected, _ = sampled_softmax_loss(
    queries, model.item_vectors(batch.targets), batch.targets, model.item_vectors(negatives), negatives, batch.mask
  )
  assert float(metrics["loss"]) == pytest.approx(float(expected), rel=1e-5)


def test_full_softmax_target_capacity_scores_the_supervised_positions_first():
  """Capacity 1 is the loss of every position; a capacity below the batch's fill scores the first
  supervised positions in row order and counts the rest as dropped."""
  from onerec_jax.train.sasrec_task import sasrec_loss

  model = tiny_model(similarity="cosine")
  rng = np.random.default_rng(3)
  inputs = rng.integers(-1, 30, size=(4, 6)).astype(np.int32)
  inputs[0, :4] = -1  # a short window: padding at its start
  mask = inputs >= 0
  assert mask.sum() > 12  # so that capacity 0.5 (12 positions) drops some
  batch = SasrecBatch(
    inputs=jnp.asarray(inputs), targets=jnp.asarray(rng.integers(0, 30, size=(4, 6)), jnp.int32), mask=jnp.asarray(mask)
  )
  key = jax.random.key(0)
  full, _ = sasrec_loss(model, batch, key, 30, 5, "all")
  packed_all, m = sasrec_loss(model, batch, key, 30, 5, "all", target_capacity=1.0)
  assert float(packed_all) == pytest.approx(float(full), rel=1e-6)
  assert float(m["dropped_targets"]) == 0.0 and float(m["num_targets"]) == mask.sum()
  # n = ceil(0.5 * 24) = 12 positions: the first 12 supervised ones in row order.
  loss, m = sasrec_loss(model, batch, key, 30, 5, "all", target_capacity=0.5)
  keep = np.zeros(mask.size, bool)
  keep[np.flatnonzero(mask.reshape(-1))[:12]] = True
  model.eval()  # dropout 0 either way; the reference below recomputes the queries
  queries = model.encode(batch.inputs)
  expected, _ = full_softmax_loss(
    queries, model.item_vectors(jnp.arange(30)), batch.targets, jnp.asarray(keep.reshape(mask.shape))
  )
  assert float(loss) == pytest.approx(float(expected), rel=1e-5)
  assert float(m["dropped_targets"]) == mask.sum() - 12 and float(m["num_targets"]) == 12


@pytest.mark.parametrize(
  "kw, message",
  [
    ({"target_capacity": 1.5, "negatives_per": "all"}, "in \\[0, 1\\]"),
    ({"target_capacity": 0.5}, "full softmax"),
    ({"train_windows": "first"}, "'all' or 'latest'"),
    ({"embed_init_std": -0.1}, "embed_init_std"),
  ],
)
def test_config_is_validated(kw, message):
  with pytest.raises(ValueError, match=message):
    SasrecConfig(**kw).validate()


@pytest.mark.parametrize("std", [0.0, 0.02])
def test_item_table_init_scale(std):
  model = SASRec(SasrecConfig(num_items=4000, embed_dim=16, embed_init_std=std), rngs=nnx.Rngs(0))
  model_std = float(jnp.std(model.item_embed.embedding[...]))
  assert model_std == pytest.approx(std or 1 / np.sqrt(16), rel=0.05)
  assert float(jnp.std(model.pos_embed.embedding[...])) == pytest.approx(1 / np.sqrt(16), rel=0.2)


def test_hstu_recipe_sweep_trains_one_latest_window_per_user():
  from experiments.registry import get_sweep
  from onerec_jax.train.sasrec_task import SasrecTask

  sweep = get_sweep("sasrec_ml1m_hstu_recipe")
  overrides = sweep.runs["per_sequence"]
  config = build_config("sasrec_tiny", overrides)
  assert config.sasrec.train_windows == "latest" and config.train.lr_schedule == "constant"
  task = SasrecTask(config, None)
  every = SasrecTask(build_config("sasrec_tiny"), None)
  assert task.num_examples == len(np.unique(task.rows)) < every.num_examples
  # The one window of a user is the latest of all of that user's windows.
  for r in np.unique(task.rows)[:5]:
    assert task.ends[task.rows == r][0] == every.ends[every.rows == r].max()
