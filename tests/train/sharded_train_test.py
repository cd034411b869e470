"""Training on a 4-device mesh (fsdp x tensor, and expert) matches one device (simulated CPU devices)."""

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

    config = registry.get("onerec_synthetic_tiny")
    config.validate()
    task = make_task(config, None)
    out = {}
    for name, shape, devices in (("single", (1, 1, 1, 1), jax.devices()[:1]),
                                 ("fsdp_tp", (1, 2, 1, 2), None), ("expert", (1, 1, 4, 1), None)):
      mesh = make_mesh(shape, devices)
      with mesh_context(mesh, "fsdp_tp"):
        graphdef, state, tx = build_state(task, config)
        step = jax.jit(make_train_step(graphdef, tx, task.loss, router_bias_step=1e-3))
        losses = []
        for i in range(2):
          batch = task.batch(np.arange(16 * i, 16 * (i + 1)))
          state, metrics = step(state, shard_batch(batch, mesh))
          losses.append(float(metrics["loss"]))
        moe = state.params["decoder_layers"][0]["ffn"]["ffn"]["w_gate"]
        out[name] = {"losses": losses, "w_gate_spec": str(moe[...].sharding.spec)}
    print("RESULT" + json.dumps(out))
""")


@pytest.mark.slow
def test_sharded_training_matches_single_device():
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
  proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=root, capture_output=True, text=True,
                        timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  import json
  result = json.loads(proc.stdout.split("RESULT", 1)[1])
  single = result["single"]["losses"]
  for name in ("fsdp_tp", "expert"):
    assert result[name]["losses"] == pytest.approx(single, rel=2e-4), (name, result)
  assert result["fsdp_tp"]["w_gate_spec"] == "P(None, 'fsdp', 'tensor')"
  assert result["expert"]["w_gate_spec"] == "P('expert',)"
