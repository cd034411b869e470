"""Tests of kernels_pallas.attention: every implementation against the plain-jnp reference.

Each kernel case runs one jitted value-and-grad (forward output and dq, dk, dv together), because
on CPU the cost is compiling the interpreted kernels, not running them. The cases are few but each
combines several features (GQA, cross lengths, segments, padding, causal, several blocks).

Classes:
  AttentionKernelTest: native Pallas (Triton on GPU, Mosaic on TPU); marked `gpu`, skipped on CPU.
  AttentionKernelInterpretTest: the same bodies, GPU kernel in the Pallas interpreter on CPU.
  TpuKernelInterpretTest: the same bodies, TPU kernel under `pltpu.force_tpu_interpret_mode()`.
  XlaAttentionTest: the 'xla' implementation.
The kernel classes share `_KernelTestBase` (not collected itself) rather than subclassing the native
class, because pytest would inherit the `gpu` marker into the interpret-mode subclass.
"""

import contextlib

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
from jax.experimental.pallas import tpu as pltpu
import numpy as np
import pytest

import kernels_pallas
from kernels_pallas.attention import BlockSizes
from kernels_pallas.attention import attention_reference

# name, batch, q_len, kv_len, heads, kv_heads, head_dim, causal, masks, dtype, block (None: default)
# Lengths are deliberately not multiples of the blocks, and causal with q_len > kv_len leaves the
# first queries with no visible key.
_CASES = (
  ('bf16_segments_gqa_cross', 2, 20, 37, 4, 2, 8, False, 'segments', jnp.bfloat16, 16),
  ('f32_causal_kv_padding_longer_queries', 1, 24, 17, 2, 2, 16, True, 'kv_padding', jnp.float32, 16),
)
# Cheap for XLA: a few more combinations.
_XLA_CASES = _CASES + (
  ('f32_causal_segments_gqa_cross', 2, 20, 37, 4, 2, 8, True, 'segments', jnp.float32, None),
  ('bf16_causal_self', 1, 32, 32, 2, 1, 16, True, 'none', jnp.bfloat16, None),
)
_NAMED_CASES = [dict(testcase_name=c[0], case=c) for c in _CASES]

# Tolerances against the float32 reference: bfloat16 loses ~3 significant digits in the inputs,
# and the kernels feed bfloat16 probabilities to the second matmul.
_TOL = {jnp.float32: dict(atol=2e-5, rtol=2e-5), jnp.bfloat16: dict(atol=6e-2, rtol=6e-2)}


def _segment_ids(key, batch, length, num_segments=3):
  """Sorted segment ids in [1, num_segments] followed by 0-padding, as packed examples look."""
  k1, k2 = jax.random.split(key)
  ids = jnp.sort(jax.random.randint(k1, (batch, length), 1, num_segments + 1), axis=1)
  pad_from = jax.random.randint(k2, (batch, 1), length * 2 // 3, length + 1)
  return jnp.where(jnp.arange(length)[None] < pad_from, ids, 0).astype(jnp.int32)


def _make_inputs(case, seed=0):
  _, b, t, s, h, g, d, causal, masks, dtype, _ = case
  keys = jax.random.split(jax.random.key(seed), 6)
  q = jax.random.normal(keys[0], (b, t, h, d), jnp.float32).astype(dtype)
  k = jax.random.normal(keys[1], (b, s, g, d), jnp.float32).astype(dtype)
  v = jax.random.normal(keys[2], (b, s, g, d), jnp.float32).astype(dtype)
  do = jax.random.normal(keys[3], (b, t, h, d), jnp.float32).astype(dtype)
  kwargs = dict(causal=causal)
  if masks == 'segments':
    kwargs['q_segment_ids'] = _segment_ids(keys[4], b, t)
    kwargs['kv_segment_ids'] = _segment_ids(keys[5], b, s)
  elif masks == 'kv_padding':
    kwargs['kv_segment_ids'] = _segment_ids(keys[5], b, s, num_segments=1)
  return (q, k, v, do), kwargs


def _value_and_grads(fn, q, k, v, do):
  """Output and (dq, dk, dv) of `sum(fn(q, k, v) * do)` in one compiled call."""

  def loss(q, k, v):
    out = fn(q, k, v)
    return jnp.sum(out.astype(jnp.float32) * do.astype(jnp.float32)), out

  (_, out), grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2), has_aux=True))(q, k, v)
  return out, grads


def _has_accelerator():
  return jax.devices()[0].platform in ('gpu', 'tpu')


