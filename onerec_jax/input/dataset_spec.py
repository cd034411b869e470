"""What a dataset is to the rest of the library: one `DatasetSpec`, defined next to its loader.

A loader module of `onerec_jax/input/` lists its datasets in a module-level `SPECS` tuple (movielens.py:
ml1m and ml100k; amazon.py: amazon_<category>; kuairand.py; synthetic.py); `onerec_jax.input.datasets`
finds every such module, so adding a dataset is one spec in one file. A spec says how to load the data
(`load`), where its item text comes from (`item_texts`, `describe_text`; the tokenizer's text embeddings
use them), which evaluation protocol its published numbers use, and what it is in one line. The TFDS
builders (data/tfds_builders.py) are derived from the same specs.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import numpy as np

from onerec_jax.input.interactions import LoadedDataset

NO_TEXT = (
  "has no item text; use --vectors=collaborative, --vectors=side (the loader's side-information "
  "vector) or --vectors=FILE.npy"
)


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """One dataset (or a family of them, by a name pattern) as the registry knows it.

  Attributes:
    name: the dataset name (`ml1m`), or a pattern with one `<placeholder>` at the end (`amazon_<category>`)
      matching the prefix followed by any non-empty rest (`amazon_beauty`, `amazon_sports`).
    load: (data root, dataset name) -> LoadedDataset; raises interactions.DataError for missing or
      malformed files.
    item_texts: (data root, dataset name, raw item ids [i]) -> one text per item in that order (see
      `texts_in_order`); None for a dataset without item text.
    describe_text: (data root, dataset name) -> one line naming the files and columns `item_texts` reads.
    protocol: the evaluation protocol of the dataset's published numbers ('tiger', 'hstu'; '' = none).
    description: one line (what the data is, which folder it is read from).
    list_names: for a pattern: data root ('' when none is configured) -> the names to list in
      `dataset_names()` (e.g. one per folder found).
    from_config: for a dataset made from the DataConfig rather than read from files (the simulator):
      DataConfig -> LoadedDataset, used instead of `load`, and no data directory is needed.
  """

  name: str
  load: Callable[[str, str], LoadedDataset]
  item_texts: Callable[[str, str, Sequence], list[str]] | None = None
  describe_text: Callable[[str, str], str] | None = None
  protocol: str = ""
  description: str = ""
  list_names: Callable[[str], Sequence[str]] | None = None
  from_config: Callable[[Any], LoadedDataset] | None = None

  def __post_init__(self):
    if not self.name or self.name.count("<") > 1 or ("<" in self.name and not self.name.endswith(">")):
      raise ValueError(f"DatasetSpec name {self.name!r}: a name, or a prefix + one trailing <placeholder>")
    if self.protocol not in ("", "tiger", "hstu"):
      raise ValueError(f"DatasetSpec {self.name!r}: protocol must be '', 'tiger' or 'hstu', got {self.protocol!r}")

  @property
  def is_pattern(self) -> bool:
    return "<" in self.name

  @property
  def prefix(self) -> str:
    """The fixed part of the name (all of it for a plain name)."""
    return self.name.split("<", 1)[0]

  @property
  def has_text(self) -> bool:
    return self.item_texts is not None

  @property
  def reads_files(self) -> bool:
    """Whether the dataset is read from a data directory (False: made from the config)."""
    return self.from_config is None

  def matches(self, name: str) -> bool:
    if not self.is_pattern:
      return name == self.name
    return name.startswith(self.prefix) and len(name) > len(self.prefix)


def texts_in_order(dataset: str, texts: dict, raw_ids: Sequence, item_file: str = "the item file") -> list[str]:
  """`texts[raw]` for every raw id, in order; a missing item is a ValueError naming it.

  Integer ids (numpy or Python) are looked up as int; a string is looked up as given first, then as an int
  when it is all digits (so '12' finds a MovieLens id, and an all-digit ASIN still finds itself).
  """
  out = []
  for raw in raw_ids:
    if isinstance(raw, (int, np.integer)):
      keys = (int(raw),)
    else:
      keys = (str(raw), int(raw)) if str(raw).isdigit() else (str(raw),)
    key = next((k for k in keys if k in texts), None)
    if key is None:
      raise ValueError(f"{dataset}: item {keys[0]!r} has no entry in {item_file}")
    out.append(texts[key])
  return out


def read_text_lines(path: str, encoding: str = "utf-8") -> list[str]:
  """The non-blank lines of a text file, without their line ends."""
  with open(path, encoding=encoding) as f:
    return [line.rstrip("\n").rstrip("\r") for line in f if line.strip()]
