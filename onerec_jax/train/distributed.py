"""Multi-host start-up: `jax.distributed.initialize` with the coordinator given or detected.

On TPU pods, SLURM and Open MPI every argument is detected; elsewhere pass the coordinator's host:port,
the number of processes and this process's id (the `--coordinator_address`, `--num_processes`,
`--process_id` flags of experiments.train, or JAX_COORDINATOR_ADDRESS for the address). On CPU the
cross-process collectives go through gloo, so several local processes form one mesh (the multi-host test).
"""

from __future__ import annotations

import jax
from absl import logging


def initialize(
  coordinator_address: str | None = None, num_processes: int | None = None, process_id: int | None = None
) -> None:
  """Joins this process to the others; call before any JAX computation."""
  jax.config.update("jax_cpu_collectives_implementation", "gloo")  # only the CPU backend reads it
  jax.distributed.initialize(
    coordinator_address=coordinator_address, num_processes=num_processes, process_id=process_id
  )
  logging.info(
    "process %d of %d; %d local of %d devices",
    jax.process_index(),
    jax.process_count(),
    jax.local_device_count(),
    jax.device_count(),
  )