class _KernelTestBase(parameterized.TestCase):
  """Compares a Pallas implementation with the reference; subclasses choose how it runs."""

  __test__ = False  # Only the concrete subclasses below are collected.
  IMPL = 'pallas'
  INTERPRET = False
  FORCE_TPU_INTERPRET = False

  def setUp(self):
    super().setUp()
    if not (self.INTERPRET or self.FORCE_TPU_INTERPRET or _has_accelerator()):
      self.skipTest('native Pallas kernels need a GPU or TPU')

  def _attention(self, **kwargs):
    block = kwargs.pop('block')
    block_sizes = None
    if block is not None:
      block_sizes = BlockSizes(
        block_q=block, block_kv=block, block_q_dkv=block, block_kv_dkv=block, block_q_dq=block, block_kv_dq=block
      )

    def fn(q, k, v):
      return kernels_pallas.attention(
        q, k, v, impl=self.IMPL, interpret=self.INTERPRET, block_sizes=block_sizes, **kwargs
      )

    return fn

  @parameterized.named_parameters(*_NAMED_CASES)
  def test_matches_reference(self, case):
    (q, k, v, do), kwargs = _make_inputs(case)
    ctx = pltpu.force_tpu_interpret_mode() if self.FORCE_TPU_INTERPRET else contextlib.nullcontext()
    with ctx:
      out, grads = _value_and_grads(self._attention(block=case[-1], **kwargs), q, k, v, do)
    ref_out, ref_grads = _value_and_grads(lambda q, k, v: attention_reference(q, k, v, **kwargs), q, k, v, do)
    tol = _TOL[case[-2]]
    self.assertEqual(out.shape, q.shape)
    self.assertEqual(out.dtype, q.dtype)
    np.testing.assert_allclose(np.asarray(out, np.float32), np.asarray(ref_out, np.float32), **tol)
    for name, g, rg in zip(('dq', 'dk', 'dv'), grads, ref_grads):
      self.assertEqual(g.shape, rg.shape, name)
      self.assertTrue(np.all(np.isfinite(np.asarray(g, np.float32))), name)
      np.testing.assert_allclose(np.asarray(g, np.float32), np.asarray(rg, np.float32), **tol, err_msg=name)


@pytest.mark.gpu
class AttentionKernelTest(_KernelTestBase):
  """Native kernels ('pallas' picks Triton on GPU, Mosaic on TPU)."""

  __test__ = True


class AttentionKernelInterpretTest(_KernelTestBase):
  """The GPU (Triton-style) kernel in the Pallas interpreter, on CPU."""

  __test__ = True
  IMPL = 'pallas_gpu'
  INTERPRET = True


class TpuKernelInterpretTest(_KernelTestBase):
  """The TPU (Mosaic) kernel under the TPU interpreter, on CPU."""

  __test__ = True
  IMPL = 'pallas_tpu'
  FORCE_TPU_INTERPRET = True


class XlaAttentionTest(parameterized.TestCase):
  @parameterized.named_parameters(*[dict(testcase_name=c[0], case=c) for c in _XLA_CASES])
  def test_matches_reference(self, case):
    (q, k, v, do), kwargs = _make_inputs(case, seed=1)
    out, grads = _value_and_grads(lambda q, k, v: kernels_pallas.attention(q, k, v, impl='xla', **kwargs), q, k, v, do)
    ref_out, ref_grads = _value_and_grads(lambda q, k, v: attention_reference(q, k, v, **kwargs), q, k, v, do)
    tol = _TOL[case[-2]]
    np.testing.assert_allclose(np.asarray(out, np.float32), np.asarray(ref_out, np.float32), **tol)
    for g, rg in zip(grads, ref_grads):
      np.testing.assert_allclose(np.asarray(g, np.float32), np.asarray(rg, np.float32), **tol)

  def test_auto_is_xla_until_verified_on_hardware(self):
    from kernels_pallas.attention import op

    self.assertNotIn(jax.devices()[0].platform, op.PALLAS_VERIFIED_PLATFORMS)
    self.assertEqual(op._default_impl(), 'xla')
    (q, k, v, _), kwargs = _make_inputs(_CASES[0], seed=2)
    np.testing.assert_allclose(
      kernels_pallas.attention(q, k, v, **kwargs),
      kernels_pallas.attention(q, k, v, impl='xla', **kwargs),
    )


