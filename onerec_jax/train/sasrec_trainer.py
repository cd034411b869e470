"""`train_and_evaluate(config, workdir)` for SASRec: windows -> sampled softmax -> full-ranking metrics.

Data from `load_sequences` (the same loaders and leave-one-out split as OneRec), training windows from
the grain pipeline (onerec_jax.input.pipeline), AdamW from onerec_jax.train.optimizer, Orbax checkpoints
of the whole TrainState (exact resume: the input pipeline and the negative sampler are functions of the
step). Every `protocol.eval_every` steps the model ranks the full catalogue for every user on the
validation and test targets (onerec_jax.evaluation.full_ranking); the reported test metrics are those of
the evaluation with the best validation `protocol.select_metric`. Writes workdir/metrics.json.
"""

from __future__ import annotations

import json
import logging
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from onerec_jax.config_overrides import from_dict, to_dict
from onerec_jax.evaluation.full_ranking import target_ranks
from onerec_jax.evaluation.metrics import metrics_from_ranks
from onerec_jax.input import pipeline
from onerec_jax.input.datasets import load_sequences
from onerec_jax.input.sequences import SequenceDataset
from onerec_jax.losses.sampled_softmax import sample_negatives, sampled_softmax_loss
from onerec_jax.models.sasrec import SASRec
from onerec_jax.train import checkpointing
from onerec_jax.train.optimizer import make_optimizer
from onerec_jax.train.sasrec_config import SasrecExperimentConfig
from onerec_jax.train.train_step import TrainState, init_state, split_model

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "eval_history.json"


def build_model(config: SasrecExperimentConfig, num_items: int) -> SASRec:
  """SASRec with the catalogue size filled in (config.model is updated)."""
  config.model.num_items = num_items
  seed = config.train.seed
  return SASRec(config.model, rngs=nnx.Rngs(params=seed, dropout=seed + 1))


