"""The dataset registry: dataset name -> DatasetSpec. The one place the rest of the library asks for data.

Every dataset is one `DatasetSpec` (onerec_jax/input/dataset_spec.py) defined next to its loader, in the
module-level `SPECS` tuple of that module: `synthetic` (synthetic.py, the built-in simulator), `ml1m` and
`ml100k` (movielens.py), `amazon_<category>` (amazon.py; any folder `amazon-<category>` of the data
directory, `amazon_beauty` always listed) and `kuairand_pure` (kuairand.py). Every module of this package
that defines `SPECS` is registered when the registry is first used, so adding a dataset touches one file;
a spec defined elsewhere (a test, another project) is added with `register`. Real data is read from
`DataConfig.data_dir`, else $ONEREC_DATA_DIR; each loader's module docstring lists the files it reads
(shared copies and the original public formats) and the rules it applies.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
from typing import Sequence

from onerec_jax.input import interactions
from onerec_jax.input.dataset_spec import NO_TEXT, DatasetSpec
from onerec_jax.input.interactions import LoadedDataset
from onerec_jax.input.sequences import SequenceDataset

__all__ = [
  "DatasetSpec",
  "register",
  "unregister",
  "get_spec",
  "specs",
  "dataset_names",
  "is_known_dataset",
  "load_dataset",
  "load_sequences",
  "item_texts",
  "describe_item_text",
]

_REGISTRY: dict[str, DatasetSpec] = {}
_DISCOVERED = False
_DECLARES_SPECS = re.compile(r"^SPECS\s*[:=]", re.M)


def _discover() -> None:
  """Registers the SPECS of every module of onerec_jax.input that defines them (once)."""
  global _DISCOVERED
  if _DISCOVERED:
    return
  _DISCOVERED = True
  import onerec_jax.input as package

  for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
    path = os.path.join(getattr(info.module_finder, "path", ""), info.name + ".py")
    if info.ispkg or not os.path.exists(path):
      continue
    with open(path, encoding="utf-8") as f:
      if not _DECLARES_SPECS.search(f.read()):
        continue
    for spec in importlib.import_module(f"{package.__name__}.{info.name}").SPECS:
      register(spec, replace=True)


def register(spec: DatasetSpec, *, replace: bool = False) -> DatasetSpec:
  """Adds `spec` to the registry (after the built-in specs); returns it.

  Raises:
    ValueError when a different spec of that name is registered and `replace` is False.
  """
  if not isinstance(spec, DatasetSpec):
    raise TypeError(f"register expects a DatasetSpec, got {type(spec).__name__}")
  _discover()
  old = _REGISTRY.get(spec.name)
  if old is not None and old is not spec and not replace:
    raise ValueError(
      f"dataset {spec.name!r} is already registered ({old.description or old.load}); pass replace=True to replace it"
    )
  _REGISTRY[spec.name] = spec
  return spec


def unregister(name: str) -> None:
  """Removes the spec registered under `name` (a plain name or a pattern such as 'amazon_<category>')."""
  _discover()
  _REGISTRY.pop(name, None)


def specs() -> tuple[DatasetSpec, ...]:
  """Every registered spec, in registration order."""
  _discover()
  return tuple(_REGISTRY.values())


def _match(name: str) -> DatasetSpec | None:
  _discover()
  if name in _REGISTRY and not _REGISTRY[name].is_pattern:
    return _REGISTRY[name]
  patterns = [s for s in _REGISTRY.values() if s.is_pattern and s.matches(name)]
  return max(patterns, key=lambda s: len(s.prefix)) if patterns else None


def _env_root() -> str:
  root = os.environ.get(interactions.ENV_DATA_DIR, "")
  return root if root and os.path.isdir(root) else ""


def dataset_names(data_dir: str = "") -> tuple[str, ...]:
  """Names accepted by `load_sequences` (and `--config.data.dataset`): the built-in simulator first, then every
  registered name and the names pattern specs list for `data_dir` (default $ONEREC_DATA_DIR), sorted. A
  pattern (`amazon_<category>`) accepts more names than it lists."""
  root = data_dir if data_dir and os.path.isdir(data_dir) else _env_root()
  made, read = [], []
  for spec in specs():
    names = list(spec.list_names(root)) if spec.is_pattern and spec.list_names else []
    (made if not spec.reads_files else read).extend(names if spec.is_pattern else [spec.name])
  return tuple(dict.fromkeys(made + sorted(read)))


def _patterns() -> list[str]:
  return [s.name for s in specs() if s.is_pattern]


def unknown_message(name: str) -> str:
  """The ValueError message for a dataset name no spec matches (lists the known names and patterns)."""
  patterns = _patterns()
  return f"data.dataset={name!r} is unknown; known: {dataset_names()}" + (
    f" (or {', '.join(patterns)})" if patterns else ""
  )


def is_known_dataset(name: str) -> bool:
  """Whether some registered spec matches `name` (its files may still be missing)."""
  return _match(name) is not None


def get_spec(name: str) -> DatasetSpec:
  """The spec of dataset `name`; a ValueError listing the known names when none matches."""
  spec = _match(name)
  if spec is None:
    raise ValueError(unknown_message(name))
  return spec


def load_dataset(config) -> LoadedDataset:
  """A dataset of a DataConfig, with the counts of how it was read (LoadStats).

  Args:
    config: onerec_jax.input.config.DataConfig (dataset, data_dir; simulator for `synthetic`).

  Raises:
    ValueError for an unknown name; interactions.DataError for missing or malformed files.
  """
  spec = get_spec(config.dataset)
  if not spec.reads_files:
    return spec.from_config(config)
  return spec.load(interactions.data_root(config.data_dir), config.dataset)


def load_sequences(config) -> tuple[SequenceDataset, object | None]:
  """The dataset of a DataConfig as sequences, and the simulator when it is the built-in world (else None).

  Args:
    config: onerec_jax.input.config.DataConfig (dataset, data_dir, simulator, ...); with `tfds_dir` set,
      a dataset read from files is read from the TFDS builders' array_record files instead
      (onerec_jax.input.tfds_source).
  """
  spec = get_spec(config.dataset)
  if config.tfds_dir and spec.reads_files:
    from onerec_jax.input.tfds_source import load_tfds_sequences  # late: tensorflow-datasets is optional

    return load_tfds_sequences(config.dataset, config.tfds_dir), None
  loaded = load_dataset(config)
  return loaded.data, loaded.simulator


def item_texts(root: str, name: str, raw_ids: Sequence) -> list[str]:
  """One item text per raw id of dataset `name` (LoadedDataset.item_raw_ids), from its spec.

  Raises:
    ValueError for an unknown dataset, a dataset without item text, or an item without an entry.
  """
  spec = get_spec(name)
  if not spec.has_text:
    raise ValueError(f"dataset {name!r} {NO_TEXT}")
  return spec.item_texts(root, name, raw_ids)


def describe_item_text(root: str, name: str) -> str:
  """One line naming the files and columns `item_texts(root, name, ...)` reads.

  Raises:
    ValueError for an unknown dataset or one without item text.
  """
  spec = get_spec(name)
  if not spec.has_text:
    raise ValueError(f"dataset {name!r} {NO_TEXT}")
  if spec.describe_text is None:
    return f"{name}: item texts from {spec.item_texts.__module__}.{getattr(spec.item_texts, '__name__', '?')}"
  return spec.describe_text(root, name)
