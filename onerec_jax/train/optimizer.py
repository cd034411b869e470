"""The optimiser: AdamW with warm-up + cosine decay (or a constant rate, or warm-up-stable-decay) and
global-norm clipping (Optax), skipping updates whose gradients are not finite (optax.apply_if_finite; the
engine stops a run that keeps failing), and optionally a moving average of the parameters that evaluation
uses (onerec_jax.train.param_ema)."""

from __future__ import annotations

import jax
import optax

from onerec_jax.train.config import TrainConfig
from onerec_jax.train.param_ema import param_ema


def learning_rate_schedule(config: TrainConfig) -> optax.Schedule:
  """Linear warm-up to the peak, then cosine decay to 10% of it at num_steps ('cosine'), the peak held
  ('constant', HSTU's recipe; no warm-up when warmup_steps is 0), or the peak held until num_steps -
  decay_steps and then a linear decay to 10% of it at num_steps ('wsd': warm-up, stable, decay)."""
  if config.lr_schedule in ("constant", "wsd"):
    if not config.warmup_steps:
      schedule = optax.constant_schedule(config.learning_rate)
    else:
      schedule = optax.linear_schedule(0.0, config.learning_rate, config.warmup_steps)
    if config.lr_schedule == "constant":
      return schedule
    decay = optax.linear_schedule(config.learning_rate, 0.1 * config.learning_rate, config.decay_steps)
    return optax.join_schedules([schedule, decay], [config.num_steps - config.decay_steps])
  return optax.warmup_cosine_decay_schedule(
    init_value=0.0,
    peak_value=config.learning_rate,
    warmup_steps=max(config.warmup_steps, 1),
    decay_steps=max(config.num_steps, config.warmup_steps + 1),
    end_value=0.1 * config.learning_rate,
  )


def learning_rate_jump(saved_train: TrainConfig, train: TrainConfig, step: int) -> str | None:
  """Where resuming at `step` under `train` changes the learning rate the run trained with under
  `saved_train`: 'the learning rate at step S was X, now Y ...', or None when both schedules agree at
  `step`. A 'wsd' run extended (a larger num_steps) from a checkpoint in its stable phase agrees; one
  extended from a checkpoint in its decay phase, or a 'cosine' run resumed with another num_steps, does
  not: its rate jumps there."""
  before, after = (float(learning_rate_schedule(t)(step)) for t in (saved_train, train))
  if abs(before - after) <= 1e-6 * max(abs(before), abs(after), 1e-12):
    return None
  return (
    f"the learning rate at step {step} was {before:.3g} under the saved schedule (lr_schedule="
    f"{saved_train.lr_schedule!r}, num_steps={saved_train.num_steps}, decay_steps={saved_train.decay_steps}) "
    f"and is {after:.3g} now (lr_schedule={train.lr_schedule!r}, num_steps={train.num_steps}, decay_steps="
    f"{train.decay_steps}): the resumed run does not continue the schedule it trained with"
  )


# apply_if_finite applies an update anyway after this many consecutive failures; the engine stops the run
# at train.max_nonfinite_steps long before, so a non-finite update is never applied.
_NEVER = 2**31 - 1


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
  """AdamW; weight decay only on matrices (not norms, biases or the router); non-finite updates skipped;
  with train.ema_decay > 0, an average of the parameters kept last in the chain (param_ema).

  The state is an `optax.ApplyIfFiniteState`: `notfinite_count` (consecutive skipped steps) and
  `total_notfinite` are what the train step reports.
  """
  decay_mask = lambda params: jax.tree.map(lambda p: p.ndim >= 2, params)
  parts = [optax.clip_by_global_norm(config.grad_clip_norm)] if config.grad_clip_norm else []
  parts.append(
    optax.adamw(learning_rate_schedule(config), b1=0.9, b2=0.98, weight_decay=config.weight_decay, mask=decay_mask)
  )
  if config.ema_decay:
    parts.append(param_ema(config.ema_decay))
  return optax.apply_if_finite(optax.chain(*parts), max_consecutive_errors=_NEVER)
