"""The protocols' exclusion rules: what each user's ranking drops (HSTU: its 200-item history window,
whatever window the model reads). Both families call input.windows.excluded_items."""

import numpy as np
import pytest

from onerec_jax.evaluation.config import EvalConfig
from onerec_jax.input.windows import excluded_items
from tests.input.windows_pipeline_test import toy

ROWS, POS = np.array([0, 2]), np.array([6, 4])  # the last item of users 0 (7 items) and 2 (5 items)


def test_none_all_and_window():
  data = toy()
  assert excluded_items(data, ROWS, POS, "none", 3) is None
  everything = excluded_items(data, ROWS, POS, "all", 3)
  assert sorted(everything[0][everything[0] >= 0]) == list(range(6))
  assert sorted(everything[1][everything[1] >= 0]) == [20, 21, 22, 23]
  np.testing.assert_array_equal(excluded_items(data, ROWS, POS, "window", 3), [[3, 4, 5], [21, 22, 23]])
  # A window longer than the history is -1 padded in front.
  np.testing.assert_array_equal(excluded_items(data, ROWS, POS, "window", 5), [[1, 2, 3, 4, 5], [-1, 20, 21, 22, 23]])
  with pytest.raises(ValueError, match="'none', 'window' or 'all'"):
    excluded_items(data, ROWS, POS, "history", 3)


def test_exclude_window_is_validated():
  with pytest.raises(ValueError, match="exclude_window.*needs eval.exclude='window'"):
    EvalConfig(exclude="none", exclude_window=200).validate()
  with pytest.raises(ValueError, match="exclude_window"):
    EvalConfig(exclude="window", exclude_window=-1).validate()


def test_exclude_in_search_needs_something_to_exclude():
  with pytest.raises(ValueError, match="exclude_in_search"):
    EvalConfig(exclude="none", exclude_in_search=True).validate()
  EvalConfig(exclude="all", exclude_in_search=True).validate()


def test_generative_evaluation_excludes_history_inside_the_search():
  """HSTU's rule in the beam search itself: with a beam over every item it ranks exactly as dropping
  the history after the search; with a narrow beam every list still fills K and holds no history item."""
  import dataclasses

  import jax
  import optax

  from experiments import registry
  from onerec_jax.evaluation.evaluator import evaluate_run, recommend_batches
  from onerec_jax.sharding.rules import make_mesh, mesh_context
  from onerec_jax.train.assembly import build_model, prepare
  from onerec_jax.train.train_step import init_state

  config = registry.get("quickstart_tiny")  # 60 items, histories of 8-16
  config.eval = dataclasses.replace(config.eval, protocol="hstu", exclude="all", ks=(5, 10), num_beams=10)
  run = prepare(config)
  with mesh_context(make_mesh((1, 1, 1, 1), jax.devices()[:1])):
    graphdef, state = init_state(build_model(run.model_config, 0), optax.sgd(0.1))
  results = {}
  for beams in (10, 64):  # 64 beams hold every prefix of the 60 items: the search is exact
    for in_search in (False, True):
      ev = dataclasses.replace(config.eval, num_beams=beams, exclude_in_search=in_search)
      results[beams, in_search] = evaluate_run(run, graphdef, state, ev)
  assert results[64, True]["model"] == results[64, False]["model"]
  assert all(r["history_share@10"] == 0.0 for r in results.values())  # excluded: no slot holds history
  kept = evaluate_run(run, graphdef, state, dataclasses.replace(config.eval, exclude="none", num_beams=10))
  assert kept["history_share@10"] > 0.05  # an untrained model over 60 items, 8-16 of them each user's history
  narrow, narrow_after = results[10, True], results[10, False]
  assert narrow["filled_k_rate"] == 1.0 and narrow["exclude_in_search"]
  assert narrow_after["filled_k_rate"] < 1.0  # 10 beams minus the history items cannot fill K = 10
  rows, pos = np.arange(32), run.data.lengths[:32] - 1
  history = excluded_items(run.data, rows, pos, "all", 0)
  items, _ = recommend_batches(run, graphdef, state, rows, pos, 10, 16, exclude=history)
  assert all(not np.isin(items[i], history[i][history[i] >= 0]).any() for i in range(32))
  assert (items >= 0).all()
