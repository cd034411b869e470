"""Flash attention for TPUs: Pallas with the Mosaic lowering.

Shape legend: b batch, t query length, s key/value length, h query heads, g key/value heads
(r = h // g query heads per key/value head), k head dim.

The kernels work in the head-major layout `[b, h, t, k]` (the wrapper transposes), so every tile's
last two dimensions are (tokens, head dim) as Mosaic wants. Unlike the GPU kernel, the reduction loop
is the innermost grid axis ("arbitrary" semantics) and the running statistics live in VMEM scratch:
Mosaic pipelines the HBM->VMEM copies of consecutive grid steps for us.

* forward: grid (b, h, t / bq, s / bkv); scratch m, l `[bq, 1]` and acc `[bq, k]` float32.
* dK/dV: grid (b, h, s / bkv, t / bq); scratch dk, dv `[bkv, k]`; per-query-head outputs that the
  wrapper sums over the r heads of a group.
* dQ: grid (b, h, t / bq, s / bkv); scratch dq `[bq, k]`.

Segment ids travel as a column `[b, t, 1]` (queries) and a row `[b, 1, s]` (keys) so the mask is a
broadcast compare. Tiles fully outside the causal band skip their compute via `pl.when`.
Lengths must be multiples of the blocks (the op pads, with segment id 0).

On CPU, run with `interpret=True` (the TPU interpreter, `pltpu.InterpretParams()`) or trace under
`pltpu.force_tpu_interpret_mode()`.
"""

import functools
import math

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import tpu as pltpu

from kernels_pallas.attention import masking
from kernels_pallas.attention.block_sizes import BlockSizes

_NT = (((1,), (1,)), ((), ()))  # a @ b.T
_NN = (((1,), (0,)), ((), ()))  # a @ b


def _dot(a, b, dims=_NN):
  return jax.lax.dot_general(a, b, dims, preferred_element_type=jnp.float32)


def _in_band(q_block, kv_block, block_q, block_kv, num_q_blocks, num_kv_blocks, causal_offset):
  """Whether the (q_block, kv_block) tile has any causally visible entry."""
  if causal_offset is None:
    return True
  _, hi = masking.kv_block_range(q_block, block_q, block_kv, num_kv_blocks, causal_offset)
  return kv_block < hi


def _forward_kernel(
  q_ref,
  k_ref,
  v_ref,
  q_ids_ref,
  kv_ids_ref,
  o_ref,
  lse_ref,
  m_scr,
  l_scr,
  acc_scr,
  *,
  scale,
  causal_offset,
  num_q_blocks,
  num_kv_blocks,
):
  """q_ref `[bq, k]`, k_ref/v_ref `[bkv, k]`, q_ids `[bq, 1]`, kv_ids `[1, bkv]`."""
  q_block, kv_block = pl.program_id(2), pl.program_id(3)
  block_q, block_kv = q_ref.shape[0], k_ref.shape[0]

  @pl.when(kv_block == 0)
  def _init():
    m_scr[...] = jnp.full(m_scr.shape, masking.MASK_VALUE, jnp.float32)
    l_scr[...] = jnp.zeros(l_scr.shape, jnp.float32)
    acc_scr[...] = jnp.zeros(acc_scr.shape, jnp.float32)

  @pl.when(_in_band(q_block, kv_block, block_q, block_kv, num_q_blocks, num_kv_blocks, causal_offset))
  def _compute():
    logits = _dot(q_ref[...], k_ref[...], _NT) * scale  # [bq, bkv]
    mask = masking.tile_mask(q_ids_ref[...], kv_ids_ref[...], q_block * block_q, kv_block * block_kv, causal_offset)
    logits = jnp.where(mask, logits, masking.MASK_VALUE)
    m_prev = m_scr[...]
    m_next = jnp.maximum(m_prev, jnp.max(logits, axis=1, keepdims=True))
    correction = jnp.exp(m_prev - m_next)
    p = jnp.where(mask, jnp.exp(logits - m_next), 0.0)
    l_scr[...] = l_scr[...] * correction + jnp.sum(p, axis=1, keepdims=True)
    m_scr[...] = m_next
    v = v_ref[...]
    acc_scr[...] = acc_scr[...] * correction + _dot(p.astype(v.dtype), v)

  @pl.when(kv_block == num_kv_blocks - 1)
  def _finish():
    l = l_scr[...]
    empty = l == 0.0  # no visible key: zeros out, and an lse that zeroes p in the backward pass.
    safe_l = jnp.where(empty, 1.0, l)
    o_ref[...] = (acc_scr[...] / safe_l).astype(o_ref.dtype)
    lse_ref[...] = jnp.where(empty, masking.EMPTY_ROW_LSE, m_scr[...] + jnp.log(safe_l))


