"""Every entry point imports into one process (absl allows each flag name once: shared flags live in
experiments/common_flags.py), as the test workers and a notebook import several of them."""

import importlib
import pkgutil

import experiments
import experiments.benchmarks


def test_all_entry_points_import_together():
  names = [f"experiments.{m.name}" for m in pkgutil.iter_modules(experiments.__path__) if m.name != "configs"]
  names += [f"experiments.benchmarks.{m.name}" for m in pkgutil.iter_modules(experiments.benchmarks.__path__)]
  for name in names:
    importlib.import_module(name)
  assert "experiments.aot_compile" in names and "experiments.benchmarks.train_bench" in names
