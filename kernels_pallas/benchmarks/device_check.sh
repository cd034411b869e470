#!/usr/bin/env bash
# The one-command device check (issue 10): the Pallas kernels natively on an accelerator, then the
# attention benchmark (Pallas against XLA on the model shapes). Run from the repository root on the
# accelerator machine, with the machine's own JAX (the `device` tool's nvidia-h200 image has jax and
# flax; nothing is installed):
#   bash kernels_pallas/benchmarks/device_check.sh            # figures under $OUT (default /tmp/device_check)
# Under ten minutes on one H200: pytest -m gpu over the kernel tests (forward and gradients against the
# reference) and the attention benchmark at bfloat16. If both show the kernels correct and at least as
# fast as XLA, add the platform to PALLAS_VERIFIED_PLATFORMS (kernels_pallas/attention/op.py) and record
# the figures in BENCHMARKS.md.
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
OUT="${OUT:-/tmp/device_check}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
"$PY" -c "import jax, flax; print('jax', jax.__version__, 'flax', flax.__version__, jax.devices())" 2>&1 | tee "$OUT/devices.txt"
timeout 300 "$PY" -m pytest -m gpu -q -p no:cacheprovider tests/kernels_pallas 2>&1 | tee "$OUT/pytest_gpu.log"
tests_rc=${PIPESTATUS[0]}
timeout 240 "$PY" -m kernels_pallas.benchmarks.attention_bench --out="$OUT/attention_bench.json" 2>&1 | tee "$OUT/attention_bench.log"
bench_rc=${PIPESTATUS[0]}
echo "device check: tests exit $tests_rc, benchmark exit $bench_rc (figures in $OUT)"
exit $(( tests_rc != 0 || bench_rc != 0 ))
