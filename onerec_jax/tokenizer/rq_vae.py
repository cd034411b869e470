"""RQ-VAE (TIGER style), the baseline the report compares RQ-Kmeans with (its Table 11).

An MLP encoder maps an item vector x [d] to a latent z [e]; a residual quantiser with L codebooks of c
codes each quantises z greedily (level l picks the code nearest the residual left by levels < l); an
MLP decoder maps the quantised latent back to x_hat [d]. Training minimises

  ||x - x_hat||^2 + sum_l ( ||sg(r_l) - q_l||^2 + beta ||r_l - sg(q_l)||^2 )

with the straight-through estimator z + sg(z_q - z) carrying the reconstruction gradient past the
argmin to the encoder (sg = stop_gradient, r_l the level-l residual, q_l its chosen code). Codebooks are
initialised by residual k-means on the initial latents (the common remedy for codebook collapse), and
codes left unused by all items are moved onto random residuals every `restart_every` epochs.

Metrics (`rq_vae_metrics`) use the keys of `metrics.tokenizer_metrics`, and the reconstruction loss is
measured in the input space, relative to the input vectors' energy, so RQ-Kmeans and RQ-VAE are
compared on the same vectors: `recon_loss_rel/level_l` decodes the sum of the first l codes.
Shape legend: n items, b batch, d input width, e latent width, c codes per level, L levels.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from onerec_jax.tokenizer import residual_kmeans
from onerec_jax.tokenizer.metrics import code_metrics
from onerec_jax.tokenizer.config import RqVaeConfig, TokenizerConfig

FORMAT_NAME = 'onerec_jax.RqVae'
FORMAT_VERSION = 1


class RqVae(nnx.Module):
  """Encoder MLP -> L x c residual codebooks in latent space -> decoder MLP (widths mirrored)."""

  def __init__(self, input_dim: int, config: TokenizerConfig, *, rngs: nnx.Rngs):
    c = config.rq_vae
    dims = (input_dim, *c.hidden_dims, c.latent_dim)
    self.encoder = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(dims[:-1], dims[1:])])
    back = dims[::-1]
    self.decoder = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(back[:-1], back[1:])])
    shape = (config.num_levels, config.codebook_size, c.latent_dim)
    self.codebooks = nnx.Param(jax.random.normal(rngs.params(), shape) * 0.1)  # [L, c, e]

  @staticmethod
  def _mlp(layers, x):
    for i, layer in enumerate(layers):
      x = layer(x)
      if i < len(layers) - 1:
        x = jax.nn.relu(x)
    return x

  def encode(self, x: jax.Array) -> jax.Array:
    """[b, d] -> [b, e] latents."""
    return self._mlp(self.encoder, x)

  def decode(self, z: jax.Array) -> jax.Array:
    """[b, e] (quantised) latents -> [b, d] reconstructions."""
    return self._mlp(self.decoder, z)


def quantize(codebooks: jax.Array, z: jax.Array) -> dict[str, jax.Array]:
  """Greedy residual quantisation of latents z [b, e] under codebooks [L, c, e].

  Returns a dict: codes [b, L] int32; z_q [b, e] the sum of the chosen codes (no gradient to z);
  z_st [b, e] straight-through latents (value z_q, gradient to z); partial [L, b, e] the sums of the
  first l + 1 codes; codebook_loss and commitment_loss (scalars, summed over levels, mean over b).
  """
  r = z
  z_q = jnp.zeros_like(z)
  codes, partial = [], []
  codebook_loss = commitment_loss = 0.0
  for level in range(codebooks.shape[0]):
    book = codebooks[level]  # [c, e]
    scores = jnp.sum(book * book, -1)[None, :] - 2.0 * jax.lax.stop_gradient(r) @ book.T  # [b, c]
    code = jnp.argmin(jax.lax.stop_gradient(scores), axis=-1).astype(jnp.int32)
    q = book[code]  # [b, e]
    codebook_loss += jnp.mean(jnp.sum((jax.lax.stop_gradient(r) - q) ** 2, -1))
    commitment_loss += jnp.mean(jnp.sum((r - jax.lax.stop_gradient(q)) ** 2, -1))
    r = r - jax.lax.stop_gradient(q)
    z_q = z_q + q
    codes.append(code)
    partial.append(z_q)
  z_st = z + jax.lax.stop_gradient(z_q - z)
  return {
    'codes': jnp.stack(codes, 1),
    'z_q': jax.lax.stop_gradient(z_q),
    'z_st': z_st,
    'partial': jnp.stack(partial),
    'codebook_loss': codebook_loss,
    'commitment_loss': commitment_loss,
  }


def loss_fn(model: RqVae, x: jax.Array, commitment: float) -> tuple[jax.Array, dict[str, jax.Array]]:
  """The RQ-VAE objective on a batch x [b, d]; returns (loss, aux with its parts and the codes)."""
  z = model.encode(x)
  q = quantize(model.codebooks[...], z)
  x_hat = model.decode(q['z_st'])
  recon = jnp.mean(jnp.sum((x - x_hat) ** 2, -1))
  loss = recon + q['codebook_loss'] + commitment * q['commitment_loss']
  rel = recon / jnp.maximum(jnp.mean(jnp.sum(x * x, -1)), 1e-30)
  return loss, {
    'loss': loss,
    'recon': recon,
    'recon_rel': rel,
    'codebook_loss': q['codebook_loss'],
    'commitment_loss': q['commitment_loss'],
    'codes': q['codes'],
  }


def _restart_dead_codes(codebooks: jax.Array, z: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Moves codes no item uses onto random items' residuals, level by level. Returns (codebooks, #moved)."""
  num_levels, num_codes, _ = codebooks.shape
  n = z.shape[0]
  r = z
  moved = jnp.zeros((), jnp.int32)
  for level in range(num_levels):
    book = codebooks[level]
    code, _ = residual_kmeans._assign(r, book, residual_kmeans._chunk_rows(n, num_codes))
    dead = jnp.bincount(code, length=num_codes) == 0
    pick = jax.random.choice(jax.random.fold_in(key, level), n, (num_codes,), replace=num_codes > n)
    book = jnp.where(dead[:, None], r[pick], book)
    codebooks = codebooks.at[level].set(book)
    code, _ = residual_kmeans._assign(r, book, residual_kmeans._chunk_rows(n, num_codes))
    r = r - book[code]
    moved = moved + jnp.sum(dead)
  return codebooks, moved


