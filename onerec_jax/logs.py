"""What a run prints: our lines, and third-party INFO logging (Orbax, grain, JAX, tensorboardX) on request.

Orbax alone logs about ten INFO lines per checkpoint through absl. `quiet_library_logs()` drops INFO and
DEBUG records that come from those packages (warnings and errors always pass);
`quiet_library_logs(False)` (the `--library_logs` flag of the entry points) lets them through again.
"""

from __future__ import annotations

import logging
import os

LIBRARIES = ("orbax", "grain", "tensorboardX", "etils", "jax")


class _LibraryInfoFilter(logging.Filter):
  def __init__(self):
    super().__init__()
    self.parts = tuple(f"{os.sep}{name}{os.sep}" for name in LIBRARIES)

  def filter(self, record: logging.LogRecord) -> bool:
    if record.levelno >= logging.WARNING:
      return True
    return not any(part in record.pathname for part in self.parts) and not record.name.startswith(LIBRARIES)


_FILTER = _LibraryInfoFilter()


def quiet_library_logs(quiet: bool = True) -> None:
  """Drops (quiet=True) or lets through (False) third-party INFO/DEBUG records on every root handler."""
  from absl import logging as absl_logging

  absl_handler = absl_logging.get_absl_handler()
  targets = list(logging.getLogger().handlers) + [absl_handler, absl_handler.python_handler]
  for handler in targets:
    handler.removeFilter(_FILTER)
    if quiet:
      handler.addFilter(_FILTER)
