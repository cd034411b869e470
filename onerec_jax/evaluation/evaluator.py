"""Held-out evaluation: constrained beam search -> ranked items -> Recall/NDCG, beside baselines.

For the built-in simulator the recommended lists are also scored by the simulator's ground truth
(expected engagement), so a policy's true effect is measured, not only its agreement with the log.
"""

from __future__ import annotations

import logging
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from onerec_jax.decoding.generate import generate
from onerec_jax.decoding.item_log_prob import item_log_prob
from onerec_jax.evaluation.config import EvalConfig
from onerec_jax.evaluation.metrics import dedupe_ranked, history_share, ranking_metrics
from onerec_jax.decoding.beam_search import NEG_INF, assert_legal
from onerec_jax.input import windows
from onerec_jax.input.sequences import leave_one_out
from onerec_jax.sharding.rules import replicated
from onerec_jax.tokenizer.prefix_trie import dead_nodes, exclusion_index


def make_generate_fn(
  graphdef, num_beams: int, out_sharding=None, constrained: bool = True, level_temperatures: tuple[float, ...] = ()
):
  """jit(state, batch, trie_children, trie_leaf_item, exclusion=None) -> BeamResult, model in eval mode.

  `out_sharding` (e.g. `sharding.rules.replicated(state)`) places the result; replicated, every
  process of a multi-host run can read it. `constrained=False`: a free search (beam_search).
  `exclusion`: optional (prefix_trie.ExclusionIndex, excluded items [b, E] int32, -1 padded); the search
  then never generates an excluded item (prefix_trie.dead_nodes). `level_temperatures`: per-level decoding
  temperatures (beam_search.beam_search; () = the model's distribution).
  """

  def generate_fn(state, batch, trie_children, trie_leaf_item, exclusion=None):
    model = nnx.merge(graphdef, state.params, state.rest)
    model.eval()
    return generate(
      model,
      batch,
      num_beams=num_beams,
      trie_children=trie_children,
      trie_leaf_item=trie_leaf_item,
      constrained=constrained,
      dead_nodes=None if exclusion is None else dead_nodes(*exclusion),
      level_temperatures=level_temperatures,
    )

  return jax.jit(generate_fn, out_shardings=out_sharding)


def padded_batches(rows: np.ndarray, positions: np.ndarray, batch_size: int, *per_user: np.ndarray):
  """Yields (rows, positions, *per_user, n) in batches of exactly `batch_size` (one shape: one
  compilation); the last batch is padded by repeating its final user and only its first n results are
  real. `per_user`: more arrays with one leading row per user, batched the same way."""
  for start in range(0, len(rows), batch_size):
    parts = [a[start : start + batch_size] for a in (rows, positions, *per_user)]
    n = len(parts[0])
    if n < batch_size:
      parts = [np.pad(a, [(0, batch_size - n)] + [(0, 0)] * (a.ndim - 1), mode="edge") for a in parts]
    yield (*parts, n)


def recommend_batches(
  run,
  graphdef,
  state,
  rows: np.ndarray,
  positions: np.ndarray,
  num_beams: int,
  batch_size: int,
  constrained: bool = True,
  exclude: np.ndarray | None = None,
  level_temperatures: tuple[float, ...] = (),
) -> tuple[np.ndarray, np.ndarray]:
  """Beam-search items [u, w] and scores [u, w] for users `rows` at target `positions`.

  `constrained=False` searches without the trie (item -1 where an ID names no item); the constrained
  search is asserted legal. `exclude`: optional [u, E] items (-1 padded) the search must not generate
  for each user (pruned from the trie per user, prefix_trie.dead_nodes); none of them is returned.
  `level_temperatures`: per-level decoding temperatures (EvalConfig.level_temperatures).
  """
  trie = run.sid_table.trie()
  children, leaf = jnp.asarray(trie.children), jnp.asarray(trie.leaf_item)
  generate_fn = make_generate_fn(
    graphdef, num_beams, replicated(state), constrained=constrained, level_temperatures=level_temperatures
  )
  index = None if exclude is None else exclusion_index(trie, run.sid_table.sids)
  per_user = () if exclude is None else (np.asarray(exclude, np.int32),)
  items, scores = [], []
  for r, p, *excluded, n in padded_batches(rows, positions, batch_size, *per_user):
    exclusion = (index, jnp.asarray(excluded[0])) if excluded else None
    out = generate_fn(state, run.builder.history_before(r, p), children, leaf, exclusion)
    if constrained:
      assert_legal(out, children, leaf)  # the trie admits only real items: anything else is a bug
    if excluded:  # the pruned trie admits no excluded item: anything else is a bug
      got, banned = np.asarray(out.items), excluded[0]
      leaked = [i for i in range(n) if np.isin(got[i], banned[i][banned[i] >= 0]).any()]
      if leaked:
        raise AssertionError(f"the search returned excluded items for user rows {r[leaked[:5]]}")
    items.append(np.asarray(out.items)[:n])
    scores.append(np.asarray(out.scores)[:n])
  return np.concatenate(items), np.concatenate(scores)