def _numpy_attention(q, k, v, *, causal=False, q_segment_ids=None, kv_segment_ids=None):
  """The masking convention written independently in float64 numpy (no shared code)."""
  q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
  b, t, h, d = q.shape
  s, g = k.shape[1], k.shape[2]
  k, v = np.repeat(k, h // g, axis=2), np.repeat(v, h // g, axis=2)
  visible = np.ones((b, t, s), bool)
  if q_segment_ids is not None and kv_segment_ids is not None:
    q_ids, kv_ids = np.asarray(q_segment_ids), np.asarray(kv_segment_ids)
    visible &= (q_ids[:, :, None] == kv_ids[:, None, :]) & (kv_ids[:, None, :] != 0)
  elif kv_segment_ids is not None:
    visible &= np.asarray(kv_segment_ids)[:, None, :] != 0
  elif q_segment_ids is not None:
    visible &= np.asarray(q_segment_ids)[:, :, None] != 0
  if causal:
    visible &= np.arange(s)[None, :] <= np.arange(t)[:, None] + (s - t)
  logits = np.einsum('bthd,bshd->bhts', q, k) / np.sqrt(d)
  logits = np.where(visible[:, None], logits, -np.inf)
  row_max = logits.max(-1, keepdims=True)
  p = np.exp(logits - np.where(np.isfinite(row_max), row_max, 0.0))
  denom = p.sum(-1, keepdims=True)
  out = np.einsum('bhts,bshd->bthd', p / np.where(denom == 0, 1.0, denom), v)
  return out


_jit_attention = jax.jit(kernels_pallas.attention, static_argnames=('causal', 'impl'))


class ReferenceSemanticsTest(parameterized.TestCase):
  """The masking convention itself: reference and XLA paths against a numpy statement of it."""

  def _qkv(self, b=2, t=6, s=6, h=2, g=2, d=4):
    keys = jax.random.split(jax.random.key(3), 3)
    return (
      jax.random.normal(keys[0], (b, t, h, d)),
      jax.random.normal(keys[1], (b, s, g, d)),
      jax.random.normal(keys[2], (b, s, g, d)),
    )

  # q ids row 0: id 0 (padding) and id 3 (no such key) leave queries 3-5 with nothing to see.
  _Q_IDS = [[1, 1, 2, 0, 0, 3], [1, 1, 1, 1, 0, 0]]
  _KV_IDS = [[1, 2, 2, 2, 0, 0], [1, 1, 1, 0, 0, 0]]

  @parameterized.product(
    impl=('reference', 'xla'),
    setup=(
      dict(causal=False, ids='both'),
      dict(causal=True, ids='both'),
      dict(causal=True, ids='kv', t=1),  # one decoding step against a cache
      dict(causal=True, ids='none', t=3, h=4),  # end-aligned causal, GQA
      dict(causal=True, ids='q', t=6, s=4),  # q_len > kv_len: first queries see nothing
    ),
  )
  def test_matches_numpy_spec(self, impl, setup):
    setup = dict(setup)
    causal, ids = setup.pop('causal'), setup.pop('ids')
    q, k, v = self._qkv(**setup)
    t, s = q.shape[1], k.shape[1]
    kwargs = {}
    if ids in ('both', 'q'):
      kwargs['q_segment_ids'] = jnp.array(self._Q_IDS, jnp.int32)[:, -t:]
    if ids in ('both', 'kv'):
      kwargs['kv_segment_ids'] = jnp.array(self._KV_IDS, jnp.int32)[:, :s]
    out = _jit_attention(q, k, v, causal=causal, impl=impl, **kwargs)
    np.testing.assert_allclose(out, _numpy_attention(q, k, v, causal=causal, **kwargs), atol=2e-6)

  @parameterized.parameters('reference', 'xla')
  def test_fully_masked_rows_are_zero_with_zero_grads(self, impl):
    q, k, v = self._qkv()
    q_ids, kv_ids = jnp.array(self._Q_IDS, jnp.int32), jnp.array(self._KV_IDS, jnp.int32)
    fn = lambda q: kernels_pallas.attention(q, k, v, q_segment_ids=q_ids, kv_segment_ids=kv_ids, impl=impl)
    out, dq = jax.jit(lambda q: (fn(q), jax.grad(lambda q: jnp.sum(fn(q) ** 2))(q)))(q)
    empty = np.array([[0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1]], bool)
    np.testing.assert_array_equal(np.asarray(out)[empty], 0.0)
    np.testing.assert_array_equal(np.asarray(dq)[empty], 0.0)
    self.assertTrue(np.all(np.abs(np.asarray(out)[~empty]) > 0))
    self.assertTrue(np.all(np.isfinite(dq)))

  def test_bad_shapes_name_the_shapes(self):
    q, k, v = self._qkv(h=3, g=2)
    with self.assertRaisesRegex(ValueError, r'q=\(2, 6, 3, 4\)'):
      kernels_pallas.attention(q, k, v)
    q, k, v = self._qkv()
    with self.assertRaisesRegex(ValueError, r'kv_segment_ids must be \[b, s\]'):
      kernels_pallas.attention(q, k, v, kv_segment_ids=jnp.ones((2, 5), jnp.int32))
    with self.assertRaisesRegex(ValueError, 'impl must be one of'):
      kernels_pallas.attention(q, k, v, impl='cuda')


if __name__ == '__main__':
  absltest.main()
