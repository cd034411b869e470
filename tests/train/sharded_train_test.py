"""Training on simulated CPU devices matches one device: FSDP x tensor, and expert parallelism (tokens
all-to-all'd to the devices that hold their experts)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json, sys
    import jax, numpy as np
    from experiments import registry
    from onerec_jax.sharding.rules import make_mesh, mesh_context
    from onerec_jax.train.checkpointing import build_state
    from onerec_jax.train.families import make_task
    from onerec_jax.train.trainer import shard_batch
    from onerec_jax.train.train_step import make_train_step
    from onerec_jax.layers.moe import _expert_shards

    config = registry.get("onerec_synthetic_tiny")
    # No slot dropped on any mesh (capacity = every slot), so every layout computes the same function.
    config.model.capacity_factor = float(config.model.num_experts)
    config.validate()
    task = make_task(config, None)
    out = {}
    for name, shape, devices in (("single", (1, 1, 1, 1), jax.devices()[:1]),
                                 ("fsdp_tp", (1, 2, 1, 2), jax.devices()[:4]),
                                 ("expert", (1, 1, 4, 1), jax.devices()[:4]),
                                 ("data_fsdp_expert", (2, 2, 2, 1), None)):
      mesh = make_mesh(shape, devices)
      with mesh_context(mesh, "fsdp_tp"):
        graphdef, state, tx = build_state(task, config)
        step = jax.jit(make_train_step(graphdef, tx, task.loss, router_bias_step=1e-3))
        losses = []
        for i in range(2):
          batch = shard_batch(task.batch(np.arange(16 * i, 16 * (i + 1))), mesh)
          if i == 0:
            hlo = step.lower(state, batch).compile().as_text()
          state, metrics = step(state, batch)
          losses.append(float(metrics["loss"]))
        moe = state.params["decoder_layers"][0]["ffn"]["ffn"]["w_gate"]
        bias = state.rest["decoder_layers"][0]["ffn"]["ffn"]["router_bias"]
        out[name] = {"losses": losses, "expert_shards": _expert_shards(config.model.num_experts, 16), "w_gate_spec": str(moe[...].sharding.spec),
                     "all_to_all": hlo.count("all-to-all"), "router_bias": np.asarray(bias[...]).tolist()}
    config.model.capacity_factor = 0.0  # dropless ragged dispatch cannot be exchanged in fixed buffers
    task = make_task(config, None)
    mesh = make_mesh((1, 1, 4, 1), jax.devices()[:4])
    with mesh_context(mesh, "fsdp_tp"):
      graphdef, state, tx = build_state(task, config)
      try:
        jax.jit(make_train_step(graphdef, tx, task.loss))(state, shard_batch(task.batch(np.arange(16)), mesh))
        out["no_capacity"] = "ran"
      except ValueError as e:
        out["no_capacity"] = str(e)
    print("RESULT" + json.dumps(out))
""")


@pytest.mark.slow
def test_sharded_training_matches_single_device():
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
  proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=root, capture_output=True, text=True, timeout=900)
  assert proc.returncode == 0, proc.stderr[-3000:]
  result = json.loads(proc.stdout.split("RESULT", 1)[1])
  single = result["single"]
  for name in ("fsdp_tp", "expert", "data_fsdp_expert"):
    assert result[name]["losses"] == pytest.approx(single["losses"], rel=2e-4), (name, result)
    assert result[name]["router_bias"] == pytest.approx(single["router_bias"], abs=1e-6), name
  assert result["fsdp_tp"]["w_gate_spec"] == "P(None, 'fsdp', 'tensor')"
  assert result["expert"]["w_gate_spec"] == "P('expert',)"
  # The expert meshes took the expert-parallel path, which dispatches by all-to-all (two per MoE layer
  # forward, two more in the backward); one device has no collective at all.
  assert result["expert"]["expert_shards"] == 4 and result["data_fsdp_expert"]["expert_shards"] == 2
  assert result["single"]["expert_shards"] == result["fsdp_tp"]["expert_shards"] == 1
  assert result["expert"]["all_to_all"] >= 4 and result["data_fsdp_expert"]["all_to_all"] >= 4
  assert result["single"]["all_to_all"] == 0
  assert "needs model.capacity_factor > 0" in result["no_capacity"]
