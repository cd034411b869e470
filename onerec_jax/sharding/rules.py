"""Logical-axis sharding rules and the device mesh.

Layers name the axes of every weight and activation logically ('embed', 'mlp', 'heads', ...). Only this
file knows the mesh axes. A rule set is data: a tuple of (logical name, mesh axis or axes or None).
Swapping the rule set changes the parallelism (data, FSDP, expert, tensor) without touching a layer.

Mesh axes:
  data:   pure data parallelism (parameters replicated).
  fsdp:   data parallelism with parameters sharded over it (ZeRO-3 style).
  expert: experts of mixture-of-experts layers are split over it; batch is split too.
  tensor: Megatron-style tensor parallelism of heads and feed-forward width.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence

import jax
import numpy as np
from flax import nnx
from flax.core import spmd
from flax.typing import Initializer
from jax.sharding import AxisType, PartitionSpec

MESH_AXES = ("data", "fsdp", "expert", "tensor")

# name -> rules. Weights: embed, mlp, heads, kv, vocab, expert, table.
# Activations: act_batch, act_length, act_embed, act_heads, act_mlp.
RULE_SETS: dict[str, tuple[tuple[str, str | tuple[str, ...] | None], ...]] = {
  # The default: batch over every data-like axis; weights sharded over fsdp and tensor.
  "fsdp_tp": (
    ("act_batch", ("data", "fsdp", "expert")),
    ("act_length", None),
    ("act_embed", None),
    ("act_heads", "tensor"),
    ("act_mlp", "tensor"),
    ("embed", "fsdp"),
    ("mlp", "tensor"),
    ("heads", "tensor"),
    ("kv", None),
    ("vocab", "tensor"),
    ("expert", "expert"),
    ("table", "fsdp"),
    ("queries", None),
  ),
  # Plain data parallelism: every weight replicated.
  "data_parallel": (
    ("act_batch", ("data", "fsdp", "expert")),
    ("act_length", None),
    ("act_embed", None),
    ("act_heads", None),
    ("act_mlp", None),
    ("embed", None),
    ("mlp", None),
    ("heads", None),
    ("kv", None),
    ("vocab", None),
    ("expert", None),
    ("table", None),
    ("queries", None),
  ),
}


def make_mesh(shape: Sequence[int] | None = None, devices: Sequence[jax.Device] | None = None) -> jax.sharding.Mesh:
  """Builds a mesh over MESH_AXES with Auto axis types.

  Args:
    shape: sizes of (data, fsdp, expert, tensor); -1 in at most one place takes the remaining devices.
      None puts every device on the data axis.
    devices: devices to use; default all.

  Returns:
    A `jax.sharding.Mesh` whose axes are MESH_AXES.
  """
  devices = list(devices if devices is not None else jax.devices())
  n = len(devices)
  shape = list(shape) if shape is not None else [-1, 1, 1, 1]
  if len(shape) != len(MESH_AXES):
    raise ValueError(f"mesh shape {shape} must have {len(MESH_AXES)} entries for axes {MESH_AXES}")
  if shape.count(-1) > 1:
    raise ValueError(f"mesh shape {shape}: at most one -1 is allowed")
  known = math.prod(s for s in shape if s != -1)
  if -1 in shape:
    if n % known:
      raise ValueError(f"mesh shape {shape}: {n} devices are not divisible by {known}")
    shape[shape.index(-1)] = n // known
  if math.prod(shape) != n:
    raise ValueError(f"mesh shape {shape} needs {math.prod(shape)} devices, {n} are available")
  return jax.sharding.Mesh(np.asarray(devices).reshape(shape), MESH_AXES, axis_types=(AxisType.Auto,) * len(MESH_AXES))


@contextlib.contextmanager
def mesh_context(mesh: jax.sharding.Mesh, rules: str = "fsdp_tp") -> Iterator[jax.sharding.Mesh]:
  """Sets the mesh and the logical-axis rules; build and run models inside it."""
  if rules not in RULE_SETS:
    raise ValueError(f"unknown sharding rules {rules!r}; known: {sorted(RULE_SETS)}")
  with jax.set_mesh(mesh), spmd.logical_axis_rules(RULE_SETS[rules]):
    yield mesh


def with_logical_constraint(x: jax.Array, logical_axes: Sequence[str | None]) -> jax.Array:
  """Activation sharding constraint by logical names; a no-op outside a mesh with rules."""
  rules = spmd.get_logical_axis_rules()
  if not rules:
    return x
  spec = PartitionSpec(*spmd.from_sharding_rules(tuple(logical_axes), rules))
  return jax.lax.with_sharding_constraint(x, spec)


def logical_init(initializer: Initializer, names: Sequence[str | None]) -> Initializer:
  """Wraps `initializer` so the `nnx.Param` built from it records logical axis `names`.

  Flax 0.12.8 shards a variable eagerly at creation when its metadata has `out_sharding`, and raises
  if no mesh is set. Eager sharding is therefore switched on only when a mesh is set at construction
  time; without one the names are still recorded (`nnx.get_partition_spec` sees them).

  Args:
    initializer: any `(key, shape, dtype) -> array` initializer.
    names: one logical axis name (or None, replicated) per weight dimension.

  Returns:
    An initializer whose output `nnx.Param(...)` turns into a variable with `out_sharding=names`.
  """
  eager = not jax.sharding.get_abstract_mesh().empty
  return nnx.with_partitioning(initializer, tuple(names), eager_sharding=eager)


def replicated(tree) -> jax.sharding.Sharding | None:
  """A fully replicated sharding on the mesh of `tree`'s first array (None if it has no mesh).

  Outputs that go to the host (generated items, scores) are gathered to every process this way: a
  multi-host array split over other processes' devices cannot be read with np.asarray.
  """
  for leaf in jax.tree.leaves(tree):
    sharding = getattr(leaf, "sharding", None)
    if isinstance(sharding, jax.sharding.NamedSharding):
      return jax.sharding.NamedSharding(sharding.mesh, PartitionSpec())
  return None
