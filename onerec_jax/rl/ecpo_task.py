"""ECPO post-training as a family of the one engine ('ecpo'): beam rollouts, group advantages, the
early-clipped objective, jointly with the supervised next-token loss (PAPER.md section 7).

The run starts from a supervised OneRec run (`rl.init_from`): its data, tokenizer artifact, model config
and latest parameters. Each engine step takes a batch whose first rows are supervised targets and whose
last `rl.rl_share` rows are RL users (the features before their validation item, as inference sees them):

  1. pi_old = the parameters at the start of the step; for every RL user, G = rl.group_size items by
     trie-constrained beam search under pi_old (every rollout a real item), or by a free beam search
     (`rl.constrained=False`: rollouts whose ID names no item are dropped from the advantages), or as G
     ancestral samples (`rl.rollouts='sample'`, at `rl.temperature`; with or without the trie);
  2. rewards: the simulator's expected engagement of each item for the user (rl.reward='oracle', an
     upper bound) or the preference probability of a trained P-Score model (rl.reward='pscore'), then
     group-normalised advantages over the legal rollouts; with `rl.format_samples` = K > 0 the format
     reward adds a second ECPO term whose advantage is 1 on the legal ones of K random rollouts;
  3. log pi_old(o) of every rollout, teacher-forced (the product over its semantic-ID tokens);
  4. `rl.updates_per_rollout` optimiser updates of  sft_loss + rl.weight * ECPO(pi, pi_old, A)  (the
     ratio leaves 1 after the first update; the early clip bounds it by 1 + eps + delta).

MoE router biases are not updated during RL (the supervised run balanced them). Evaluation is OneRec's
(Recall/NDCG on the held-out item and, on the simulator, the true engagement of the top-K list).
"""

from __future__ import annotations

import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from onerec_jax.config import ExperimentConfig
from onerec_jax.decoding.beam_search import NEG_INF
from onerec_jax.decoding.generate import generate, sample
from onerec_jax.decoding.item_log_prob import item_log_prob
from onerec_jax.losses.ecpo import ecpo_loss, format_reward, group_advantages
from onerec_jax.train.onerec_task import OneRecTask, onerec_loss
from onerec_jax.train.train_step import TrainState


def oracle_rewards(simulator, user_ids: np.ndarray, num_items: int) -> np.ndarray:
  """[u, i] the simulator's expected engagement of every item for every user (at the end of history)."""
  items = np.broadcast_to(np.arange(num_items), (len(user_ids), num_items))
  return simulator.ground_truth(user_ids, items)


