"""A tiny ECPO run end to end: from a supervised quickstart_tiny run, beam rollouts, the early-clipped
objective with the supervised loss, several updates per rollout, evaluation."""

import jax
import numpy as np
import pytest

from experiments import registry
from onerec_jax.sharding.rules import make_mesh, mesh_context
from onerec_jax.train.checkpointing import build_state, restore_run
from onerec_jax.train.families import make_task
from onerec_jax.train.summaries import read_scalars
from onerec_jax.train.trainer import shard_batch, train_and_evaluate


@pytest.fixture(scope="module")
def supervised(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("sft"))
  config = registry.get("quickstart_tiny")
  config.train.num_steps = 20
  train_and_evaluate(config, workdir)
  return workdir


@pytest.mark.slow
@pytest.mark.parametrize("rollouts", ["beam", "sample"])
def test_an_ecpo_step_uses_real_rollouts_and_moves_the_policy(supervised, rollouts):
  config = registry.get("ecpo_synthetic_tiny")
  config.rl.init_from, config.rl.rollouts = supervised, rollouts
  task = make_task(config, None)
  mesh = make_mesh()
  with mesh_context(mesh):
    graphdef, state, tx = build_state(task, config)
    _, _, _, init, _ = restore_run(supervised)
    for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(init.params)):
      np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # starts from the supervised weights
    step = jax.jit(task.make_train_step(graphdef, tx))
    new, metrics = step(state, shard_batch(task.batch(np.arange(16)), mesh))
  metrics = jax.device_get(metrics)
  assert metrics["rl/legal_rate"] == 1.0  # trie-constrained rollouts: every one a real item
  assert np.isfinite(metrics["loss"]) and metrics["rl/reward_mean"] > 0
  # Two updates per rollout: the second sees a ratio away from 1, bounded by the early clip.
  assert 1.0 <= metrics["rl/ratio_max"] <= 1 + config.rl.eps + config.rl.delta + 1e-5
  moved = max(
    float(np.abs(np.asarray(a) - np.asarray(b)).max())
    for a, b in zip(jax.tree.leaves(new.params), jax.tree.leaves(init.params))
  )
  assert moved > 0
  with pytest.raises(ValueError, match="rl.init_from is empty"):
    make_task(registry.get("ecpo_synthetic_tiny"), None)


@pytest.mark.slow
def test_pscore_reward_from_a_reward_run(supervised, tmp_path):
  train_and_evaluate(registry.get("reward_synthetic_tiny"), str(tmp_path / "reward"))
  config = registry.get("ecpo_synthetic_tiny")
  config.rl.init_from, config.rl.reward, config.rl.reward_from = supervised, "pscore", str(tmp_path / "reward")
  config.train.num_steps = 2
  config.eval.free_legality = True
  results = train_and_evaluate(config, str(tmp_path / "ecpo_pscore"))  # through the engine, evaluated
  assert results["train"]["family"] == "ecpo" and results["legal_rate"] == 1.0
  assert 0.0 <= results["legal_rate_without_trie"] <= 1.0
  steps, rewards = read_scalars(str(tmp_path / "ecpo_pscore"))["train/rl/reward_mean"]
  assert steps == [1, 2] and all(np.isfinite(rewards))  # log_every=1: one line per step
  assert "ground_truth_engagement@10" in results


@pytest.mark.slow
@pytest.mark.parametrize("rollouts", ["beam", "sample"])
def test_free_rollouts_with_the_format_reward(supervised, rollouts):
  """Rollouts without the trie (the G best of a free beam search, or G free samples): the legal rate is
  measured (not forced to 1), illegal IDs get no preference advantage, the format reward's term is there
  and finite."""
  config = registry.get("ecpo_synthetic_tiny")
  config.rl.init_from, config.rl.constrained, config.rl.format_samples = supervised, False, 4
  config.rl.rollouts = rollouts
  task = make_task(config, None)
  mesh = make_mesh()
  with mesh_context(mesh):
    graphdef, state, tx = build_state(task, config)
    step = jax.jit(task.make_train_step(graphdef, tx))
    _, metrics = step(state, shard_batch(task.batch(np.arange(16)), mesh))
  metrics = jax.device_get(metrics)
  assert 0.0 <= metrics["rl/legal_rate"] <= 1.0
  assert np.isfinite(metrics["rl/format_loss"]) and np.isfinite(metrics["loss"])
  with pytest.raises(ValueError, match="rl.format_samples"):
    config.rl.format_samples = 99
    config.rl.validate()
  config.rl.format_samples = 4
  with pytest.raises(ValueError, match="rl.rollouts must be 'beam' or 'sample'"):
    config.rl.rollouts = "greedy"
    config.rl.validate()
