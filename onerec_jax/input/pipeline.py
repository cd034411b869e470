"""The grain input pipeline of every model family: deterministic shuffling, per-host rows, prefetch, exact resume.

The training pipeline (`step_dataset`) is a `grain.MapDataset` whose element `step` is this process's
part of the global batch of step `step`: the example indices are shuffled by the seed (a fresh numpy
permutation each epoch, cut into global batches; the last partial batch of an epoch is dropped), each
process takes its rows, and the family's `batch_fn` gathers them by one vectorised numpy call per batch. Because the dataset is random-access, the iterator state is the step number: `train_iterator`
starts at any step (`grain.experimental.set_next_index`), and `iterator.get_state()` is a small dict to
store beside a checkpoint if wanted. A background thread prefetches batches while the device computes.
Shape legend: b local batch, t window length, n history length.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grain
import jax
import numpy as np

from onerec_jax.input import windows
from onerec_jax.input.sequences import SequenceDataset, leave_one_out


def step_dataset(
  num_examples: int,
  batch_size: int,
  seed: int,
  batch_fn: Callable[[np.ndarray], Any],
  *,
  process_index: int | None = None,
  process_count: int | None = None,
) -> grain.MapDataset:
  """The training input of every model family: element s = this process's part of global batch s.

  Epoch e is the permutation rng((seed, e)) of the example indices cut into global batches (the last
  partial batch dropped); process p of n takes rows [p * b / n, (p + 1) * b / n) of each, so the global
  batch is the same for any number of processes. `batch_fn(indices)` gathers the rows into a (typed)
  batch with one vectorised numpy call per batch.

  Args:
    num_examples: examples per epoch (targets, or windows of targets).
    batch_size: global batch b (over all processes).
    seed: shuffling seed.
    batch_fn: example indices [b / n] -> host batch (a pytree of numpy arrays).
    process_index, process_count: default jax.process_index() / jax.process_count().
  """
  index = jax.process_index() if process_index is None else process_index
  count = jax.process_count() if process_count is None else process_count
  if batch_size % count:
    raise ValueError(f"batch_size={batch_size} is not divisible by {count} processes")
  if num_examples < batch_size:
    raise ValueError(f"{num_examples} training examples is fewer than batch_size {batch_size}")
  local = batch_size // count
  order = _EpochOrder(num_examples, batch_size, seed)

  def batch_at(step: int, _) -> Any:
    return batch_fn(order.indices(step)[index * local : (index + 1) * local])

  return grain.MapDataset.range(order.steps_per_epoch).repeat().map_with_index(batch_at)


class _EpochOrder:
  """Step -> example indices: epoch e is the permutation rng((seed, e)) cut into batches (last partial
  batch dropped). Vectorised: shuffling per element in Python would cost more than the gather itself."""

  def __init__(self, num_examples: int, batch_size: int, seed: int):
    self.num_examples, self.batch_size, self.seed = num_examples, batch_size, seed
    self.steps_per_epoch = num_examples // batch_size
    self._cache: dict[int, np.ndarray] = {}

  def indices(self, step: int) -> np.ndarray:
    epoch, k = divmod(int(step), self.steps_per_epoch)
    perm = self._cache.get(epoch)
    if perm is None:
      perm = np.random.default_rng((self.seed, epoch)).permutation(self.num_examples)
      self._cache = {epoch: perm}  # the prefetch thread and the caller move forward together
    return perm[k * self.batch_size : (k + 1) * self.batch_size]


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
  """Global batches per epoch of `step_dataset`."""
  return num_examples // batch_size


def train_iterator(dataset: grain.MapDataset, start_step: int = 0, prefetch: int = 2):
  """An iterator over `dataset` from batch `start_step`, prefetching `prefetch` batches in a thread.

  Call `.close()` when done. `.get_state()` -> {'next_index': step}; restoring = starting at that step.
  """
  it_ds = dataset.to_iter_dataset(grain.ReadOptions(num_threads=0, prefetch_buffer_size=0))
  if prefetch:
    it_ds = grain.experimental.ThreadPrefetchIterDataset(it_ds, prefetch_buffer_size=prefetch)
  it = iter(it_ds)
  if start_step:
    grain.experimental.set_next_index(it, start_step)
  return it


def eval_batches(
  data: SequenceDataset,
  split: str,
  max_len: int,
  batch_size: int,
  max_users: int = 0,
  exclude: str = "none",
  exclude_window: int = 0,
):
  """Yields evaluation batches over users in order (the last one padded by repeating its last user).

  Yields:
    ({'inputs' [b, t] int32 history window, 'targets' [b] int32, 'exclude' the items the ranking drops
      (windows.excluded_items under `exclude`, the window `exclude_window` or else `max_len`; None for
      'none')}, number of real users in the batch).
  """
  examples = leave_one_out(data, split)
  rows, pos = examples.user_rows, examples.target_pos
  if max_users:
    rows, pos = rows[:max_users], pos[:max_users]
  for start in range(0, len(rows), batch_size):
    r, p = rows[start : start + batch_size], pos[start : start + batch_size]
    n = len(r)
    if n < batch_size:
      r, p = np.pad(r, (0, batch_size - n), mode="edge"), np.pad(p, (0, batch_size - n), mode="edge")
    yield (
      {
        "inputs": windows.history_windows(data, r, p, max_len),
        "targets": data.items[r, p].astype(np.int32),
        "exclude": windows.excluded_items(data, r, p, exclude, exclude_window or max_len),
      },
      n,
    )
