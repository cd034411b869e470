"""Tests of the RQ-VAE: it learns, codes are valid, straight-through gradients reach the encoder."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from onerec_jax.tokenizer import metrics, rq_vae
from onerec_jax.tokenizer.config import RqVaeConfig, TokenizerConfig


def _data(n=600, d=16, seed=0):
  rng = np.random.default_rng(seed)
  return (rng.normal(size=(n, 4)) @ rng.normal(size=(4, d))).astype(np.float32)


def _config(**rq):
  base = dict(hidden_dims=(32,), latent_dim=4, num_epochs=25, batch_size=128, restart_every=5)
  return TokenizerConfig(num_levels=2, codebook_size=8, num_iters=5, rq_vae=RqVaeConfig(**{**base, **rq}))


def test_learns_and_codes_are_valid(tmp_path):
  x = _data()
  fit = rq_vae.fit_rq_vae(x, _config())
  recon = fit.history['recon_rel']
  assert recon[-1] < 0.6 * recon[0], recon
  assert fit.codes.shape == (600, 2) and fit.codes.dtype == np.int32
  assert fit.codes.min() >= 0 and fit.codes.max() < 8
  m = rq_vae.rq_vae_metrics(fit.model, x)
  assert m['recon_loss_rel/level_2'] <= m['recon_loss_rel/level_1'] + 0.05
  assert m['recon_loss_rel'] < 1.0 and m['utilization/level_1'] > 0.5
  # the code statistics agree with tokenizer_metrics' on the same codes
  other = metrics.tokenizer_metrics(x, np.zeros((2, 8, 16), np.float32), fit.codes)
  for key in ('utilization/level_1', 'entropy_bits/level_2', 'items_per_sid_max', 'collision_share'):
    assert m[key] == pytest.approx(other[key])
  path = str(tmp_path / 'model.npz')
  rq_vae.save_rq_vae(path, fit.model, _config())
  np.testing.assert_array_equal(np.asarray(rq_vae.encode(rq_vae.load_rq_vae(path), x)), fit.codes)
  with pytest.raises(ValueError, match='16-dim'):
    rq_vae.encode(fit.model, x[:, :8])


def test_straight_through_gradients_reach_encoder_and_codebooks():
  model = rq_vae.RqVae(16, _config(), rngs=nnx.Rngs(0))
  grads = nnx.grad(lambda m: rq_vae.loss_fn(m, jnp.asarray(_data(64)), 0.25)[0])(model)
  enc = grads.encoder[0].kernel[...]
  assert float(jnp.abs(enc).sum()) > 0

  # without the codebook and commitment terms, only the straight-through path reaches the encoder
  def recon_only(m, x):
    q = rq_vae.quantize(m.codebooks[...], m.encode(x))
    return jnp.mean((m.decode(q['z_st']) - x) ** 2)

  g2 = nnx.grad(recon_only)(model, jnp.asarray(_data(64)))
  assert float(jnp.abs(g2.encoder[0].kernel[...]).sum()) > 0
  assert float(jnp.abs(grads.codebooks[...]).sum()) > 0


def test_bad_input():
  x = _data(100)
  with pytest.raises(ValueError, match='at least codebook_size'):
    rq_vae.fit_rq_vae(x[:5], _config())
  x[3, 1] = np.nan
  with pytest.raises(ValueError, match='NaN or Inf'):
    rq_vae.fit_rq_vae(x, _config())
  with pytest.raises(ValueError, match='latent_dim'):
    rq_vae.fit_rq_vae(_data(100), _config(latent_dim=0))