@dataclasses.dataclass
class RqVaeFit:
  """A fitted RQ-VAE: the model, the codes of the fitted items, and how training went.

  Attributes:
    model: the trained RqVae.
    codes: [n, L] int32 codes of the fitted vectors (greedy, from the final model).
    history: per-epoch means of 'loss', 'recon_rel', 'codebook_loss', 'commitment_loss', and
      'codes_restarted' (per epoch, 0 where no restart ran).
    fit_seconds: wall time of the fit (initialisation included, compilation included).
  """

  model: RqVae
  codes: np.ndarray
  history: dict[str, list[float]]
  fit_seconds: float


def fit_rq_vae(vectors: Any, config: TokenizerConfig) -> RqVaeFit:
  """Trains an RQ-VAE with L x c codes (config.num_levels x config.codebook_size) on item vectors.

  Args:
    vectors: [n, d] float item vectors, all finite, n >= config.codebook_size.
    config: TokenizerConfig; `rq_vae` holds the network and training fields, `seed` the PRNG seed.

  Returns:
    RqVaeFit (model, codes [n, L], per-epoch history, fit time).

  Raises:
    ValueError: on a bad config, non-2-D or non-finite vectors, or fewer items than codes.
  """
  start = time.perf_counter()
  config.validate()
  c = config.rq_vae
  x = residual_kmeans._check_vectors(vectors)
  n, d = x.shape
  if n < config.codebook_size:
    raise ValueError(
      f'fit_rq_vae needs at least codebook_size={config.codebook_size} items, got {n}; '
      'lower TokenizerConfig.codebook_size.'
    )
  key = jax.random.PRNGKey(config.seed)
  model = RqVae(d, config, rngs=nnx.Rngs(params=jax.random.fold_in(key, 1)))
  if c.kmeans_init:
    z0 = model.encode(x)
    km = residual_kmeans.fit_residual_kmeans(
      z0, dataclasses.replace(config, num_iters=min(config.num_iters, 10), balanced=False, batch_size=0)
    )
    model.codebooks[...] = km.codebooks

  batch = min(c.batch_size, n)
  num_batches = n // batch
  tx = optax.adamw(c.learning_rate, weight_decay=c.weight_decay)
  graphdef, params = nnx.split(model)
  opt_state = tx.init(params)

  def step(carry, xb):
    params, opt_state = carry
    grads, aux = jax.grad(lambda p: loss_fn(nnx.merge(graphdef, p), xb, c.commitment), has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    aux.pop('codes')
    return (optax.apply_updates(params, updates), opt_state), aux

  @jax.jit
  def epoch(params, opt_state, key, restart):
    perm = jax.random.permutation(key, n)[: num_batches * batch]
    (params, opt_state), aux = jax.lax.scan(step, (params, opt_state), x[perm].reshape(num_batches, batch, d))
    aux = jax.tree.map(jnp.mean, aux)

    def do_restart(params):
      m = nnx.merge(graphdef, params)
      books, moved = _restart_dead_codes(m.codebooks[...], m.encode(x), jax.random.fold_in(key, 7))
      m.codebooks[...] = books
      return nnx.state(m), moved

    params, moved = jax.lax.cond(restart, do_restart, lambda p: (p, jnp.zeros((), jnp.int32)), params)
    aux['codes_restarted'] = moved
    return params, opt_state, aux

  history: dict[str, list[float]] = {}
  for e in range(c.num_epochs):
    restart = bool(c.restart_every) and (e + 1) % c.restart_every == 0 and e + 1 < c.num_epochs
    params, opt_state, aux = epoch(params, opt_state, jax.random.fold_in(key, 100 + e), restart)
    for k, v in jax.device_get(aux).items():
      history.setdefault(k, []).append(float(v))
  model = nnx.merge(graphdef, params)
  codes = np.asarray(encode(model, x))
  return RqVaeFit(model=model, codes=codes, history=history, fit_seconds=time.perf_counter() - start)


@nnx.jit
def _encode(model: RqVae, x: jax.Array) -> jax.Array:
  return quantize(model.codebooks[...], model.encode(x))['codes']


def encode(model: RqVae, vectors: Any) -> jax.Array:
  """[n, d] item vectors -> [n, L] int32 codes; raises ValueError on a width the model was not built for."""
  x = residual_kmeans._check_vectors(vectors)
  want = model.encoder[0].in_features
  if x.shape[1] != want:
    raise ValueError(f'RQ-VAE was fitted on {want}-dim vectors, got {x.shape[1]}-dim ones.')
  return _encode(model, x)


@nnx.jit
def _reconstructions(model: RqVae, x: jax.Array):
  z = model.encode(x)
  q = quantize(model.codebooks[...], z)
  partial = jax.vmap(model.decode)(q['partial'])  # [L, n, d]
  return q['codes'], partial, q['z_q'], z


def rq_vae_metrics(model: RqVae, vectors: Any) -> dict[str, float]:
  """`tokenizer_metrics` keys for an RQ-VAE on vectors [n, d], plus `latent_recon_loss_rel`.

  `recon_loss_rel/level_l` = mean ||x - decode(q_1 + ... + q_l)||^2 / mean ||x||^2 in the input space
  (the decoder applied to the partial sums), so it is comparable with RQ-Kmeans' on the same x.
  """
  x = residual_kmeans._check_vectors(vectors)
  codes, partial, z_q, z = jax.device_get(_reconstructions(model, x))
  x = np.asarray(x, np.float64)
  energy = max(float(np.mean(np.sum(x * x, -1))), 1e-30)
  num_levels, num_codes = model.codebooks.shape[:2]
  out = code_metrics(codes, num_codes)
  for level in range(num_levels):
    out[f'recon_loss_rel/level_{level + 1}'] = float(np.mean(np.sum((x - partial[level]) ** 2, -1))) / energy
  out['recon_loss_rel'] = out[f'recon_loss_rel/level_{num_levels}']
  z = np.asarray(z, np.float64)
  out['latent_recon_loss_rel'] = float(np.mean(np.sum((z - z_q) ** 2, -1)) / max(np.mean(np.sum(z * z, -1)), 1e-30))
  return out


def save_rq_vae(path: str, model: RqVae, config: TokenizerConfig) -> None:
  """Writes the model's parameters and the fields needed to rebuild it to one .npz at `path`."""
  leaves = jax.tree.leaves(nnx.state(model))
  meta = {
    'format': FORMAT_NAME,
    'format_version': FORMAT_VERSION,
    'input_dim': int(model.encoder[0].in_features),
    'num_levels': config.num_levels,
    'codebook_size': config.codebook_size,
    'rq_vae': dataclasses.asdict(config.rq_vae),
  }
  with open(path, 'wb') as f:
    np.savez(f, meta=np.asarray(json.dumps(meta)), **{f'p{i}': np.asarray(v) for i, v in enumerate(leaves)})


def load_rq_vae(path: str) -> RqVae:
  """Reads a model written by `save_rq_vae`; raises ValueError on another format or a shape mismatch."""
  with np.load(path, allow_pickle=False) as data:
    if 'meta' not in data:
      raise ValueError(f'{path} is not a saved RQ-VAE (no meta header).')
    meta = json.loads(str(data['meta']))
    arrays = [data[f'p{i}'] for i in range(len(data.files) - 1)]
  if meta.get('format') != FORMAT_NAME or meta.get('format_version') != FORMAT_VERSION:
    raise ValueError(
      f'{path}: format {meta.get("format")!r} v{meta.get("format_version")} is not {FORMAT_NAME!r} v{FORMAT_VERSION}.'
    )
  rq = dict(meta['rq_vae'])
  rq['hidden_dims'] = tuple(rq['hidden_dims'])
  config = TokenizerConfig(num_levels=meta['num_levels'], codebook_size=meta['codebook_size'], rq_vae=RqVaeConfig(**rq))
  model = nnx.eval_shape(lambda: RqVae(meta['input_dim'], config, rngs=nnx.Rngs(0)))
  graphdef, state = nnx.split(model)
  leaves, treedef = jax.tree.flatten(state)
  if [tuple(a.shape) for a in arrays] != [tuple(l.shape) for l in leaves]:
    raise ValueError(f'{path}: stored parameter shapes disagree with the config in its header (corrupt file).')
  return nnx.merge(graphdef, jax.tree.unflatten(treedef, [jnp.asarray(a) for a in arrays]))
