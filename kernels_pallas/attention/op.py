"""Public fused-attention op: shape checks, backend dispatch and the custom_vjp of the kernels.

Shape legend: b batch, t query length, s key/value length, h query heads, g key/value heads,
k head dim. The masking convention (segment ids, padding id 0, end-aligned causal mask, fully masked
rows give zeros) is specified in `reference.py`.

Implementations (`impl=`):

* 'reference': plain jnp, float32 accumulation; the specification. O(t * s) memory.
* 'xla': `jax.nn.dot_product_attention` with a boolean mask; rows with no visible key are zeroed
  afterwards, so it matches the reference exactly in semantics.
* 'pallas': the flash-attention kernels (Triton lowering on GPU, Mosaic on TPU); on CPU it needs
  `interpret=True` and runs the GPU-style kernel in the Pallas interpreter.
* 'pallas_gpu' / 'pallas_tpu': pick a kernel explicitly (tests run the TPU kernel on CPU with
  `interpret=True`, which uses the TPU interpreter, or under `pltpu.force_tpu_interpret_mode()`).
* 'auto': 'xla' everywhere until the kernels are verified on real hardware (PALLAS_VERIFIED_PLATFORMS:
  correct and at least as fast as XLA there); then Pallas on those platforms. It logs the choice.

The Pallas paths are differentiable through `jax.custom_vjp`: the forward kernel saves the per-row
log-sum-exp and the backward kernels recompute the probabilities block by block.
"""

import functools
import math

import jax
import jax.numpy as jnp
from absl import logging

from kernels_pallas.attention import block_sizes as block_sizes_lib
from kernels_pallas.attention import reference

BlockSizes = block_sizes_lib.BlockSizes

IMPLS = ('auto', 'reference', 'xla', 'pallas', 'pallas_gpu', 'pallas_tpu')


def _check_inputs(q, k, v, q_segment_ids, kv_segment_ids, impl):
  """Raises ValueError naming the offending shapes."""
  shapes = f'q={q.shape}, k={k.shape}, v={v.shape}'
  if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
    raise ValueError(f'attention wants q [b, t, h, k] and k, v [b, s, g, k]; got {shapes}.')
  b, t, h, d = q.shape
  if k.shape != v.shape:
    raise ValueError(f'k and v must have the same shape; got {shapes}.')
  if k.shape[0] != b or k.shape[3] != d:
    raise ValueError(f'k, v must share batch and head_dim with q; got {shapes}.')
  g = k.shape[2]
  if h % g:
    raise ValueError(f'query heads ({h}) must be a multiple of key/value heads ({g}); got {shapes}.')
  if q_segment_ids is not None and q_segment_ids.shape != (b, t):
    raise ValueError(f'q_segment_ids must be [b, t] = {(b, t)}; got {q_segment_ids.shape} ({shapes}).')
  if kv_segment_ids is not None and kv_segment_ids.shape != (b, k.shape[1]):
    raise ValueError(f'kv_segment_ids must be [b, s] = {(b, k.shape[1])}; got {kv_segment_ids.shape} ({shapes}).')
  if impl not in IMPLS:
    raise ValueError(f'impl must be one of {IMPLS}; got {impl!r}.')


def _broadcast_ids(q_ids, kv_ids, t, s):
  b = q_ids.shape[0]
  return jnp.broadcast_to(q_ids, (b, t)), jnp.broadcast_to(kv_ids, (b, s))


# Platforms where a run on the real hardware showed the Pallas kernels correct and at least as fast as
# XLA (kernels_pallas/benchmarks, BENCHMARKS.md). Until then 'auto' is XLA everywhere and says so once.
PALLAS_VERIFIED_PLATFORMS: tuple[str, ...] = ()
_announced = set()