def make_train_step(graphdef, tx: optax.GradientTransformation, num_items: int, num_negatives: int,
                    seed: int, rng_impl: str = "threefry2x32", negatives_per: str = "sequence"):
  """train_step(state, batch) -> (state, metrics); negatives and dropout keys come from (seed, step)."""

  def train_step(state: TrainState, batch: dict) -> tuple[TrainState, dict]:
    key = jax.random.fold_in(jax.random.key(seed, impl=rng_impl), state.step)
    b, t = batch["inputs"].shape
    shape = {"position": (b, t, num_negatives), "sequence": (b, num_negatives),
             "batch": (num_negatives,)}[negatives_per]
    negatives = sample_negatives(jax.random.fold_in(key, 0), num_items, shape)

    def loss_fn(params):
      model = nnx.merge(graphdef, params, state.rest)
      model.train()
      queries = model.encode(batch["inputs"], nnx.Rngs(dropout=jax.random.fold_in(key, 1)))  # [b, t, d]
      if negatives_per == "position":  # normalise the table once, then gather b x t x m rows of it
        negative_vectors = model.item_vectors(jnp.arange(num_items))[negatives]
      else:
        negative_vectors = model.item_vectors(negatives)
      loss, metrics = sampled_softmax_loss(queries, model.item_vectors(batch["targets"]), batch["targets"],
                                           negative_vectors, negatives, batch["mask"])
      _, _, rest = split_model(model)
      return loss, (metrics, rest)

    (_, (metrics, rest)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics["grad_norm"] = optax.global_norm(grads)
    return TrainState(state.step + 1, params, rest, opt_state), metrics

  return train_step


def make_score_fn(graphdef):
  """jit(params, rest, inputs [b, t]) -> [b, i] float32 scores of every item (eval mode)."""

  @jax.jit
  def score(params, rest, inputs):
    model = nnx.merge(graphdef, params, rest)
    model.eval()
    return model.score_all(inputs).astype(jnp.float32)

  return score


def evaluate(score_fn, state: TrainState, data: SequenceDataset, config: SasrecExperimentConfig,
             split: str) -> dict:
  """Full-catalogue ranking metrics of one split under config.protocol (see full_ranking's rules)."""
  p = config.protocol
  ranks = []
  for batch, n in pipeline.eval_batches(data, split, config.model.max_len, p.eval_batch_size,
                                        p.max_eval_users):
    scores = np.asarray(score_fn(state.params, state.rest, jnp.asarray(batch["inputs"])))[:n]
    exclude = {"none": None, "window": batch["inputs"], "all": batch["history"]}[p.exclude]
    ranks.append(target_ranks(scores, batch["targets"][:n], None if exclude is None else exclude[:n]))
  ranks = np.concatenate(ranks)
  out = metrics_from_ranks(ranks, p.ks)
  out["num_users"] = int(len(ranks))
  return out


def save_config(config: SasrecExperimentConfig, workdir: str) -> None:
  if jax.process_index() == 0:
    with open(os.path.join(workdir, CONFIG_FILE), "w") as f:
      json.dump(to_dict(config), f, indent=1)


def load_config(workdir: str) -> SasrecExperimentConfig:
  with open(os.path.join(workdir, CONFIG_FILE)) as f:
    return from_dict(SasrecExperimentConfig, json.load(f))


def _pipeline_config(config: SasrecExperimentConfig) -> pipeline.WindowPipelineConfig:
  t = config.train
  return pipeline.WindowPipelineConfig(max_len=config.model.max_len, stride=t.window_stride,
                                       min_history=config.data.min_history, batch_size=t.batch_size,
                                       seed=t.seed, prefetch=t.prefetch)


def train_and_evaluate(config: SasrecExperimentConfig, workdir: str, data: SequenceDataset | None = None
                       ) -> dict:
  """Trains (resuming from workdir's latest checkpoint), evaluates, writes workdir/metrics.json.

  Args:
    config: the experiment.
    workdir: checkpoints, eval_history.json, metrics.json.
    data: optional preloaded sequences (tests); default `load_sequences(config.data)`.

  Returns:
    {'best': {'step', 'valid', 'test'}, 'last': {...}, 'protocol', 'dataset', 'train': {...}}.
  """
  config.validate()
  os.makedirs(workdir, exist_ok=True)
  if data is None:
    data, _ = load_sequences(config.data)
  model = build_model(config, data.num_items)
  save_config(config, workdir)
  tc = config.train
  tx = make_optimizer(tc)
  graphdef, state = init_state(model, tx)
  num_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state.params))
  manager = checkpointing.make_manager(workdir, tc.max_checkpoints)
  if manager.latest_step() is not None:
    state = checkpointing.restore(manager, state)
    logging.info("resumed from checkpoint at step %d", int(state.step))
  history_path = os.path.join(workdir, HISTORY_FILE)
  history = json.load(open(history_path)) if os.path.exists(history_path) else []
  history = [h for h in history if h["step"] <= int(state.step)]
  step_fn = jax.jit(make_train_step(graphdef, tx, data.num_items, tc.num_negatives, tc.seed, tc.rng_impl,
                                    tc.negatives_per),
                    donate_argnums=(0,))
  score_fn = make_score_fn(graphdef)
  pcfg = _pipeline_config(config)
  dataset = pipeline.train_dataset(data, pcfg)
  windows_per_epoch = pipeline.num_windows(data, pcfg)
  first = int(state.step)
  logging.info("SASRec %s on %s: %d parameters; %d users, %d items; %d windows per epoch; steps %d..%d "
               "(%.1f epochs)", config.name, data.name, num_params, data.num_users, data.num_items,
               windows_per_epoch, first, tc.num_steps, tc.num_steps * tc.batch_size / windows_per_epoch)

  def run_eval(step: int):
    t0 = time.time()
    entry = {"step": step, "valid": evaluate(score_fn, state, data, config, "valid"),
             "test": evaluate(score_fn, state, data, config, "test")}
    entry["seconds"] = time.time() - t0
    history.append(entry)
    logging.info("eval step %d (%.1fs): valid %s | test %s", step, entry["seconds"],
                 _fmt(entry["valid"], config.protocol.ks), _fmt(entry["test"], config.protocol.ks))
    if jax.process_index() == 0:
      with open(history_path, "w") as f:
        json.dump(history, f, indent=1)

  iterator = pipeline.train_iterator(dataset, first, tc.prefetch)
  t0 = time.time()
  last_time, last_step, train_seconds = t0, first, 0.0
  try:
    for step in range(first, tc.num_steps):
      batch = next(iterator)
      state, metrics = step_fn(state, {k: jnp.asarray(v) for k, v in batch.items()})
      done = step + 1
      if done % tc.log_every == 0 or done == tc.num_steps:
        values = {k: float(v) for k, v in jax.device_get(metrics).items()}
        now = time.time()
        rate = (done - last_step) / max(now - last_time, 1e-9)
        logging.info("step %d/%d loss %.4f acc %.3f | %.2f steps/s %.0f windows/s", done, tc.num_steps,
                     values["loss"], values["accuracy"], rate, rate * tc.batch_size)
        last_time, last_step = now, done
      if done % config.protocol.eval_every == 0 or done == tc.num_steps:
        train_seconds += time.time() - t0
        run_eval(done)
        t0 = time.time()
      if done % tc.checkpoint_every == 0 or done == tc.num_steps:
        checkpointing.save(manager, done, state)
  finally:
    iterator.close()
  train_seconds += time.time() - t0
  if not history or history[-1]["step"] != int(state.step):
    run_eval(int(state.step))
  manager.wait_until_finished()
  manager.close()
  metric = config.protocol.select_metric
  best = max(history, key=lambda h: (h["valid"][metric], -h["step"]))
  results = {"dataset": data.name, "protocol": config.protocol.name, "exclude": config.protocol.exclude,
             "select_metric": metric, "best": best, "last": history[-1],
             "train": {"steps": tc.num_steps, "resumed_from": first, "seconds_this_run": train_seconds,
                       "parameters": num_params, "windows_per_epoch": windows_per_epoch,
                       "epochs": tc.num_steps * tc.batch_size / windows_per_epoch}}
  if jax.process_index() == 0:
    with open(os.path.join(workdir, METRICS_FILE), "w") as f:
      json.dump(results, f, indent=1, default=float)
  return results


def _fmt(metrics: dict, ks) -> str:
  return " ".join(f"{name}@{k}={metrics[f'{name}@{k}']:.4f}" for k in ks for name in ("hr", "ndcg"))
