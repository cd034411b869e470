"""Test-wide setup: a persistent XLA compilation cache (compiling dominates small tests on 2 cores)."""

from onerec_jax.train.compilation_cache import enable_compilation_cache

enable_compilation_cache(min_compile_seconds=0.2)