def _default_impl() -> str:
  platform = jax.devices()[0].platform
  if platform in PALLAS_VERIFIED_PLATFORMS:
    return 'pallas_tpu' if platform == 'tpu' else 'pallas_gpu'
  if platform != 'cpu' and platform not in _announced:
    _announced.add(platform)
    logging.warning(
      "attention impl='auto' on %s uses XLA: the Pallas kernels have not yet been verified on "
      "real %s hardware (pass impl='pallas' to use them anyway).",
      platform,
      platform,
    )
  return 'xla'


def attention_xla(q, k, v, *, causal=False, q_segment_ids=None, kv_segment_ids=None):
  """`jax.nn.dot_product_attention` with our masks; fully masked rows are zeroed.

  Args and returns as `reference.attention_reference`.
  """
  b, t, h, d = q.shape
  s = k.shape[1]
  mask = reference.make_mask(t, s, causal=causal, q_segment_ids=q_segment_ids, kv_segment_ids=kv_segment_ids)
  k, v = k.astype(q.dtype), v.astype(q.dtype)
  if mask is None:
    return jax.nn.dot_product_attention(q, k, v, implementation=None)
  mask = jnp.broadcast_to(mask, (b, t, s))
  out = jax.nn.dot_product_attention(q, k, v, mask=mask[:, None], implementation=None)
  # The XLA path fills masked logits with a finite value, so a row with no visible key would
  # average every value; the convention wants zeros (and zero gradients) there.
  row_visible = jnp.any(mask, axis=-1)[:, :, None, None]
  return jnp.where(row_visible, out, jnp.zeros((), out.dtype))


# ----------------------------------------------------------------------------------------------
# Pallas path: padding to whole blocks and the custom_vjp.


def _kernel_module(backend):
  if backend == 'gpu':
    from kernels_pallas.attention import gpu_kernel  # pylint: disable=g-import-not-at-top

    return gpu_kernel
  from kernels_pallas.attention import tpu_kernel  # pylint: disable=g-import-not-at-top

  return tpu_kernel


def _pad_to(x, axis, length):
  pad = length - x.shape[axis]
  if pad == 0:
    return x
  widths = [(0, 0)] * x.ndim
  widths[axis] = (0, pad)
  return jnp.pad(x, widths)  # zero padding; padded segment ids are 0, i.e. masked.


def _padded_lengths(t, s, bs: BlockSizes):
  q_mult = math.lcm(bs.block_q, bs.block_q_dkv, bs.block_q_dq)
  kv_mult = math.lcm(bs.block_kv, bs.block_kv_dkv, bs.block_kv_dq)
  return -(-t // q_mult) * q_mult, -(-s // kv_mult) * kv_mult


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6, 7, 8))
def _flash(q, k, v, q_ids, kv_ids, causal, bs, backend, interpret):
  out, _ = _flash_fwd(q, k, v, q_ids, kv_ids, causal, bs, backend, interpret)
  return out


def _flash_fwd(q, k, v, q_ids, kv_ids, causal, bs, backend, interpret):
  t, s = q.shape[1], k.shape[1]
  tp, sp = _padded_lengths(t, s, bs)
  kernel = _kernel_module(backend)
  out, lse = kernel.flash_forward(
    _pad_to(q, 1, tp),
    _pad_to(k, 1, sp),
    _pad_to(v, 1, sp),
    _pad_to(q_ids, 1, tp),
    _pad_to(kv_ids, 1, sp),
    causal_offset=s - t if causal else None,
    block_sizes=bs,
    interpret=interpret,
  )
  out = out[:, :t]
  return out, (q, k, v, q_ids, kv_ids, out, lse)


