"""Tile sizes of the flash-attention kernels."""

import dataclasses

import jax.numpy as jnp


@dataclasses.dataclass(frozen=True, kw_only=True)
class BlockSizes:
  """Tile sizes (in tokens) of the forward and the two backward kernels.

  Lengths that are not multiples of a block are padded up and the padding masked, so any positive
  value works; performance wants multiples of 16 (GPU) or 128 (TPU lanes) that fit in SRAM/VMEM.
  """

  block_q: int = 64  # forward: queries per program.
  block_kv: int = 64  # forward: keys per inner-loop step.
  block_q_dkv: int = 32  # dK/dV kernel: queries per inner-loop step.
  block_kv_dkv: int = 32  # dK/dV kernel: keys per program.
  block_q_dq: int = 32  # dQ kernel: queries per program.
  block_kv_dq: int = 32  # dQ kernel: keys per inner-loop step.

  @classmethod
  def get_default(cls, head_dim: int, dtype, *, backend: str = 'gpu') -> 'BlockSizes':
    """Defaults that compile and run well for `head_dim` and `dtype` on `backend`.

    Args:
      head_dim: k.
      dtype: dtype of q.
      backend: 'gpu' (Triton) or 'tpu' (Mosaic).

    Returns:
      A BlockSizes.
    """
    if backend == 'tpu':
      # 128 fills the lane dimension; VMEM holds these tiles comfortably up to k = 256.
      return cls(block_q=128, block_kv=128, block_q_dkv=128, block_kv_dkv=128, block_q_dq=128, block_kv_dq=128)
    wide = head_dim > 64 or jnp.dtype(dtype).itemsize > 2
    fwd = 64 if wide else 128
    bwd = 32 if head_dim > 64 else 64
    return cls(block_q=fwd, block_kv=64, block_q_dkv=bwd, block_kv_dkv=bwd, block_q_dq=bwd, block_kv_dq=bwd)

  def clipped(self, q_len: int, kv_len: int, multiple: int = 1) -> 'BlockSizes':
    """Shrinks blocks to the sequence length rounded up to a power of two (at least `multiple`)."""

    def fit(block, length):
      return min(block, max(multiple, 1 << max(0, length - 1).bit_length()))  # next power of two

    return BlockSizes(
      block_q=fit(self.block_q, q_len),
      block_kv=fit(self.block_kv, kv_len),
      block_q_dkv=fit(self.block_q_dkv, q_len),
      block_kv_dkv=fit(self.block_kv_dkv, kv_len),
      block_q_dq=fit(self.block_q_dq, q_len),
      block_kv_dq=fit(self.block_kv_dq, kv_len),
    )
