"""End to end on quickstart_tiny: train, checkpoint, resume exactly, restore, decode, evaluate."""

import json
import os

import jax
import numpy as np
import pytest

from experiments import registry
from onerec_jax.recommender import Recommender
from onerec_jax.train.checkpointing import restore_run
from onerec_jax.train.trainer import evaluate_workdir, train_and_evaluate


@pytest.fixture(scope="module")
def two_step_run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("quickstart_tiny"))
  results = train_and_evaluate(registry.get("quickstart_tiny"), workdir)
  return workdir, results


def test_train_checkpoint_evaluate(two_step_run):
  workdir, results = two_step_run
  assert results["train"]["steps"] == 2 and results["train"]["resumed_from"] == 0
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["1", "2"]
  assert results["legal_rate"] == 1.0  # the trie admits only real items
  for policy in ("model", "popularity"):
    assert 0.0 <= results[policy]["recall@10"] <= 1.0
    assert results[policy]["ndcg@10"] <= results[policy]["recall@10"] + 1e-9
  truth = results["ground_truth_engagement@10"]
  assert truth["oracle"] >= max(truth["model"], truth["popularity"], truth["random"])
  on_disk = json.load(open(os.path.join(workdir, "metrics.json")))
  assert on_disk["model"] == results["model"]
  assert os.listdir(os.path.join(workdir, "tensorboard"))


def test_resume_is_exact(two_step_run, tmp_path):
  workdir, _ = two_step_run
  config = registry.get("quickstart_tiny")
  config.train.num_steps = 3
  resumed = train_and_evaluate(config, workdir)  # continues from step 2
  assert resumed["train"]["resumed_from"] == 2
  straight_dir = str(tmp_path / "straight")
  train_and_evaluate(config, straight_dir)  # 3 steps in one go
  _, _, _, resumed_state, _ = restore_run(workdir)
  _, _, _, straight_state, _ = restore_run(straight_dir)
  assert int(resumed_state.step) == int(straight_state.step) == 3
  for a, b in zip(jax.tree.leaves(resumed_state.params), jax.tree.leaves(straight_state.params)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_restore_and_recommend(two_step_run):
  workdir, _ = two_step_run
  rec = Recommender.from_workdir(workdir)
  items, scores = rec.recommend([0, 1, 2], k=5)
  assert items.shape == (3, 5) and scores.shape == (3, 5)
  assert ((items >= 0) & (items < rec.run.data.num_items)).all()
  assert (np.diff(scores, axis=1) <= 1e-6).all()
  with pytest.raises(ValueError, match="user rows"):
    rec.recommend([10_000])


def test_evaluate_command_writes_metrics(two_step_run):
  workdir, _ = two_step_run
  results = evaluate_workdir(workdir, "quickstart_tiny", ["--config.eval.split=valid"])
  assert results["split"] == "valid" and results["checkpoint_step"] >= 2
  assert json.load(open(os.path.join(workdir, "metrics.json")))["split"] == "valid"
  with pytest.raises(ValueError, match="was trained as"):
    evaluate_workdir(workdir, "quickstart")