def _dkdv_kernel(
  q_ref,
  k_ref,
  v_ref,
  q_ids_ref,
  kv_ids_ref,
  do_ref,
  lse_ref,
  delta_ref,
  dk_ref,
  dv_ref,
  dk_scr,
  dv_scr,
  *,
  scale,
  causal_offset,
  num_q_blocks,
  num_kv_blocks,
):
  """Grid (b, h, kv block, q block); lse_ref/delta_ref `[bq, 1]`."""
  kv_block, q_block = pl.program_id(2), pl.program_id(3)
  block_q, block_kv = q_ref.shape[0], k_ref.shape[0]

  @pl.when(q_block == 0)
  def _init():
    dk_scr[...] = jnp.zeros(dk_scr.shape, jnp.float32)
    dv_scr[...] = jnp.zeros(dv_scr.shape, jnp.float32)

  @pl.when(_in_band(q_block, kv_block, block_q, block_kv, num_q_blocks, num_kv_blocks, causal_offset))
  def _compute():
    q, k, v, do = q_ref[...], k_ref[...], v_ref[...], do_ref[...]
    logits = _dot(q, k, _NT) * scale
    mask = masking.tile_mask(q_ids_ref[...], kv_ids_ref[...], q_block * block_q, kv_block * block_kv, causal_offset)
    p = jnp.where(mask, jnp.exp(logits - lse_ref[...]), 0.0)  # [bq, bkv]
    dv_scr[...] += _dot(p.T.astype(do.dtype), do)
    ds = p * (_dot(do, v, _NT) - delta_ref[...]) * scale
    dk_scr[...] += _dot(ds.T.astype(q.dtype), q)

  @pl.when(q_block == num_q_blocks - 1)
  def _finish():
    dk_ref[...] = dk_scr[...].astype(dk_ref.dtype)
    dv_ref[...] = dv_scr[...].astype(dv_ref.dtype)


def _dq_kernel(
  q_ref,
  k_ref,
  v_ref,
  q_ids_ref,
  kv_ids_ref,
  do_ref,
  lse_ref,
  delta_ref,
  dq_ref,
  dq_scr,
  *,
  scale,
  causal_offset,
  num_q_blocks,
  num_kv_blocks,
):
  """Grid (b, h, q block, kv block)."""
  q_block, kv_block = pl.program_id(2), pl.program_id(3)
  block_q, block_kv = q_ref.shape[0], k_ref.shape[0]

  @pl.when(kv_block == 0)
  def _init():
    dq_scr[...] = jnp.zeros(dq_scr.shape, jnp.float32)

  @pl.when(_in_band(q_block, kv_block, block_q, block_kv, num_q_blocks, num_kv_blocks, causal_offset))
  def _compute():
    q, k, v, do = q_ref[...], k_ref[...], v_ref[...], do_ref[...]
    logits = _dot(q, k, _NT) * scale
    mask = masking.tile_mask(q_ids_ref[...], kv_ids_ref[...], q_block * block_q, kv_block * block_kv, causal_offset)
    p = jnp.where(mask, jnp.exp(logits - lse_ref[...]), 0.0)
    ds = p * (_dot(do, v, _NT) - delta_ref[...]) * scale
    dq_scr[...] += _dot(ds.astype(k.dtype), k)

  @pl.when(kv_block == num_kv_blocks - 1)
  def _finish():
    dq_ref[...] = dq_scr[...].astype(dq_ref.dtype)


