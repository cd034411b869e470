"""The attention benchmark in a quick mode (CI): every implementation timed, Pallas in interpret mode on CPU."""

import jax.numpy as jnp

from kernels_pallas.benchmarks import attention_bench


def test_rows_for_every_impl_and_pass():
  rows = attention_bench.run_benchmark(
    ["reference", "xla", "pallas"], [16], batch=1, warmup=0, runs=1, dtype=jnp.float32
  )
  impls = {r["impl"] for r in rows}
  assert {"reference", "xla"} <= impls and ("pallas(interpret)" in impls or "pallas" in impls)
  assert {(r["causal"], r["mode"]) for r in rows} == {(c, m) for c in (False, True) for m in ("fwd", "fwd+bwd")}
  assert all(r["ms"] > 0 and r["vs_xla"] > 0 for r in rows)
  assert "|" in attention_bench.to_markdown(rows)