def _flash_bwd(causal, bs, backend, interpret, res, do):
  q, k, v, q_ids, kv_ids, out, lse = res
  t, s = q.shape[1], k.shape[1]
  tp, sp = _padded_lengths(t, s, bs)
  kernel = _kernel_module(backend)
  dq, dk, dv = kernel.flash_backward(
    _pad_to(q, 1, tp),
    _pad_to(k, 1, sp),
    _pad_to(v, 1, sp),
    _pad_to(q_ids, 1, tp),
    _pad_to(kv_ids, 1, sp),
    _pad_to(out, 1, tp),
    lse,
    _pad_to(do, 1, tp),
    causal_offset=s - t if causal else None,
    block_sizes=bs,
    interpret=interpret,
  )
  return dq[:, :t], dk[:, :s], dv[:, :s], None, None


_flash.defvjp(_flash_fwd, _flash_bwd)


def attention(
  q: jax.Array,
  k: jax.Array,
  v: jax.Array,
  *,
  causal: bool = False,
  q_segment_ids: jax.Array | None = None,
  kv_segment_ids: jax.Array | None = None,
  impl: str = 'auto',
  interpret: bool = False,
  block_sizes: BlockSizes | None = None,
) -> jax.Array:
  """Multi-head / grouped-query softmax attention with segment, padding and causal masks.

  Args:
    q: `[b, t, h, k]` queries.
    k: `[b, s, g, k]` keys; h must be a multiple of g (grouped-query attention).
    v: `[b, s, g, k]` values.
    causal: mask keys after the query; queries sit at absolute positions `s - t + i`, so a single
      decoding step (t = 1) against a cache of s keys sees all of it.
    q_segment_ids: int32 `[b, t]`; 0 marks padding. A query sees only keys of its own segment.
    kv_segment_ids: int32 `[b, s]`; 0 marks padding keys, which are never attended to. When only
      one of the two is given it acts as a plain padding mask on its side.
    impl: 'auto', 'reference', 'xla', 'pallas', 'pallas_gpu' or 'pallas_tpu' (module docstring).
    interpret: run the Pallas kernels in the interpreter (CPU testing).
    block_sizes: kernel tile sizes; defaults from `BlockSizes.get_default`.

  Returns:
    `[b, t, h, k]` in q's dtype. Rows with no visible key are zeros. Scale is 1/sqrt(k).
  """
  _check_inputs(q, k, v, q_segment_ids, kv_segment_ids, impl)
  q_ids, kv_ids = reference.normalize_segment_ids(q_segment_ids, kv_segment_ids)
  t, s = q.shape[1], k.shape[1]
  if q_ids is not None:
    q_ids, kv_ids = _broadcast_ids(q_ids, kv_ids, t, s)
  if impl == 'auto':
    impl = _default_impl()
  if impl == 'reference':
    return reference.attention_reference(q, k, v, causal=causal, q_segment_ids=q_ids, kv_segment_ids=kv_ids)
  if impl == 'xla':
    return attention_xla(q, k, v, causal=causal, q_segment_ids=q_ids, kv_segment_ids=kv_ids)

  platform = jax.devices()[0].platform
  if impl == 'pallas':
    impl = 'pallas_tpu' if platform == 'tpu' else 'pallas_gpu'
  if impl == 'pallas_gpu' and platform == 'cpu' and not interpret:
    # (The TPU kernel may run on CPU with interpret=False under pltpu.force_tpu_interpret_mode.)
    raise ValueError(f"impl={impl!r} on CPU needs interpret=True (or use impl='xla').")
  backend = 'tpu' if impl == 'pallas_tpu' else 'gpu'
  if block_sizes is None:
    block_sizes = BlockSizes.get_default(q.shape[-1], q.dtype, backend=backend)
  # Tiny inputs should not be padded to a full default tile.
  block_sizes = block_sizes.clipped(t, s, multiple=8 if backend == 'tpu' else 16)
  if q_ids is None:
    b = q.shape[0]
    q_ids, kv_ids = jnp.ones((b, t), jnp.int32), jnp.ones((b, s), jnp.int32)
  k, v = k.astype(q.dtype), v.astype(q.dtype)
  return _flash(q, k, v, q_ids, kv_ids, causal, block_sizes, backend, interpret)