def heldout_loss(run, graphdef, state, rows: np.ndarray, positions: np.ndarray, batch_size: int) -> dict:
  """Teacher-forced cross-entropy of the held-out items' semantic IDs given the history before them.

  Returns {'per_token': mean nats per ID token, 'per_item': mean -log pi(item | user)} over the users;
  the scaling sweeps fit their laws to 'per_token'.
  """
  sids = jnp.asarray(run.sid_table.sids)

  def nll(state, batch, items):
    model = nnx.merge(graphdef, state.params, state.rest)
    model.eval()
    return -item_log_prob(model, batch, sids[items][:, None, :])[:, 0]

  nll_fn = jax.jit(nll, out_shardings=replicated(state))  # every process of a multi-host run reads it

  total = 0.0
  for r, p, n in padded_batches(rows, positions, batch_size):
    batch_nll = nll_fn(state, run.builder.history_before(r, p), jnp.asarray(run.data.items[r, p]))
    total += float(np.asarray(batch_nll)[:n].sum())
  per_item = total / max(len(rows), 1)
  return {"per_token": per_item / run.sid_table.num_levels, "per_item": per_item}


def free_legal_rate(
  run, graphdef, state, rows: np.ndarray, positions: np.ndarray, num_beams: int, batch_size: int
) -> float:
  """Share of the beams of a search *without* the trie whose semantic ID names a real item.

  How well the model has learned the ID grammar by itself (the format reward's concern, PAPER.md
  section 6); the recommendations themselves always come from the trie-constrained search.
  """
  items, scores = recommend_batches(run, graphdef, state, rows, positions, num_beams, batch_size, constrained=False)
  live = scores > NEG_INF / 2
  return float((items[live] >= 0).mean()) if live.any() else 1.0


