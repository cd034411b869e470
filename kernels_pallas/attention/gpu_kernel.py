"""Flash attention for GPUs: Pallas with the Triton lowering (runs on CPU with `interpret=True`).

Shape legend: b batch, t query length, s key/value length, h query heads, g key/value heads
(r = h // g query heads per key/value head), k head dim.

Three kernels, in the layout `[b, t, h, k]` the model uses (no transposes):

* forward: grid (t / bq, b, h); each program keeps one query tile in registers and streams key/value
  tiles with an online softmax (running max `m`, running sum `l`), writing the output tile and the
  base-2 log-sum-exp `lse` `[b, h, t]` that the backward pass reuses.
* dK/dV: grid (s / bkv, b, h); a key/value tile stays resident while query tiles stream past. It
  writes per-query-head gradients `[b, s, h, k]` that the wrapper sums over the r heads of a group.
* dQ: grid (t / bq, b, h), the forward's loop structure.

Lengths must be multiples of the block sizes (the op pads them and the padding carries segment id 0,
so it is masked); the head dim is zero-padded here to a power of two >= 16, which Triton needs and
which leaves dot products unchanged. Tiles fully above the causal diagonal are skipped.
"""

import functools
import math

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plgpu

from kernels_pallas.attention import masking
from kernels_pallas.attention.block_sizes import BlockSizes


def _forward_kernel(q_ref, k_ref, v_ref, q_ids_ref, kv_ids_ref, o_ref, lse_ref, *, scale, block_kv, causal_offset):
  """One query tile: q_ref `[bq, k]`, k_ref/v_ref `[s, k]`, o_ref `[bq, k]`, lse_ref `[bq]`."""
  block_q, head_dim = q_ref.shape
  q_block = pl.program_id(0)
  q = q_ref[...]
  q_ids = q_ids_ref[...]
  qk_scale = scale * masking.LOG2E  # work in base 2: exp2 is the cheap instruction.

  def body(kv_block, carry):
    acc, m_prev, l_prev = carry
    kv_slice = pl.ds(kv_block * block_kv, block_kv)
    k = k_ref[kv_slice, :]
    logits = plgpu.dot(q, k, trans_b=True) * qk_scale  # [bq, bkv] f32
    mask = masking.tile_mask(
      q_ids[:, None], kv_ids_ref[kv_slice][None, :], q_block * block_q, kv_block * block_kv, causal_offset
    )
    logits = jnp.where(mask, logits, masking.MASK_VALUE)
    m_next = jnp.maximum(m_prev, jnp.max(logits, axis=1))
    correction = jnp.exp2(m_prev - m_next)
    p = jnp.where(mask, jnp.exp2(logits - m_next[:, None]), 0.0)
    l_next = l_prev * correction + jnp.sum(p, axis=1)
    v = v_ref[kv_slice, :]
    acc = acc * correction[:, None] + plgpu.dot(p.astype(v.dtype), v)
    return acc, m_next, l_next

  num_kv_blocks = k_ref.shape[0] // block_kv
  lo, hi = masking.kv_block_range(q_block, block_q, block_kv, num_kv_blocks, causal_offset)
  init = (
    jnp.zeros((block_q, head_dim), jnp.float32),
    jnp.full((block_q,), masking.MASK_VALUE, jnp.float32),
    jnp.zeros((block_q,), jnp.float32),
  )
  acc, m, l = jax.lax.fori_loop(lo, hi, body, init)
  empty = l == 0.0  # no visible key: output zeros, and an lse that zeroes p in the backward pass.
  o_ref[...] = (acc / jnp.where(empty, 1.0, l)[:, None]).astype(o_ref.dtype)
  lse_ref[...] = jnp.where(empty, masking.EMPTY_ROW_LSE, m + jnp.log2(jnp.where(empty, 1.0, l)))


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
  *,
  scale,
  block_q,
  causal_offset,
):
  """One key tile: k_ref/v_ref `[bkv, k]`, q_ref/do_ref `[t, k]`, lse/delta `[t]`."""
  block_kv, head_dim = k_ref.shape
  kv_block = pl.program_id(0)
  k = k_ref[...]
  v = v_ref[...]
  kv_ids = kv_ids_ref[...]
  qk_scale = scale * masking.LOG2E

  def body(q_block, carry):
    dk, dv = carry
    q_slice = pl.ds(q_block * block_q, block_q)
    q = q_ref[q_slice, :]
    do = do_ref[q_slice, :]
    logits = plgpu.dot(q, k, trans_b=True) * qk_scale
    mask = masking.tile_mask(
      q_ids_ref[q_slice][:, None], kv_ids[None, :], q_block * block_q, kv_block * block_kv, causal_offset
    )
    p = jnp.where(mask, jnp.exp2(logits - lse_ref[q_slice][:, None]), 0.0)  # [bq, bkv]
    dv = dv + plgpu.dot(p.astype(do.dtype), do, trans_a=True)
    dp = plgpu.dot(do, v, trans_b=True)
    ds = p * (dp - delta_ref[q_slice][:, None]) * scale
    dk = dk + plgpu.dot(ds.astype(q.dtype), q, trans_a=True)
    return dk, dv

  num_q_blocks = q_ref.shape[0] // block_q
  lo, hi = masking.q_block_range(kv_block, block_kv, block_q, num_q_blocks, causal_offset)
  zeros = jnp.zeros((block_kv, head_dim), jnp.float32)
  dk, dv = jax.lax.fori_loop(lo, hi, body, (zeros, zeros))
  dk_ref[...] = dk.astype(dk_ref.dtype)
  dv_ref[...] = dv.astype(dv_ref.dtype)


