"""Flags shared by the entry points, defined once (absl allows a flag name only once per process, and
tests import several entry points into one process)."""

from absl import flags

from onerec_jax.config_overrides import split_config_args

EXPERIMENT = flags.DEFINE_string("experiment", None, "registered experiment name (python -m experiments.list)")
WORKDIR = flags.DEFINE_string("workdir", None, "run folder: checkpoints, TensorBoard logs, metrics.json")
DATA_DIR = flags.DEFINE_string("data_dir", None, "folder of real datasets (default $ONEREC_DATA_DIR)")
DATASET = flags.DEFINE_string("dataset", None, "dataset name (onerec_jax.input.datasets.dataset_names)")
OUT = flags.DEFINE_string("out", None, "output file or folder (each entry point says which and its default)")
LIBRARY_LOGS = flags.DEFINE_bool("library_logs", False, "also print third-party INFO logs (Orbax, grain)")
EXPERIMENTS = flags.DEFINE_list(
  "experiments",
  [],
  "registered experiments, each optionally `name:field=v;field=v` (benchmarks, aot_compile; each says its default)",
)
CHECKPOINT_STEP = flags.DEFINE_integer("step", None, "checkpoint step to restore (default: the latest)")
SELECTED = flags.DEFINE_boolean(
  "selected", False, "the checkpoint at the step eval.select_metric picked on valid (WORKDIR/selected_checkpoint)"
)
STEPS = flags.DEFINE_integer("steps", 0, "timed steps per measurement (benchmarks; 0 = the script's default)")


def overrides_parser(overrides: list[str]):
  """An absl `flags_parser` that parses everything except the --config.* overrides, which it appends to
  `overrides` (kept for the typed config: onerec_jax.config_overrides)."""

  def parse(argv: list[str]) -> list[str]:
    rest, found = split_config_args(argv)
    overrides.extend(found)
    return flags.FLAGS(rest)

  return parse