def evaluate_run(run, graphdef, state, config: EvalConfig) -> dict:
  """Metrics of the model and of the baselines on the configured leave-one-out split.

  Returns:
    {'model': {...}, 'popularity': {...}, 'num_users', 'split', 'legal_rate', 'seconds',
     and for the simulator 'ground_truth': {policy: mean expected engagement of its top-K list}}.
  """
  start = time.time()
  examples = leave_one_out(run.data, config.split)
  rows, pos = examples.user_rows, examples.target_pos
  if config.max_users:
    rows, pos = rows[: config.max_users], pos[: config.max_users]
  targets = run.data.items[rows, pos]
  k = max(config.ks)
  num_beams = max(config.num_beams, config.select_candidates) if config.select_by else config.num_beams
  window = config.exclude_window or run.model_config.short_len
  exclude = windows.excluded_items(run.data, rows, pos, config.exclude, window)
  beam_items, beam_scores = recommend_batches(
    run,
    graphdef,
    state,
    rows,
    pos,
    num_beams,
    config.batch_size,
    exclude=exclude if config.exclude_in_search else None,
    level_temperatures=config.level_temperatures,
  )
  live = beam_scores > NEG_INF / 2
  legal_rate = float(np.mean(beam_items[live] >= 0)) if live.any() else 1.0  # asserted 1.0 per batch
  ranked = dedupe_ranked(beam_items, k, exclude)
  beam_order = None
  if config.select_by:  # show the top K of the candidates by the reward model instead of beam order
    from onerec_jax.evaluation.reward_selection import pscorer, select_by_reward

    scorer = pscorer(config.select_by)
    scorer.check_same_data(run.data)
    candidates = dedupe_ranked(beam_items, config.select_candidates, exclude)
    beam_order, ranked = ranked, select_by_reward(candidates, scorer.score(rows, pos, candidates), k)
  # Popularity: the most interacted items of the training part (the same list for everyone, less the
  # user's history under the HSTU protocol).
  popularity = run.data.item_popularity(upto=run.data.lengths - 2)
  order = np.argsort(-popularity, kind="stable")
  popular = dedupe_ranked(
    np.tile(order[: k + (exclude.shape[1] if exclude is not None else 0)], (len(rows), 1)), k, exclude
  )
  results = {
    "split": config.split,
    "protocol": config.protocol,
    "exclude": config.exclude,
    "exclude_in_search": config.exclude_in_search,
    "level_temperatures": list(config.level_temperatures),  # [] = the model's distribution
    "num_users": int(len(rows)),
    "model": ranking_metrics(ranked, targets, config.ks),
    "popularity": ranking_metrics(popular, targets, config.ks),
    "legal_rate": legal_rate,
    "filled_k_rate": float(np.mean(ranked[:, -1] >= 0)),  # users whose list reached K items
    # The share of the top-K slots holding one of the user's earlier items (0 under exclude='all').
    f"history_share@{k}": history_share(ranked, windows.history_before(run.data, rows, pos)),
    "heldout_loss": heldout_loss(run, graphdef, state, rows, pos, config.batch_size),
  }
  if config.free_legality:
    results["legal_rate_without_trie"] = free_legal_rate(
      run, graphdef, state, rows, pos, config.num_beams, config.batch_size
    )
  if beam_order is not None:
    results["beam_order"] = ranking_metrics(beam_order, targets, config.ks)
    results["selection"] = {"by": config.select_by, "candidates": config.select_candidates}
  sim = run.simulator
  if sim is not None:
    user_ids = run.data.user_ids[rows]
    rng = np.random.default_rng(0)
    random_lists = np.stack([rng.choice(run.data.num_items, k, replace=False) for _ in rows])
    truth = {
      "model": float(sim.expected_engagement(user_ids, ranked).mean()),
      "popularity": float(sim.expected_engagement(user_ids, popular).mean()),
      "random": float(sim.expected_engagement(user_ids, random_lists).mean()),
    }
    if beam_order is not None:
      truth["beam_order"] = float(sim.expected_engagement(user_ids, beam_order).mean())
    if run.data.num_items <= 20000:  # the best possible list, by the simulator's own scores
      best = []
      for s in range(0, len(rows), 256):
        u = user_ids[s : s + 256]
        everything = np.tile(np.arange(run.data.num_items, dtype=np.int32), (len(u), 1))
        best.append(np.argsort(-sim.ground_truth(u, everything), axis=1, kind="stable")[:, :k])
      truth["oracle"] = float(sim.expected_engagement(user_ids, np.concatenate(best)).mean())
    results["ground_truth_engagement@%d" % k] = truth
  results["seconds"] = time.time() - start
  logging.info("evaluation (%s, %d users) in %.1fs", config.split, len(rows), results["seconds"])
  return results


def format_results(results: dict) -> str:
  """A small table of the model against the baselines."""
  extra = "".join(
    f" {k}={results[k]:.3f}"
    for k in (
      "legal_rate",
      "legal_rate_without_trie",
      "filled_k_rate",
      *(k for k in results if k.startswith("history_share")),
    )
    if k in results
  )
  lines = [
    f"split={results['split']} protocol={results.get('protocol', 'tiger')} "
    f"exclude={results.get('exclude', 'none')} users={results['num_users']}{extra}"
  ]
  keys = [k for k in results["model"] if not k.startswith("hr@")]  # hr@k = recall@k, printed once
  lines.append("policy       " + " ".join(f"{k:>10}" for k in keys))
  for policy in ("model", "beam_order", "popularity", "item_rate"):  # item_rate: the reward model's baseline
    if policy in results:
      lines.append(f"{policy:<12} " + " ".join(f"{results[policy][k]:>10.4f}" for k in keys))
  if "selected" in results:
    sel = results["selected"]
    lines.append(
      f"selected on valid {sel['metric']} at step {sel['step']}: test "
      + " ".join(f"{k} {v:.4f}" for k, v in sel["test"].items() if not k.startswith("hr@"))
    )
  if "heldout_loss" in results:
    loss = results["heldout_loss"]
    lines.append(f"held-out loss: {loss['per_token']:.4f} nats per ID token ({loss['per_item']:.4f} per item)")
  for name, truth in results.items():
    if name.startswith("ground_truth"):
      lines.append(f"{name}: " + ", ".join(f"{p}={v:.3f}" for p, v in truth.items()))
  return "\n".join(lines)
