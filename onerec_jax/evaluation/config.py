"""Typed configuration of evaluation."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(kw_only=True)
class EvalConfig:
  """Constrained beam search and ranking metrics on held-out interactions."""

  split: str = "test"  # leave-one-out split of the final evaluation: 'valid' or 'test'
  protocol: str = "tiger"  # name recorded with the results: 'tiger' (Amazon) | 'hstu' (ML-1M), PROTOCOLS.md
  # History items removed from the ranking: 'none' (TIGER) | 'window' (the model's input window, as HSTU's
  # code) | 'all' (every earlier item). A generative model's beam must then be wide enough to fill K.
  exclude: str = "none"
  # exclude='window': the window's length, the protocol's history (HSTU: 200) whatever the model reads
  # (0 = the model's input window: model.short_len, sasrec.max_len); input.windows.excluded_items.
  exclude_window: int = 0
  # Generative families: prune the excluded items from the trie per user inside the beam search (a prefix
  # survives while some item below it is not excluded), so the w beams go to rankable items and the list
  # fills K; False: the beam runs over every item and the excluded ones are dropped after it (the figures
  # measured before 2026-12-03). SASRec scores every item and drops them exactly either way.
  exclude_in_search: bool = False
  num_beams: int = 20  # generative families: beam width (>= max(ks)); the top max(ks) distinct items ranked
  # Generative families: one decoding temperature per semantic-ID level (tokenizer levels, plus one for the
  # disambiguation token); level s scores codes by log_softmax(logits / T_s). () = 1 everywhere (the model's
  # distribution). A decoding choice, to be tuned on valid: how much each level weighs in the ranking.
  level_temperatures: tuple[float, ...] = ()
  ks: tuple[int, ...] = (5, 10)  # cut-offs of Recall@K and NDCG@K
  max_users: int = 0  # evaluate the first N users only (0 = all)
  batch_size: int = 256  # users per beam-search / scoring call
  eval_every: int = 0  # steps between evaluations on valid and test (0 = one evaluation, at the end)
  select_metric: str = ""  # with eval_every: the valid metric that picks the reported step ('' = last step)
  # (the picked step's state is kept in workdir/selected_checkpoint: experiments.evaluate --selected)
  # Reward-model selection (generative families): a reward run's workdir ('' = beam order); the beam
  # generates select_candidates items and the top K by P-Score are shown (beam order reported beside).
  select_by: str = ""
  select_candidates: int = 128
  # Also search without the trie and report the share of beams that name a real item
  # ('legal_rate_without_trie'; the recommendations still come from the constrained search).
  free_legality: bool = False

  def validate(self) -> None:
    if self.split not in ("valid", "test"):
      raise ValueError(f"eval.split must be 'valid' or 'test', got {self.split!r}")
    if self.protocol not in ("tiger", "hstu"):
      raise ValueError(f"eval.protocol must be 'tiger' or 'hstu', got {self.protocol!r}")
    if self.exclude not in ("none", "window", "all"):
      raise ValueError(f"eval.exclude must be 'none', 'window' or 'all', got {self.exclude!r}")
    if self.exclude_in_search and self.exclude == "none":
      raise ValueError("eval.exclude_in_search=true needs items to exclude: eval.exclude is 'none'")
    if self.exclude_window < 0 or (self.exclude_window and self.exclude != "window"):
      raise ValueError(
        f"eval.exclude_window={self.exclude_window} needs eval.exclude='window' and must be >= 0"
        f" (got exclude={self.exclude!r})"
      )
    known = {f"{m}@{k}" for m in ("hr", "recall", "ndcg") for k in self.ks} | {f"mrr@{max(self.ks or (1,))}"}
    # Metrics named 'kind/target' (the reward model's auc/<objective>) are checked against the first evaluation.
    if self.select_metric and "/" not in self.select_metric and self.select_metric not in known:
      raise ValueError(f"eval.select_metric={self.select_metric!r} is not one of {sorted(known)}")
    if self.eval_every < 0:
      raise ValueError(f"eval.eval_every must be >= 0, got {self.eval_every}")
    if not self.ks or min(self.ks) < 1:
      raise ValueError(f"eval.ks must be positive cut-offs, got {self.ks}")
    if not all(t > 0 for t in self.level_temperatures):
      raise ValueError(f"eval.level_temperatures must be positive, got {self.level_temperatures}")
    if self.num_beams < max(self.ks):
      raise ValueError(f"eval.num_beams={self.num_beams} must be >= max(eval.ks)={max(self.ks)}")
    if self.max_users < 0 or self.batch_size < 1:
      raise ValueError("eval.max_users must be >= 0 and eval.batch_size >= 1")
