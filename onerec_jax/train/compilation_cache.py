"""JAX's persistent compilation cache, turned on by the entry points (not at import)."""

from __future__ import annotations

import os

import jax

DEFAULT_DIR = os.path.join("~", ".cache", "onerec_jax", "xla")


def enable_compilation_cache(path: str | None = None, min_compile_seconds: float = 0.5) -> str:
  """Caches compiled programs on disk so restarts and re-evaluations skip recompiling.

  Args:
    path: cache folder; default $ONEREC_JAX_CACHE or ~/.cache/onerec_jax/xla.
    min_compile_seconds: only programs that took at least this long to compile are stored.

  Returns:
    The folder used.
  """
  path = os.path.expanduser(path or os.environ.get("ONEREC_JAX_CACHE", DEFAULT_DIR))
  jax.config.update("jax_compilation_cache_dir", path)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_seconds)
  return path
