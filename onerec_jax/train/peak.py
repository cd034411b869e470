"""The machine's matmul peak, measured in the run that reports MFU (../shared/PROTOCOLS.md).

MFU = achieved model FLOP/s / the peak FLOP/s of the same hardware, and the peak is measured on the same
machine, in the same dtype, by a large jitted matmul: the best of a few repeats after a warm-up.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp


def measure_matmul_peak(
  dtype: str = "float32", size: int = 2048, repeats: int = 3, device: jax.Device | None = None
) -> float:
  """FLOP/s of a jitted [size, size] x [size, size] matmul on one device (best of `repeats`).

  bfloat16 inputs accumulate in float32 (preferred_element_type), as the model's matmuls do.
  """
  device = device or jax.devices()[0]
  dt = jnp.dtype(dtype)
  a = jax.device_put(jnp.ones((size, size), dt) / size, device)
  b = jax.device_put(jnp.ones((size, size), dt), device)
  matmul = jax.jit(lambda x, y: jnp.matmul(x, y, preferred_element_type=jnp.float32))
  matmul(a, b).block_until_ready()  # compile and warm up
  best = float("inf")
  for _ in range(max(repeats, 1)):
    t = time.perf_counter()
    matmul(a, b).block_until_ready()
    best = min(best, time.perf_counter() - t)
  return 2.0 * size**3 / best


def mfu(model_flops_per_step: float, steps_per_second: float, peak_per_device: float, num_devices: int) -> float:
  """Model FLOPs utilisation: achieved model FLOP/s over the peak of all devices used."""
  return model_flops_per_step * steps_per_second / max(peak_per_device * num_devices, 1e-9)
