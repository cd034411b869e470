"""Collaborative alignment of content vectors (the report's item-to-item InfoNCE + content reconstruction).

A small projector f (Linear -> GELU -> Linear) maps each item's content vector x [dc] to a unit vector
f(x) [d]; a linear decoder g maps it back. Each step draws B collaboratively similar pairs (a_k, b_k)
(`collaborative.positive_pairs`) and minimises

  InfoNCE(f(x_a), f(x_b)) + w * ||g(f(x)) - x||^2 / ||x||^2

where InfoNCE is the symmetric in-batch loss with cosine logits / temperature: pair k's positive is b_k,
its negatives the other b's of the batch (entries naming the same item as the positive are masked, not
counted as negatives). The reconstruction term (over the batch's items) stands in for the report's
caption reconstruction: it keeps the aligned vector faithful to the item's content, so items with no
interactions still get a meaningful vector. The aligned vectors f(x) are what gets quantised.
Shape legend: i items, B pairs per step, dc content width, d output width, h hidden width.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from onerec_jax.tokenizer.config import ItemVectorsConfig

_STEPS_PER_CALL = 100  # training steps per jitted call (a lax.scan), to keep Python dispatch off the profile


class Projector(nnx.Module):
  """x [.., dc] -> unit f(x) [.., d]; `reconstruct` maps f(x) back to [.., dc]."""

  def __init__(self, content_dim: int, config: ItemVectorsConfig, *, rngs: nnx.Rngs):
    self.hidden = nnx.Linear(content_dim, config.align_hidden, rngs=rngs)
    self.out = nnx.Linear(config.align_hidden, config.align_dim, rngs=rngs)
    self.decoder = nnx.Linear(config.align_dim, content_dim, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    y = self.out(jax.nn.gelu(self.hidden(x)))
    return y / jnp.maximum(jnp.linalg.norm(y, axis=-1, keepdims=True), 1e-12)

  def reconstruct(self, y: jax.Array) -> jax.Array:
    return self.decoder(y)


def info_nce(za: jax.Array, zb: jax.Array, ids_a: jax.Array, ids_b: jax.Array, temperature: float) -> jax.Array:
  """Symmetric in-batch InfoNCE of unit vectors za, zb [B, d] (row k's positive is column k).

  Off-diagonal entries whose item equals the positive's item are masked out of the denominators.
  """
  logits = za @ zb.T / temperature  # [B, B]
  eye = jnp.eye(za.shape[0], dtype=bool)
  mask_ab = (ids_b[None, :] == ids_b[:, None]) & ~eye  # column j is the same item as row k's positive
  mask_ba = (ids_a[None, :] == ids_a[:, None]) & ~eye
  loss_ab = -jnp.diagonal(jax.nn.log_softmax(jnp.where(mask_ab, -jnp.inf, logits), axis=1))
  loss_ba = -jnp.diagonal(jax.nn.log_softmax(jnp.where(mask_ba, -jnp.inf, logits.T), axis=1))
  return 0.5 * (jnp.mean(loss_ab) + jnp.mean(loss_ba))


def loss_fn(model: Projector, content: jax.Array, a: jax.Array, b: jax.Array, config: ItemVectorsConfig):
  """(total, aux) for pairs a, b [B] of item indices into content [i, dc]."""
  xa, xb = content[a], content[b]
  za, zb = model(xa), model(xb)
  nce = info_nce(za, zb, a, b, config.align_temperature)
  x = jnp.concatenate([xa, xb])
  z = jnp.concatenate([za, zb])
  recon = jnp.mean(jnp.sum((model.reconstruct(z) - x) ** 2, -1)) / jnp.maximum(jnp.mean(jnp.sum(x * x, -1)), 1e-30)
  return nce + config.align_recon_weight * recon, {'info_nce': nce, 'recon_rel': recon}


@dataclasses.dataclass
class AlignFit:
  """Aligned vectors [i, d] (unit norm), the trained projector, per-call mean losses, fit time."""

  vectors: np.ndarray
  model: Projector
  history: dict[str, list[float]]
  fit_seconds: float


def fit_alignment(content: np.ndarray, pairs: np.ndarray, config: ItemVectorsConfig, seed: int = 0) -> AlignFit:
  """Trains the projector on content [i, dc] and positive pairs [m, 2]; returns the aligned vectors.

  Content rows are L2-normalised first (text encoders' outputs are compared by cosine).

  Raises:
    ValueError: non-finite content, no pairs, or pair indices outside [0, i).
  """
  start = time.perf_counter()
  config.validate()
  x = np.asarray(content, np.float32)
  if x.ndim != 2 or not np.isfinite(x).all():
    raise ValueError(f'alignment needs finite [items, dim] content vectors, got shape {x.shape}')
  pairs = np.asarray(pairs, np.int32)
  if pairs.ndim != 2 or pairs.shape[0] == 0 or pairs.shape[1] != 2:
    raise ValueError(f'alignment needs [m, 2] positive pairs with m > 0, got shape {pairs.shape}')
  if pairs.min() < 0 or pairs.max() >= x.shape[0]:
    raise ValueError(f'positive pairs name items outside [0, {x.shape[0]})')
  x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
  content_j, pairs_j = jnp.asarray(x), jnp.asarray(pairs)
  key = jax.random.PRNGKey(seed)
  model = Projector(x.shape[1], config, rngs=nnx.Rngs(params=jax.random.fold_in(key, 1)))
  tx = optax.adamw(config.align_learning_rate, weight_decay=1e-4)
  graphdef, params = nnx.split(model)
  opt_state = tx.init(params)
  batch = min(config.align_batch_size, pairs.shape[0])

  def step(carry, k):
    params, opt_state = carry
    idx = jax.random.randint(k, (batch,), 0, pairs_j.shape[0])
    a, b = pairs_j[idx, 0], pairs_j[idx, 1]
    grads, aux = jax.grad(lambda p: loss_fn(nnx.merge(graphdef, p), content_j, a, b, config), has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), aux

  @jax.jit
  def run(params, opt_state, keys):
    (params, opt_state), aux = jax.lax.scan(step, (params, opt_state), keys)
    return params, opt_state, jax.tree.map(jnp.mean, aux)

  history: dict[str, list[float]] = {}
  done = 0
  while done < config.align_steps:
    num = min(_STEPS_PER_CALL, config.align_steps - done)
    keys = jax.random.split(jax.random.fold_in(key, 1000 + done), num)
    params, opt_state, aux = run(params, opt_state, keys)
    for k, v in jax.device_get(aux).items():
      history.setdefault(k, []).append(float(v))
    done += num
  model = nnx.merge(graphdef, params)
  vectors = np.asarray(nnx.jit(lambda m, c: m(c))(model, content_j))
  return AlignFit(vectors=vectors, model=model, history=history, fit_seconds=time.perf_counter() - start)
