"""Pallas kernels of OneRec-JAX, one folder per op, each beside a plain-jnp reference.

Public surface:
  attention: fused multi-head / grouped-query attention with segment, padding and causal masks
    (`impl` = 'auto' | 'reference' | 'xla' | 'pallas' | 'pallas_gpu' | 'pallas_tpu').
  AttentionBlockSizes: tile sizes of the attention kernels.
"""

from kernels_pallas.attention import attention
from kernels_pallas.attention import attention_reference
from kernels_pallas.attention import BlockSizes as AttentionBlockSizes
