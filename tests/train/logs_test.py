"""Third-party INFO logs are dropped by default, warnings kept, and one call lets them through."""

import logging
import os

from onerec_jax.logs import _FILTER, quiet_library_logs


def _record(path, level=logging.INFO):
  return logging.LogRecord("absl", level, path, 1, "message", (), None)


def test_library_info_is_dropped_warnings_and_our_lines_pass():
  orbax = os.path.join(os.sep, "site-packages", "orbax", "checkpoint", "checkpoint_manager.py")
  ours = os.path.join(os.sep, "work", "onerec_jax", "train", "trainer.py")
  assert not _FILTER.filter(_record(orbax))
  assert _FILTER.filter(_record(orbax, logging.WARNING))
  assert _FILTER.filter(_record(ours))


def test_switch_adds_and_removes_the_filter():
  from absl import logging as absl_logging

  handler = absl_logging.get_absl_handler().python_handler
  quiet_library_logs(True)
  assert _FILTER in handler.filters
  quiet_library_logs(False)
  assert _FILTER not in handler.filters
