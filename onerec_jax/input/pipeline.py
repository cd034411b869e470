"""grain input pipelines over windows: deterministic shuffling, per-host shards, prefetch, exact resume.

The training pipeline is a `grain.MapDataset` whose element `step` is the batch of step `step`: the
window indices are sharded per host (`jax.process_index/count`), shuffled by the seed (a fresh numpy
permutation each epoch, cut into batches; the last partial batch of an epoch is dropped), and gathered
into arrays by one vectorised numpy call per batch. Because the dataset is random-access, the iterator state is the step number: `train_iterator`
starts at any step (`grain.experimental.set_next_index`), and `iterator.get_state()` is a small dict to
store beside a checkpoint if wanted. A background thread prefetches batches while the device computes.
Shape legend: b local batch, t window length, n history length.
"""

from __future__ import annotations

import dataclasses

import grain
import jax
import numpy as np

from onerec_jax.input import windows
from onerec_jax.input.sequences import SequenceDataset, leave_one_out


@dataclasses.dataclass(kw_only=True)
class WindowPipelineConfig:
  """How training windows are cut and batched."""

  max_len: int = 200  # window length t (history a prediction sees)
  stride: int = 200  # window stride; = max_len chunks histories, 1 = one window per target (TIGER)
  min_history: int = 1  # fewest items before a supervised target
  batch_size: int = 128  # global batch (windows per step, over all hosts)
  seed: int = 0  # shuffling seed
  prefetch: int = 2  # batches prefetched by a background thread (0 = none)


def train_dataset(data: SequenceDataset, config: WindowPipelineConfig, *, shard_index: int | None = None,
                  shard_count: int | None = None) -> grain.MapDataset:
  """MapDataset: element s = this host's batch of step s, {'inputs','targets' [b, t] int32, 'mask'}.

  Args:
    data: the sequences.
    config: window and batch settings.
    shard_index, shard_count: this host's shard (default jax.process_index() / jax.process_count());
      each host reads a disjoint 1/shard_count of the windows and a batch of batch_size / shard_count.
  """
  shard_index = jax.process_index() if shard_index is None else shard_index
  shard_count = jax.process_count() if shard_count is None else shard_count
  if config.batch_size % shard_count:
    raise ValueError(f"batch_size={config.batch_size} is not divisible by {shard_count} hosts")
  local = config.batch_size // shard_count
  rows, ends = windows.train_windows(data, config.max_len, config.stride, config.min_history)
  shard = np.arange(shard_index, len(rows), shard_count)
  if len(shard) < local:
    raise ValueError(f"{len(shard)} training windows on this host, fewer than its batch of {local}")
  order = _EpochOrder(len(shard), local, config.seed)

  def batch_at(step: int, _) -> dict[str, np.ndarray]:
    idx = shard[order.indices(step)]
    return windows.gather_windows(data, rows[idx], ends[idx], config.max_len, config.stride,
                                  config.min_history)

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
    return perm[k * self.batch_size:(k + 1) * self.batch_size]


def num_windows(data: SequenceDataset, config: WindowPipelineConfig) -> int:
  """Training windows over all hosts (one epoch)."""
  return len(windows.train_windows(data, config.max_len, config.stride, config.min_history)[0])


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


def eval_batches(data: SequenceDataset, split: str, max_len: int, batch_size: int, max_users: int = 0):
  """Yields evaluation batches over users in order (the last one padded by repeating its last user).

  Yields:
    ({'inputs' [b, t] int32 history window, 'targets' [b] int32, 'history' [b, n] int32 every item
      before the target (-1 padded)}, number of real users in the batch).
  """
  examples = leave_one_out(data, split)
  rows, pos = examples.user_rows, examples.target_pos
  if max_users:
    rows, pos = rows[:max_users], pos[:max_users]
  for start in range(0, len(rows), batch_size):
    r, p = rows[start:start + batch_size], pos[start:start + batch_size]
    n = len(r)
    if n < batch_size:
      r, p = np.pad(r, (0, batch_size - n), mode="edge"), np.pad(p, (0, batch_size - n), mode="edge")
    yield {"inputs": windows.history_windows(data, r, p, max_len),
           "targets": data.items[r, p].astype(np.int32),
           "history": windows.history_before(data, r, p)}, n
