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
_CASES = (
    ('f32_causal_segments_gqa_cross', 2, 20, 37, 4, 2, 8, True, 'segments', jnp.float32, 16),
    ('f32_kv_padding_longer_queries', 1, 24, 17, 2, 2, 16, False, 'kv_padding', jnp.float32, None),
    ('bf16_causal_segments_self', 1, 32, 32, 2, 1, 16, True, 'segments', jnp.bfloat16, 16),
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
  CASES = tuple(c[0] for c in _CASES)  # subset to run (interpreting the TPU kernel is slow).

  def setUp(self):
    super().setUp()
    if not (self.INTERPRET or self.FORCE_TPU_INTERPRET or _has_accelerator()):
      self.skipTest('native Pallas kernels need a GPU or TPU')

  def _attention(self, **kwargs):
    block = kwargs.pop('block')
    block_sizes = None
    if block is not None:
      block_sizes = BlockSizes(block_q=block, block_kv=block, block_q_dkv=block, block_kv_dkv=block,
                               block_q_dq=block, block_kv_dq=block)

    def fn(q, k, v):
      return kernels_pallas.attention(q, k, v, impl=self.IMPL, interpret=self.INTERPRET,
                                      block_sizes=block_sizes, **kwargs)

    return fn

  @parameterized.named_parameters(*_NAMED_CASES)
  def test_matches_reference(self, case):
    if case[0] not in self.CASES:
      self.skipTest(f'{case[0]} not run by {type(self).__name__}')
    (q, k, v, do), kwargs = _make_inputs(case)
    ctx = pltpu.force_tpu_interpret_mode() if self.FORCE_TPU_INTERPRET else contextlib.nullcontext()
    with ctx:
      out, grads = _value_and_grads(self._attention(block=case[-1], **kwargs), q, k, v, do)
    ref_out, ref_grads = _value_and_grads(
        lambda q, k, v: attention_reference(q, k, v, **kwargs), q, k, v, do
    )
    tol = _TOL[case[-2]]
    self.assertEqual(out.shape, q.shape)
    self.assertEqual(out.dtype, q.dtype)
    np.testing.assert_allclose(np.asarray(out, np.float32), np.asarray(ref_out, np.float32), **tol)
    for name, g, rg in zip(('dq', 'dk', 'dv'), grads, ref_grads):
      self.assertEqual(g.shape, rg.shape, name)
      self.assertTrue(np.all(np.isfinite(np.asarray(g, np.float32))), name)
      np.testing.assert_allclose(np.asarray(g, np.float32), np.asarray(rg, np.float32), **tol,
                                 err_msg=name)


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
  CASES = ('f32_causal_segments_gqa_cross', 'bf16_causal_segments_self')


class XlaAttentionTest(parameterized.TestCase):

  @parameterized.named_parameters(*_NAMED_CASES)
  def test_matches_reference(self, case):
    (q, k, v, do), kwargs = _make_inputs(case, seed=1)
    out, grads = _value_and_grads(
        lambda q, k, v: kernels_pallas.attention(q, k, v, impl='xla', **kwargs), q, k, v, do
    )
    ref_out, ref_grads = _value_and_grads(
        lambda q, k, v: attention_reference(q, k, v, **kwargs), q, k, v, do
    )
    tol = _TOL[case[-2]]
    np.testing.assert_allclose(np.asarray(out, np.float32), np.asarray(ref_out, np.float32), **tol)
    for g, rg in zip(grads, ref_grads):
      np.testing.assert_allclose(np.asarray(g, np.float32), np.asarray(rg, np.float32), **tol)

  def test_auto_on_cpu_is_xla(self):
    if _has_accelerator():
      self.skipTest('auto picks Pallas on accelerators')
    (q, k, v, _), kwargs = _make_inputs(_CASES[0], seed=2)
    np.testing.assert_allclose(
        kernels_pallas.attention(q, k, v, **kwargs),
        kernels_pallas.attention(q, k, v, impl='xla', **kwargs),
    )


class ReferenceSemanticsTest(parameterized.TestCase):
  """The masking convention itself, checked on the reference and the XLA path."""

  def _qkv(self, b=2, t=6, s=6, h=2, g=2, d=4):
    keys = jax.random.split(jax.random.key(3), 3)
    return (jax.random.normal(keys[0], (b, t, h, d)), jax.random.normal(keys[1], (b, s, g, d)),
            jax.random.normal(keys[2], (b, s, g, d)))

  @parameterized.parameters('reference', 'xla')
  def test_fully_masked_rows_are_zero_with_zero_grads(self, impl):
    q, k, v = self._qkv()
    q_ids = jnp.array([[1, 1, 2, 0, 0, 3], [1, 1, 1, 1, 0, 0]], jnp.int32)  # 0 and 3: no keys
    kv_ids = jnp.array([[1, 2, 2, 2, 0, 0], [1, 1, 1, 0, 0, 0]], jnp.int32)
    fn = lambda q: kernels_pallas.attention(q, k, v, q_segment_ids=q_ids, kv_segment_ids=kv_ids,
                                            impl=impl)
    out = fn(q)
    dq = jax.grad(lambda q: jnp.sum(fn(q) ** 2))(q)
    empty = np.array([[0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1]], bool)
    np.testing.assert_array_equal(np.asarray(out)[empty], 0.0)
    np.testing.assert_array_equal(np.asarray(dq)[empty], 0.0)
    self.assertTrue(np.all(np.abs(np.asarray(out)[~empty]) > 0))
    self.assertTrue(np.all(np.isfinite(dq)))

  @parameterized.parameters('reference', 'xla')
  def test_causal_decode_step_sees_whole_cache(self, impl):
    q, k, v = self._qkv(t=1, s=7)
    np.testing.assert_allclose(
        kernels_pallas.attention(q, k, v, causal=True, impl=impl),
        kernels_pallas.attention(q, k, v, causal=False, impl=impl), atol=1e-6,
    )

  def test_causal_rows_match_prefix_attention(self):
    q, k, v = self._qkv(t=3, s=5)
    out = kernels_pallas.attention(q, k, v, causal=True, impl='reference')
    for i in range(3):  # query i sits at position 2 + i and sees keys 0 .. 2 + i.
      row = kernels_pallas.attention(q[:, i:i + 1], k[:, :3 + i], v[:, :3 + i], impl='reference')
      np.testing.assert_allclose(out[:, i:i + 1], row, atol=1e-6)

  def test_one_sided_ids_are_padding_masks(self):
    q, k, v = self._qkv(s=5)
    kv_ids = jnp.array([[2, 2, 3, 0, 0], [1, 1, 1, 1, 0]], jnp.int32)
    out = kernels_pallas.attention(q, k, v, kv_segment_ids=kv_ids, impl='reference')
    np.testing.assert_allclose(out[0], kernels_pallas.attention(q[:1], k[:1, :3], v[:1, :3])[0],
                               atol=1e-6)
    np.testing.assert_allclose(out[1], kernels_pallas.attention(q[1:], k[1:, :4], v[1:, :4])[0],
                               atol=1e-6)

  def test_gqa_equals_repeated_heads(self):
    q, k, v = self._qkv(h=4, g=2)
    rep = lambda x: jnp.repeat(x, 2, axis=2)
    np.testing.assert_allclose(kernels_pallas.attention(q, k, v, impl='reference'),
                               kernels_pallas.attention(q, rep(k), rep(v), impl='reference'),
                               atol=1e-6)

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
