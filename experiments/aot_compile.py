r"""Ahead-of-time compilation of the train step and the generation step on simulated device meshes.

  python -m experiments.aot_compile [--experiments=onerec_synthetic_0015b,onerec_synthetic_0121b] \
      [--layouts=data_parallel,fsdp,fsdp_expert,fsdp_tensor] [--devices=8] \
      [--out=experiments/results/aot_compile.json] [--write_golden=tests/data/golden_partition_specs.json]

Nothing is allocated or run: the model, optimiser state and batches are abstract (shapes, dtypes and
named shardings), the steps are lowered and compiled by XLA for `--devices` simulated CPU devices, and
XLA's memory analysis gives the bytes per device (arguments = state + batch, temporaries, outputs, and
what donation aliases). Layouts (mesh data x fsdp x expert x tensor, rule table):
  data_parallel  8 x 1 x 1 x 1, data_parallel rules (every weight replicated)
  fsdp           1 x 8 x 1 x 1, fsdp_tp rules
  fsdp_expert    1 x 4 x 2 x 1, fsdp_tp rules (expert-parallel MoE; capacity_factor 1.25 if unset)
  fsdp_tensor    1 x 4 x 1 x 2, fsdp_tp rules
The data-dependent model fields (catalogue, vocabularies) come from the experiment's simulator config,
so no world is simulated. `partition_specs` (logical names -> mesh axes per parameter, no compilation)
is what tests/experiments/aot_compile_test.py compares with the golden file, so a sharding change is seen.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # simulated devices must be requested before JAX starts
  _n = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--devices=")), "8")
  os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={_n}")
  os.environ.setdefault("JAX_PLATFORMS", "cpu")

import dataclasses
import json
import time

import jax
import jax.numpy as jnp
from absl import app, flags, logging
from flax import nnx
from flax.core import spmd
from jax.sharding import NamedSharding, PartitionSpec as P

from experiments import common_flags, registry

LAYOUTS: dict[str, tuple[tuple[int, int, int, int], str]] = {
  "data_parallel": ((8, 1, 1, 1), "data_parallel"),
  "fsdp": ((1, 8, 1, 1), "fsdp_tp"),
  "fsdp_expert": ((1, 4, 2, 1), "fsdp_tp"),
  "fsdp_tensor": ((1, 4, 1, 2), "fsdp_tp"),
}
SERIES = (
  "onerec_synthetic_tiny",
  "onerec_synthetic_0015b",
  "onerec_synthetic_0121b",
  "onerec_synthetic_0935b",
  "onerec_synthetic_2633b",
)

_EXPERIMENTS = common_flags.EXPERIMENTS  # default: the first three sizes of SERIES
_LAYOUTS = flags.DEFINE_list("layouts", list(LAYOUTS), f"mesh layouts: {list(LAYOUTS)}")
flags.DEFINE_integer("devices", 8, "simulated CPU devices (read before JAX starts)")
_GOLDEN = flags.DEFINE_string("write_golden", None, "also write the partition specs of every series size here")
_OUT = common_flags.OUT


def abstract_model_config(config):
  """The experiment's ModelConfig with the data fields filled from its config alone (no data built).

  Simulator worlds: catalogue and vocabularies from SimulatorConfig; semantic IDs of tokenizer.num_levels
  codes plus the disambiguation token (dedup='extra_token'), one shared width of codebook_size.
  """
  sim, tok = config.data.simulator, config.tokenizer
  from onerec_jax.input.sequences import FEEDBACK_NAMES

  levels = tok.id_length
  return dataclasses.replace(
    config.model,
    num_items=sim.num_items,
    num_users=sim.num_users,
    num_categories=sim.num_categories,
    num_authors=sim.num_authors,
    static_vocab_sizes=(7, 2, 4),
    num_feedback=len(FEEDBACK_NAMES),
    num_sid_levels=levels,
    sid_vocab_size=tok.codebook_size,
  )


def _mesh_for(layout: str, devices=None):
  from onerec_jax.sharding.rules import make_mesh

  shape, rules = LAYOUTS[layout]
  return make_mesh(shape, devices), rules


def partition_specs(model_config, rules: str) -> dict[str, str]:
  """{parameter path: mesh PartitionSpec} of the model under a rule table (abstract, no devices)."""
  from onerec_jax.models.onerec import OneRec
  from onerec_jax.sharding.rules import RULE_SETS

  model = nnx.eval_shape(lambda: OneRec(model_config, rngs=nnx.Rngs(0)))
  logical = nnx.get_partition_spec(nnx.state(model, nnx.Param))
  out = {}
  for path, spec in jax.tree_util.tree_flatten_with_path(logical, is_leaf=lambda x: isinstance(x, P))[0]:
    names = tuple(spec) if isinstance(spec, P) else ()
    mesh_axes = spmd.from_sharding_rules(names, RULE_SETS[rules]) if names else ()
    parts = [str(getattr(k, "key", getattr(k, "idx", getattr(k, "name", k)))) for k in path]
    key = "/".join(p for p in parts if p != "value")
    out[key] = str(P(*mesh_axes))
  return out


def _pathway(b: int, n: int, mc, sharding):
  from onerec_jax.input.batches import Pathway

  s = lambda shape, dtype: jax.ShapeDtypeStruct(shape, dtype, sharding=sharding(len(shape)))
  return Pathway(
    items=s((b, n), jnp.int32),
    sids=s((b, n, mc.num_sid_levels), jnp.int32),
    category=s((b, n), jnp.int32),
    author=s((b, n), jnp.int32),
    feedback=s((b, n, mc.num_feedback), jnp.float32),
  )


def abstract_batch(mc, b: int, mesh, train: bool = True):
  """A OneRecBatch of ShapeDtypeStructs, batch axis over the data-like mesh axes."""
  from onerec_jax.input.batches import OneRecBatch
  from onerec_jax.train.trainer import BATCH_AXES

  sharding = lambda ndim: NamedSharding(mesh, P(BATCH_AXES, *([None] * (ndim - 1))))
  s = lambda shape, dtype: jax.ShapeDtypeStruct(shape, dtype, sharding=sharding(len(shape)))
  m, l = mc.targets_per_window, mc.num_sid_levels
  target = mask = None
  if train:
    target = s((b, m, l) if m else (b, l), jnp.int32)
    mask = s((b, m), jnp.bool_) if m else None
  return OneRecBatch(
    user_id=s((b,), jnp.int32),
    static=s((b, len(mc.static_vocab_sizes)), jnp.int32),
    short=_pathway(b, mc.short_len, mc, sharding),
    positive=_pathway(b, mc.positive_len, mc, sharding) if mc.positive_len else None,
    lifelong=_pathway(b, mc.lifelong_len, mc, sharding) if mc.lifelong_len else None,
    target_sid=target,
    target_mask=mask,
  )


def _memory(compiled) -> dict:
  m = compiled.memory_analysis()
  if m is None:
    return {}
  out = {
    "arguments": m.argument_size_in_bytes,
    "temporaries": m.temp_size_in_bytes,
    "outputs": m.output_size_in_bytes,
    "aliased": m.alias_size_in_bytes,
  }
  out["peak_estimate"] = out["arguments"] + out["temporaries"] + out["outputs"] - out["aliased"]
  return out


def compile_experiment(name: str, layout: str, devices=None) -> dict:
  """Lowers and compiles the train step and the generation step of `name` on `layout`; no execution."""
  from onerec_jax.evaluation.evaluator import make_generate_fn
  from onerec_jax.models.onerec import OneRec
  from onerec_jax.models.parameter_count import count_parameters
  from onerec_jax.sharding.rules import mesh_context
  from onerec_jax.train.onerec_task import onerec_loss
  from onerec_jax.train.optimizer import make_optimizer
  from onerec_jax.train.train_step import init_state, make_train_step

  config = registry.get(name)
  mc = abstract_model_config(config)
  if layout == "fsdp_expert" and mc.num_experts and not mc.capacity_factor:
    mc = dataclasses.replace(mc, capacity_factor=1.25)  # expert-parallel dispatch needs a capacity
  mesh, rules = _mesh_for(layout, devices)
  tc, ec = config.train, config.eval
  tx = make_optimizer(tc)
  result = {
    "experiment": name,
    "layout": layout,
    "mesh": dict(mesh.shape),
    "rules": rules,
    "capacity_factor": mc.capacity_factor,
  }
  with mesh_context(mesh, rules):
    t = time.time()
    build = jax.jit(lambda: init_state(OneRec(mc, rngs=nnx.Rngs(0)), tx)[1])
    lowered = build.lower()
    shardings = lowered.compile().output_shardings
    state = jax.tree.map(
      lambda info, sh: jax.ShapeDtypeStruct(info.shape, info.dtype, sharding=sh), lowered.out_info, shardings
    )
    graphdef = nnx.graphdef(nnx.eval_shape(lambda: OneRec(mc, rngs=nnx.Rngs(0))))
    result["parameters"] = count_parameters(
      state.params, mc.num_experts, mc.num_experts_per_token if mc.num_experts else 0
    )
    loss = lambda model, batch, step: onerec_loss(model, batch, tc.loss_reduction)
    step = jax.jit(
      make_train_step(graphdef, tx, loss, router_bias_step=mc.router_bias_step if mc.num_experts else 0.0),
      out_shardings=(shardings, None),
      donate_argnums=(0,),
    )
    train = step.lower(state, abstract_batch(mc, tc.batch_size, mesh)).compile()
    result["train_step"] = {
      "batch_size": tc.batch_size,
      "memory_bytes_per_device": _memory(train),
      "compile_seconds": time.time() - t,
    }
    t = time.time()
    users = ec.batch_size
    nodes = 1 + mc.num_items * mc.num_sid_levels  # the trie's node count is at most this
    trie = (
      jax.ShapeDtypeStruct((nodes, mc.sid_vocab_size), jnp.int32, sharding=NamedSharding(mesh, P())),
      jax.ShapeDtypeStruct((nodes,), jnp.int32, sharding=NamedSharding(mesh, P())),
    )
    generate = make_generate_fn(graphdef, ec.num_beams, NamedSharding(mesh, P()))
    gen = generate.lower(state, abstract_batch(mc, users, mesh, train=False), *trie).compile()
    result["generate_step"] = {
      "users": users,
      "beams": ec.num_beams,
      "memory_bytes_per_device": _memory(gen),
      "compile_seconds": time.time() - t,
    }
  logging.warning(
    "%s on %s: %.1fM params; train step %.1f MiB per device, generation %.1f MiB per device",
    name,
    layout,
    result["parameters"]["total"] / 1e6,
    result["train_step"]["memory_bytes_per_device"].get("peak_estimate", 0) / 2**20,
    result["generate_step"]["memory_bytes_per_device"].get("peak_estimate", 0) / 2**20,
  )
  return result


def golden_specs(names=SERIES) -> dict:
  """{experiment: {layout: {parameter path: PartitionSpec string}}} (what the golden file holds)."""
  out = {}
  for name in names:
    mc = abstract_model_config(registry.get(name))
    out[name] = {
      layout: partition_specs(mc, rules)
      for layout, (_, rules) in LAYOUTS.items()
      if layout in ("data_parallel", "fsdp")
    }  # the two rule tables; the mesh only sizes them
  return out


def main(argv):
  del argv
  if jax.device_count() < 8:
    raise app.UsageError(
      f"{jax.device_count()} devices; run as `python -m experiments.aot_compile` so that "
      "the simulated devices are requested before JAX starts"
    )
  results = {
    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    "devices": jax.device_count(),
    "runs": [
      compile_experiment(n, layout) for n in (_EXPERIMENTS.value or list(SERIES[:3])) for layout in _LAYOUTS.value
    ],
  }
  out = _OUT.value or "experiments/results/aot_compile.json"
  os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
  with open(out, "w") as f:
    json.dump(results, f, indent=1)
  if _GOLDEN.value:
    with open(_GOLDEN.value, "w") as f:
      json.dump(golden_specs(), f, indent=1, sort_keys=True)
  for r in results["runs"]:
    train = r["train_step"]["memory_bytes_per_device"].get("peak_estimate", 0)
    gen = r["generate_step"]["memory_bytes_per_device"].get("peak_estimate", 0)
    print(
      f"{r['experiment']:<24} {r['layout']:<14} params {r['parameters']['total'] / 1e6:9.1f}M  "
      f"train {train / 2**20:10.1f} MiB/device  generate {gen / 2**20:10.1f} MiB/device"
    )


if __name__ == "__main__":
  logging.set_verbosity(logging.WARNING)
  app.run(main)
