"""The published numbers to beat (../shared/PROTOCOLS.md), as data: test split, each dataset's protocol.

`PUBLISHED[dataset][model]` maps metric names (as the evaluator writes them: recall@K = hr@K under
one target per user) to the published value; `MINIMUM[dataset]` names the model issue 9 asks to beat.
`fraction_of(metrics, dataset)` gives our value over the minimum's per metric, the "89% of TIGER" of
BENCHMARKS.md, computed rather than typed.
"""

from __future__ import annotations


def _with_twins(values: dict[str, float]) -> dict[str, float]:
  """One target per user: Recall@K is HR@K, so each is also given under the other name."""
  twins = {}
  for name, value in values.items():
    for a, b in (("recall@", "hr@"), ("hr@", "recall@")):
      if name.startswith(a):
        twins[b + name[len(a) :]] = value
  return {**twins, **values}


PUBLISHED: dict[str, dict[str, dict[str, float]]] = {
  # TIGER protocol, Amazon Beauty 5-core (R@5 / N@5 / R@10 / N@10).
  "amazon_beauty": {
    "SASRec (TIGER's)": {"recall@5": 0.0387, "ndcg@5": 0.0249, "recall@10": 0.0605, "ndcg@10": 0.0318},
    "TIGER": {"recall@5": 0.0454, "ndcg@5": 0.0321, "recall@10": 0.0648, "ndcg@10": 0.0384},
    "ActionPiece": {"recall@5": 0.0511, "ndcg@5": 0.0340, "recall@10": 0.0775, "ndcg@10": 0.0424},
    "RPG": {"recall@5": 0.0550, "ndcg@5": 0.0381, "recall@10": 0.0809, "ndcg@10": 0.0464},
    "EAGER-LLM": {"recall@5": 0.0548, "ndcg@5": 0.0369, "recall@10": 0.0830, "ndcg@10": 0.0459},
  },
  # HSTU protocol, ML-1M (HR@10 / NDCG@10 / HR@50 / HR@200).
  "ml1m": {
    "SASRec": {"hr@10": 0.2853, "ndcg@10": 0.1603, "hr@50": 0.5474, "hr@200": 0.7528},
    "BERT4Rec": {"hr@10": 0.2843, "ndcg@10": 0.1537},
    "HSTU": {"hr@10": 0.3097, "ndcg@10": 0.1720, "hr@50": 0.5754, "hr@200": 0.7716},
    "HSTU-large": {"hr@10": 0.3294, "ndcg@10": 0.1893, "hr@50": 0.5935, "hr@200": 0.7839},
  },
}
PUBLISHED = {dataset: {model: _with_twins(v) for model, v in models.items()} for dataset, models in PUBLISHED.items()}
MINIMUM = {"amazon_beauty": "TIGER", "ml1m": "SASRec"}


def published(dataset: str) -> dict[str, dict[str, float]]:
  """The published models of `dataset`; KeyError naming the datasets that have published numbers."""
  if dataset not in PUBLISHED:
    raise KeyError(f"no published numbers for dataset {dataset!r}; have {sorted(PUBLISHED)}")
  return PUBLISHED[dataset]


def fraction_of(metrics: dict[str, float], dataset: str, model: str | None = None) -> dict[str, float]:
  """{metric: ours / published} over the metrics both have; `model` defaults to the minimum target."""
  reference = published(dataset)[model or MINIMUM[dataset]]
  return {name: value / reference[name] for name, value in metrics.items() if name in reference}
