"""Test-wide setup: a persistent XLA compilation cache, and the shared data folder for integration tests."""

import os

import jax

# Compiling on a 2-core CPU dominates small tests; cache compiled programs across tests and runs.
jax.config.update("jax_compilation_cache_dir",
                  os.environ.get("ONEREC_JAX_CACHE", os.path.expanduser("~/.cache/onerec_jax/xla")))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
