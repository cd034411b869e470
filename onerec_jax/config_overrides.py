"""Typed `--config.<path>=<value>` overrides and JSON round-trips of nested config dataclasses.

Values are parsed by the field's declared type (int, float, bool, str, tuples of those, nested
dataclasses); an unknown field fails with the nearest valid names, a bad value names the field and the
expected type.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import typing
from collections.abc import Iterable, Sequence
from typing import Any

CONFIG_PREFIX = "--config."


def _hints(cls) -> dict[str, Any]:
  return typing.get_type_hints(cls)


def _parse(value: str, tp: Any, path: str) -> Any:
  origin = typing.get_origin(tp)
  if tp is bool:
    low = value.strip().lower()
    if low in ("1", "true", "yes", "t"):
      return True
    if low in ("0", "false", "no", "f"):
      return False
    raise ValueError(f"--config.{path}: expected a bool (true/false), got {value!r}")
  if tp in (int, float):
    try:
      parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
      raise ValueError(f"--config.{path}: expected {tp.__name__}, got {value!r}") from None
    if isinstance(parsed, bool) or not isinstance(parsed, (int, float)) or (tp is int and not isinstance(parsed, int)):
      raise ValueError(f"--config.{path}: expected {tp.__name__}, got {value!r}")
    return tp(parsed)
  if tp is str:
    return value
  if origin is tuple:
    args = typing.get_args(tp)
    elem = args[0] if args else str
    text = value.strip()
    if text.startswith("(") or text.startswith("["):
      text = text[1:-1]
    items = [t.strip() for t in text.split(",") if t.strip()]
    return tuple(_parse(t, elem, path) for t in items)
  if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
    errors = []
    for option in typing.get_args(tp):
      if option is type(None):
        if value.lower() == "none":
          return None
        continue
      try:
        return _parse(value, option, path)
      except ValueError as e:
        errors.append(str(e))
    raise ValueError(f"--config.{path}: {value!r} matches none of {tp}")
  raise ValueError(f"--config.{path}: cannot parse a value of type {tp} from the command line")


def _resolve(config: Any, path: str) -> tuple[Any, str, Any]:
  """(holder dataclass, field name, field type) for a dotted path."""
  parts = path.split(".")
  holder = config
  for i, name in enumerate(parts):
    if not dataclasses.is_dataclass(holder):
      raise ValueError(f"--config.{'.'.join(parts[:i])} is a value, not a section; cannot set {path!r}")
    names = [f.name for f in dataclasses.fields(holder)]
    if name not in names:
      prefix = ".".join(parts[:i])
      candidates = [f"{prefix}.{n}" if prefix else n for n in names]
      close = difflib.get_close_matches(".".join(parts[: i + 1]), candidates, n=3, cutoff=0.5)
      hint = f" Did you mean: {', '.join(close)}?" if close else f" Valid: {', '.join(candidates)}."
      raise ValueError(f"unknown config field {path!r}.{hint}")
    if i == len(parts) - 1:
      return holder, name, _hints(type(holder))[name]
    holder = getattr(holder, name)
  raise AssertionError


def apply_overrides(config: Any, overrides: Iterable[str]) -> Any:
  """Applies 'a.b.c=value' strings (leading '--config.' optional) to a nested dataclass in place."""
  for item in overrides:
    text = item[len(CONFIG_PREFIX) :] if item.startswith(CONFIG_PREFIX) else item
    if "=" not in text:
      raise ValueError(f"config override {item!r} must look like --config.section.field=value")
    path, value = text.split("=", 1)
    holder, name, tp = _resolve(config, path)
    if dataclasses.is_dataclass(getattr(holder, name)):
      raise ValueError(f"--config.{path} is a section; set one of its fields")
    setattr(holder, name, _parse(value, tp, path))
  return config


def split_config_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
  """Separates '--config.x=y' arguments from the rest (absl parses the rest)."""
  overrides = [a for a in argv if a.startswith(CONFIG_PREFIX)]
  rest = [a for a in argv if not a.startswith(CONFIG_PREFIX)]
  return rest, overrides


def to_dict(config: Any) -> dict:
  """A JSON-ready dict of a nested dataclass."""
  return dataclasses.asdict(config)


def from_dict(cls: type, data: dict) -> Any:
  """Rebuilds a nested dataclass from `to_dict` output (lists become the declared tuples)."""
  hints = _hints(cls)
  kwargs = {}
  for f in dataclasses.fields(cls):
    if f.name not in data:
      continue
    tp, value = hints[f.name], data[f.name]
    if dataclasses.is_dataclass(tp):
      value = from_dict(tp, value)
    elif typing.get_origin(tp) is tuple:
      value = tuple(value)
    kwargs[f.name] = value
  unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
  if unknown:
    raise ValueError(f"{cls.__name__}: unknown fields {sorted(unknown)} in saved config")
  return cls(**kwargs)