def _dq_kernel(
  q_ref, k_ref, v_ref, q_ids_ref, kv_ids_ref, do_ref, lse_ref, delta_ref, dq_ref, *, scale, block_kv, causal_offset
):
  """One query tile: q_ref/do_ref `[bq, k]`, k_ref/v_ref `[s, k]`, lse/delta `[bq]`."""
  block_q, head_dim = q_ref.shape
  q_block = pl.program_id(0)
  q = q_ref[...]
  do = do_ref[...]
  q_ids = q_ids_ref[...]
  lse = lse_ref[...]
  delta = delta_ref[...]
  qk_scale = scale * masking.LOG2E

  def body(kv_block, dq):
    kv_slice = pl.ds(kv_block * block_kv, block_kv)
    k = k_ref[kv_slice, :]
    v = v_ref[kv_slice, :]
    logits = plgpu.dot(q, k, trans_b=True) * qk_scale
    mask = masking.tile_mask(
      q_ids[:, None], kv_ids_ref[kv_slice][None, :], q_block * block_q, kv_block * block_kv, causal_offset
    )
    p = jnp.where(mask, jnp.exp2(logits - lse[:, None]), 0.0)
    dp = plgpu.dot(do, v, trans_b=True)
    ds = p * (dp - delta[:, None]) * scale
    return dq + plgpu.dot(ds.astype(k.dtype), k)

  num_kv_blocks = k_ref.shape[0] // block_kv
  lo, hi = masking.kv_block_range(q_block, block_q, block_kv, num_kv_blocks, causal_offset)
  dq = jax.lax.fori_loop(lo, hi, body, jnp.zeros((block_q, head_dim), jnp.float32))
  dq_ref[...] = dq.astype(dq_ref.dtype)


def _pad_head_dim(x):
  d = x.shape[-1]
  dp = max(16, pl.next_power_of_2(d))
  return x if dp == d else jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, dp - d)])