class EcpoTask:
  """ECPO through the engine; `make_train_step` replaces the engine's supervised step."""

  family = "ecpo"
  router_bias_step = 0.0
  experts = (0, 0)

  def __init__(self, config: ExperimentConfig, workdir: str | None):
    from onerec_jax.train.checkpointing import load_config

    rl = config.rl.validate()
    if not rl.init_from:
      raise ValueError(
        "rl.init_from is empty: give the workdir of a trained supervised OneRec run "
        "(--config.rl.init_from=/tmp/onerec_quickstart)"
      )
    base = load_config(rl.init_from)
    if base.family != "onerec":
      raise ValueError(f"rl.init_from={rl.init_from!r} is a {base.family!r} run; ECPO starts from a OneRec run")
    # The supervised run's data, model and semantic IDs (read back from its tokenizer artifact).
    config.data, config.model = base.data, base.model
    config.tokenizer = dataclasses.replace(base.tokenizer, source=os.path.join(rl.init_from, "tokenizer"))
    self.config = config
    self.sft = OneRecTask(config, workdir)
    self.run = self.sft.run
    if self.run.simulator is None and rl.reward == "oracle":
      raise ValueError("rl.reward='oracle' needs the simulator's ground truth (data.dataset='synthetic')")
    self.scorer = None
    if rl.reward == "pscore":
      if not rl.reward_from:
        raise ValueError("rl.reward='pscore' needs rl.reward_from: the workdir of a trained reward run")
      from onerec_jax.evaluation.reward_selection import pscorer

      self.scorer = pscorer(rl.reward_from)
      self.scorer.check_same_data(self.run.data)
    mc = self.run.model_config
    self.experts = (mc.num_experts, mc.num_experts_per_token if mc.num_experts else 0)
    self.compute_dtype = mc.dtype
    self.num_examples = self.sft.num_examples
    self.example_unit = f"rows ({1 - rl.rl_share:.0%} supervised targets, {rl.rl_share:.0%} RL users x {rl.group_size})"
    self.rl_rows = max(1, int(round(config.train.batch_size * rl.rl_share)))
    data = self.run.data
    self.rewards = (
      oracle_rewards(self.run.simulator, data.user_ids, data.num_items)  # [u, i] by user row
      if rl.reward == "oracle"
      else None
    )
    trie = self.run.sid_table.trie()
    self.trie = (np.asarray(trie.children), np.asarray(trie.leaf_item))

  def build_model(self):
    """The supervised run's model with its latest parameters."""
    from onerec_jax.train.checkpointing import restore_run

    model = self.sft.build_model()
    _, _, _, state, _ = restore_run(self.config.rl.init_from)
    fresh = nnx.state(model, nnx.Param)
    nnx.update(model, jax.tree.map(lambda new, old: jax.device_put(np.asarray(new), old.sharding), state.params, fresh))
    return model

  def batch(self, indices):
    n_sft = len(indices) - self.rl_rows
    sft = self.sft.batch(indices[:n_sft]) if n_sft > 0 else None
    rows = self.sft.examples.user_rows[indices[n_sft:]]
    positions = self.run.data.lengths[rows] - 2  # before the valid item
    rl = self.run.builder.history_before(rows, positions)
    out = {"sft": sft, "rl": rl, "rl_rows": rows.astype(np.int32)}
    if self.scorer is not None:  # the reward model's view of the same users (its candidate fields unused)
      from onerec_jax.input.impressions import reward_batch

      out["rl_reward_history"] = reward_batch(self.scorer.task.imp, rows, positions, self.scorer.history_len)
    return out

  def loss(self, model, batch, step):  # the supervised part alone (used by nothing but the protocol)
    return onerec_loss(model, batch["sft"], self.config.train.loss_reduction)

  def make_train_step(self, graphdef, tx: optax.GradientTransformation):
    rl, tc = self.config.rl, self.config.train
    rewards_table = None if self.rewards is None else jnp.asarray(self.rewards)
    children, leaf = (jnp.asarray(a) for a in self.trie)
    scorer = self.scorer
    if scorer is not None:
      data = scorer.task.imp.data
      item_category, item_author = jnp.asarray(data.item_category), jnp.asarray(data.item_author)

    def item_rewards(batch, items):
      """[b, g] rewards of the rollout items (0 where there is no item)."""
      real = items >= 0
      safe = jnp.maximum(items, 0)
      if scorer is None:
        return jnp.where(real, rewards_table[batch["rl_rows"][:, None], safe], 0.0)
      b, g = items.shape
      flat = safe.reshape(-1)
      history = jax.tree.map(lambda x: jnp.repeat(x, g, axis=0), batch["rl_reward_history"])
      candidates = history.replace(item=flat, category=item_category[flat], author=item_author[flat], labels=None)
      reward_model = nnx.merge(scorer.graphdef, scorer.state.params, scorer.state.rest)
      reward_model.eval()
      preference = jax.nn.sigmoid(reward_model(candidates)[1]).reshape(b, g)
      return jax.lax.stop_gradient(jnp.where(real, preference, 0.0))

    def train_step(state: TrainState, batch) -> tuple[TrainState, dict]:
      old = nnx.merge(graphdef, state.params, state.rest)
      old.eval()
      trie = dict(trie_children=children, trie_leaf_item=leaf, constrained=rl.constrained)
      if rl.rollouts == "sample":
        sample_key = jax.random.fold_in(jax.random.fold_in(jax.random.key(rl.seed), state.step), 1)
        rollout = sample(
          old, batch["rl"], num_samples=rl.group_size, key=sample_key, temperature=rl.temperature, **trie
        )
      else:
        rollout = generate(old, batch["rl"], num_beams=rl.group_size, **trie)
      items = rollout.items  # [b, g], -1 where the trie held fewer than g items or the ID names none
      live = rollout.scores > NEG_INF / 2
      real = items >= 0
      rewards = item_rewards(batch, items)
      advantages = group_advantages(rewards, real)
      if rl.format_samples:
        key = jax.random.fold_in(jax.random.key(rl.seed), state.step)
        format_advantages, format_mask = format_reward(real, rl.format_samples, key)
      logp_old = jax.lax.stop_gradient(item_log_prob(old, batch["rl"], rollout.sids))

      def objective(params, rest):
        model = nnx.merge(graphdef, params, rest)
        model.train()
        total, metrics = 0.0, {}
        if batch["sft"] is not None:
          sft_loss, sft_metrics, _ = onerec_loss(model, batch["sft"], tc.loss_reduction)
          total = sft_loss
          metrics.update({f"sft/{k}": v for k, v in sft_metrics.items()})
        logp = item_log_prob(model, batch["rl"], rollout.sids)
        rl_loss, rl_metrics = ecpo_loss(
          logp, logp_old, advantages, eps=rl.eps, delta=rl.delta, mask=real, early_clip=rl.early_clip
        )
        metrics.update({"rl/loss": rl_loss, **{f"rl/{k}": v for k, v in rl_metrics.items()}})
        if rl.format_samples:
          format_loss, _ = ecpo_loss(
            logp, logp_old, format_advantages, eps=rl.eps, delta=rl.delta, mask=format_mask, early_clip=rl.early_clip
          )
          metrics["rl/format_loss"] = format_loss
          rl_loss = rl_loss + rl.format_weight * format_loss
        _, _, rest = nnx.split(model, nnx.Param, ...)
        return total + rl.rl_weight * rl_loss, (metrics, rest)

      def update(carry, _):
        params, rest, opt_state = carry
        (loss, (metrics, rest)), grads = jax.value_and_grad(objective, has_aux=True)(params, rest)
        metrics["grad_norm"] = optax.global_norm(grads)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), rest, opt_state), {"loss": loss, **metrics}

      (params, rest, opt_state), metrics = jax.lax.scan(
        update, (state.params, state.rest, state.opt_state), None, length=rl.updates_per_rollout
      )
      grad_norm_max = metrics["grad_norm"].max()  # [updates] -> the largest update of the step
      metrics = jax.tree.map(lambda x: x.mean(), metrics)
      metrics["grad_norm_max"] = grad_norm_max
      metrics["rl/reward_mean"] = jnp.where(real, rewards, 0).sum() / jnp.maximum(real.sum(), 1)
      metrics["rl/reward_best"] = jnp.where(real, rewards, -jnp.inf).max(-1).mean()
      metrics["rl/legal_rate"] = (real & live).sum() / jnp.maximum(live.sum(), 1)  # of the rollouts drawn
      if "sft/item_accuracy" in metrics:
        metrics["item_accuracy"] = metrics["sft/item_accuracy"]  # what the engine's log line shows
      if isinstance(opt_state, optax.ApplyIfFiniteState):
        metrics["nonfinite_consecutive"] = opt_state.notfinite_count
        metrics["nonfinite_total"] = opt_state.total_notfinite
      return TrainState(state.step + 1, params, rest, opt_state), metrics

    return train_step

  def train_flops(self, batch_size: int) -> int:
    return self.sft.train_flops(batch_size - self.rl_rows)  # the supervised part; rollouts not counted

  def evaluate(self, graphdef, state, split: str) -> dict:
    return self.sft.evaluate(graphdef, state, split)

  def summary(self) -> dict:
    return {
      **self.sft.summary(),
      "init_from": os.path.abspath(self.config.rl.init_from),
      "example_unit": self.example_unit,
    }
