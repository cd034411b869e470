"""Fused softmax attention: reference, XLA and Pallas (Triton / Mosaic) implementations."""

from kernels_pallas.attention.block_sizes import BlockSizes
from kernels_pallas.attention.op import attention
from kernels_pallas.attention.op import attention_xla
from kernels_pallas.attention.reference import attention_reference