def _interpret_arg(interpret):
  return pltpu.InterpretParams() if interpret else False


def _semantics():
  return pltpu.CompilerParams(dimension_semantics=('parallel', 'parallel', 'parallel', 'arbitrary'))


def _head_major(x):
  return jnp.swapaxes(x, 1, 2)  # [b, len, heads, k] <-> [b, heads, len, k]


@functools.partial(jax.jit, static_argnames=('causal_offset', 'block_sizes', 'interpret'))
def flash_forward(q, k, v, q_ids, kv_ids, *, causal_offset, block_sizes: BlockSizes, interpret):
  """Forward kernel.

  Args:
    q: `[b, t, h, k]`, t a multiple of block_q.
    k: `[b, s, g, k]`, s a multiple of block_kv.
    v: `[b, s, g, k]`.
    q_ids: int32 `[b, t]` segment ids (0 = padding).
    kv_ids: int32 `[b, s]`.
    causal_offset: static `s - t` of the unpadded lengths, or None (not causal).
    block_sizes: tile sizes.
    interpret: run in the TPU interpreter.

  Returns:
    out `[b, t, h, k]` in q's dtype and natural log-sum-exp `[b, h, t, 1]` float32.
  """
  b, t, h, d = q.shape
  s, g = k.shape[1], k.shape[2]
  r = h // g
  bq, bkv = block_sizes.block_q, block_sizes.block_kv
  nq, nk = t // bq, s // bkv
  kernel = functools.partial(
    _forward_kernel, scale=1.0 / math.sqrt(d), causal_offset=causal_offset, num_q_blocks=nq, num_kv_blocks=nk
  )
  out, lse = pl.pallas_call(
    kernel,
    grid=(b, h, nq, nk),
    in_specs=[
      pl.BlockSpec((None, None, bq, d), lambda bi, hi, i, j: (bi, hi, i, 0)),
      pl.BlockSpec((None, None, bkv, d), lambda bi, hi, i, j: (bi, hi // r, j, 0)),
      pl.BlockSpec((None, None, bkv, d), lambda bi, hi, i, j: (bi, hi // r, j, 0)),
      pl.BlockSpec((None, bq, 1), lambda bi, hi, i, j: (bi, i, 0)),
      pl.BlockSpec((None, 1, bkv), lambda bi, hi, i, j: (bi, 0, j)),
    ],
    out_specs=[
      pl.BlockSpec((None, None, bq, d), lambda bi, hi, i, j: (bi, hi, i, 0)),
      pl.BlockSpec((None, None, bq, 1), lambda bi, hi, i, j: (bi, hi, i, 0)),
    ],
    out_shape=[
      jax.ShapeDtypeStruct((b, h, t, d), q.dtype),
      jax.ShapeDtypeStruct((b, h, t, 1), jnp.float32),
    ],
    scratch_shapes=[
      pltpu.VMEM((bq, 1), jnp.float32),
      pltpu.VMEM((bq, 1), jnp.float32),
      pltpu.VMEM((bq, d), jnp.float32),
    ],
    compiler_params=_semantics(),
    interpret=_interpret_arg(interpret),
    name='onerec_flash_fwd',
  )(_head_major(q), _head_major(k), _head_major(v), q_ids[:, :, None], kv_ids[:, None, :])
  return _head_major(out), lse


@functools.partial(jax.jit, static_argnames=('causal_offset', 'block_sizes', 'interpret'))
def flash_backward(q, k, v, q_ids, kv_ids, out, lse, do, *, causal_offset, block_sizes: BlockSizes, interpret):
  """Backward kernels (dK/dV, then dQ).

  Args:
    q, k, v, q_ids, kv_ids, causal_offset, block_sizes, interpret: as `flash_forward`.
    out: `[b, t, h, k]` forward output.
    lse: `[b, h, t, 1]` log-sum-exp from `flash_forward`.
    do: `[b, t, h, k]` output cotangent.

  Returns:
    dq `[b, t, h, k]`, dk and dv `[b, s, g, k]`, in the input dtypes.
  """
  b, t, h, d = q.shape
  s, g = k.shape[1], k.shape[2]
  r = h // g
  scale = 1.0 / math.sqrt(d)
  # delta_i = sum_k o_ik do_ik: the softmax-Jacobian term, cheap in XLA.
  delta = jnp.einsum('bthk,bthk->bht', out.astype(jnp.float32), do.astype(jnp.float32))[..., None]
  qh, kh, vh, doh = _head_major(q), _head_major(k), _head_major(v), _head_major(do.astype(q.dtype))
  q_col, kv_row = q_ids[:, :, None], kv_ids[:, None, :]
  interpret_arg = _interpret_arg(interpret)

  bq, bkv = block_sizes.block_q_dkv, block_sizes.block_kv_dkv
  nq, nk = t // bq, s // bkv
  q_spec = pl.BlockSpec((None, None, bq, d), lambda bi, hi, j, i: (bi, hi, i, 0))
  kv_spec = pl.BlockSpec((None, None, bkv, d), lambda bi, hi, j, i: (bi, hi // r, j, 0))
  row_spec = pl.BlockSpec((None, None, bq, 1), lambda bi, hi, j, i: (bi, hi, i, 0))
  out_spec = pl.BlockSpec((None, None, bkv, d), lambda bi, hi, j, i: (bi, hi, j, 0))
  dk, dv = pl.pallas_call(
    functools.partial(_dkdv_kernel, scale=scale, causal_offset=causal_offset, num_q_blocks=nq, num_kv_blocks=nk),
    grid=(b, h, nk, nq),
    in_specs=[
      q_spec,
      kv_spec,
      kv_spec,
      pl.BlockSpec((None, bq, 1), lambda bi, hi, j, i: (bi, i, 0)),
      pl.BlockSpec((None, 1, bkv), lambda bi, hi, j, i: (bi, 0, j)),
      q_spec,
      row_spec,
      row_spec,
    ],
    out_specs=[out_spec, out_spec],
    # Per query head, float32, so the group sum below loses nothing.
    out_shape=[jax.ShapeDtypeStruct((b, h, s, d), jnp.float32)] * 2,
    scratch_shapes=[pltpu.VMEM((bkv, d), jnp.float32), pltpu.VMEM((bkv, d), jnp.float32)],
    compiler_params=_semantics(),
    interpret=interpret_arg,
    name='onerec_flash_dkdv',
  )(qh, kh, vh, q_col, kv_row, doh, lse, delta)
  dk = _head_major(dk.reshape(b, g, r, s, d).sum(axis=2)).astype(k.dtype)
  dv = _head_major(dv.reshape(b, g, r, s, d).sum(axis=2)).astype(v.dtype)

  bq, bkv = block_sizes.block_q_dq, block_sizes.block_kv_dq
  nq, nk = t // bq, s // bkv
  q_spec = pl.BlockSpec((None, None, bq, d), lambda bi, hi, i, j: (bi, hi, i, 0))
  kv_spec = pl.BlockSpec((None, None, bkv, d), lambda bi, hi, i, j: (bi, hi // r, j, 0))
  row_spec = pl.BlockSpec((None, None, bq, 1), lambda bi, hi, i, j: (bi, hi, i, 0))
  dq = pl.pallas_call(
    functools.partial(_dq_kernel, scale=scale, causal_offset=causal_offset, num_q_blocks=nq, num_kv_blocks=nk),
    grid=(b, h, nq, nk),
    in_specs=[
      q_spec,
      kv_spec,
      kv_spec,
      pl.BlockSpec((None, bq, 1), lambda bi, hi, i, j: (bi, i, 0)),
      pl.BlockSpec((None, 1, bkv), lambda bi, hi, i, j: (bi, 0, j)),
      q_spec,
      row_spec,
      row_spec,
    ],
    out_specs=q_spec,
    out_shape=jax.ShapeDtypeStruct((b, h, t, d), q.dtype),
    scratch_shapes=[pltpu.VMEM((bq, d), jnp.float32)],
    compiler_params=_semantics(),
    interpret=interpret_arg,
    name='onerec_flash_dq',
  )(qh, kh, vh, q_col, kv_row, doh, lse, delta)
  return _head_major(dq), dk, dv