def _compiler_params(block_a, block_b, head_dim):
  num_warps = 4 if block_a * block_b <= 64 * 64 and head_dim <= 64 else 8
  return plgpu.CompilerParams(num_warps=num_warps, num_stages=2)


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
    interpret: run in the Pallas interpreter.

  Returns:
    out `[b, t, h, k]` in q's dtype and base-2 log-sum-exp `[b, h, t]` float32.
  """
  b, t, h, d = q.shape
  s, g = k.shape[1], k.shape[2]
  r = h // g
  bq, bkv = block_sizes.block_q, block_sizes.block_kv
  q, k, v = _pad_head_dim(q), _pad_head_dim(k), _pad_head_dim(v)
  dp = q.shape[-1]
  kernel = functools.partial(_forward_kernel, scale=1.0 / math.sqrt(d), block_kv=bkv, causal_offset=causal_offset)
  out, lse = pl.pallas_call(
    kernel,
    grid=(t // bq, b, h),
    in_specs=[
      pl.BlockSpec((None, bq, None, dp), lambda i, bi, hi: (bi, i, hi, 0)),
      pl.BlockSpec((None, s, None, dp), lambda i, bi, hi: (bi, 0, hi // r, 0)),
      pl.BlockSpec((None, s, None, dp), lambda i, bi, hi: (bi, 0, hi // r, 0)),
      pl.BlockSpec((None, bq), lambda i, bi, hi: (bi, i)),
      pl.BlockSpec((None, s), lambda i, bi, hi: (bi, 0)),
    ],
    out_specs=[
      pl.BlockSpec((None, bq, None, dp), lambda i, bi, hi: (bi, i, hi, 0)),
      pl.BlockSpec((None, None, bq), lambda i, bi, hi: (bi, hi, i)),
    ],
    out_shape=[
      jax.ShapeDtypeStruct((b, t, h, dp), q.dtype),
      jax.ShapeDtypeStruct((b, h, t), jnp.float32),
    ],
    compiler_params=_compiler_params(bq, bkv, dp),
    interpret=interpret,
    name='onerec_flash_fwd',
  )(q, k, v, q_ids, kv_ids)
  return out[..., :d], lse


@functools.partial(jax.jit, static_argnames=('causal_offset', 'block_sizes', 'interpret'))
def flash_backward(q, k, v, q_ids, kv_ids, out, lse, do, *, causal_offset, block_sizes: BlockSizes, interpret):
  """Backward kernels (dK/dV, then dQ).

  Args:
    q, k, v, q_ids, kv_ids, causal_offset, block_sizes, interpret: as `flash_forward`.
    out: `[b, t, h, k]` forward output.
    lse: `[b, h, t]` base-2 log-sum-exp from `flash_forward`.
    do: `[b, t, h, k]` output cotangent.

  Returns:
    dq `[b, t, h, k]`, dk and dv `[b, s, g, k]`, in the input dtypes.
  """
  b, t, h, d = q.shape
  s, g = k.shape[1], k.shape[2]
  r = h // g
  # delta_i = sum_k o_ik do_ik = sum_j p_ij dp_ij: the softmax-Jacobian term, cheap in XLA.
  delta = jnp.einsum('bthk,bthk->bht', out.astype(jnp.float32), do.astype(jnp.float32))
  q, k, v, do = _pad_head_dim(q), _pad_head_dim(k), _pad_head_dim(v), _pad_head_dim(do.astype(q.dtype))
  dp = q.shape[-1]
  scale = 1.0 / math.sqrt(d)

  bq, bkv = block_sizes.block_q_dkv, block_sizes.block_kv_dkv
  dk, dv = pl.pallas_call(
    functools.partial(_dkdv_kernel, scale=scale, block_q=bq, causal_offset=causal_offset),
    grid=(s // bkv, b, h),
    in_specs=[
      pl.BlockSpec((None, t, None, dp), lambda j, bi, hi: (bi, 0, hi, 0)),  # q
      pl.BlockSpec((None, bkv, None, dp), lambda j, bi, hi: (bi, j, hi // r, 0)),  # k
      pl.BlockSpec((None, bkv, None, dp), lambda j, bi, hi: (bi, j, hi // r, 0)),  # v
      pl.BlockSpec((None, t), lambda j, bi, hi: (bi, 0)),  # q_ids
      pl.BlockSpec((None, bkv), lambda j, bi, hi: (bi, j)),  # kv_ids
      pl.BlockSpec((None, t, None, dp), lambda j, bi, hi: (bi, 0, hi, 0)),  # do
      pl.BlockSpec((None, None, t), lambda j, bi, hi: (bi, hi, 0)),  # lse
      pl.BlockSpec((None, None, t), lambda j, bi, hi: (bi, hi, 0)),  # delta
    ],
    out_specs=[
      pl.BlockSpec((None, bkv, None, dp), lambda j, bi, hi: (bi, j, hi, 0)),
      pl.BlockSpec((None, bkv, None, dp), lambda j, bi, hi: (bi, j, hi, 0)),
    ],
    # Per query head; accumulated in float32 so the group sum below loses nothing.
    out_shape=[jax.ShapeDtypeStruct((b, s, h, dp), jnp.float32)] * 2,
    compiler_params=_compiler_params(bq, bkv, dp),
    interpret=interpret,
    name='onerec_flash_dkdv',
  )(q, k, v, q_ids, kv_ids, do, lse, delta)
  dk = dk.reshape(b, s, g, r, dp).sum(axis=3)[..., :d].astype(k.dtype)
  dv = dv.reshape(b, s, g, r, dp).sum(axis=3)[..., :d].astype(v.dtype)

  bq, bkv = block_sizes.block_q_dq, block_sizes.block_kv_dq
  dq = pl.pallas_call(
    functools.partial(_dq_kernel, scale=scale, block_kv=bkv, causal_offset=causal_offset),
    grid=(t // bq, b, h),
    in_specs=[
      pl.BlockSpec((None, bq, None, dp), lambda i, bi, hi: (bi, i, hi, 0)),  # q
      pl.BlockSpec((None, s, None, dp), lambda i, bi, hi: (bi, 0, hi // r, 0)),  # k
      pl.BlockSpec((None, s, None, dp), lambda i, bi, hi: (bi, 0, hi // r, 0)),  # v
      pl.BlockSpec((None, bq), lambda i, bi, hi: (bi, i)),  # q_ids
      pl.BlockSpec((None, s), lambda i, bi, hi: (bi, 0)),  # kv_ids
      pl.BlockSpec((None, bq, None, dp), lambda i, bi, hi: (bi, i, hi, 0)),  # do
      pl.BlockSpec((None, None, bq), lambda i, bi, hi: (bi, hi, i)),  # lse
      pl.BlockSpec((None, None, bq), lambda i, bi, hi: (bi, hi, i)),  # delta
    ],
    out_specs=pl.BlockSpec((None, bq, None, dp), lambda i, bi, hi: (bi, i, hi, 0)),
    out_shape=jax.ShapeDtypeStruct((b, t, h, dp), q.dtype),
    compiler_params=_compiler_params(bq, bkv, dp),
    interpret=interpret,
    name='onerec_flash_dq',
  )(q, k, v, q_ids, kv_ids, do, lse, delta)
  return dq[..., :d], dk, dv
