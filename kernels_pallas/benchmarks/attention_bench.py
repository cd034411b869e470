r"""Times every `kernels_pallas.attention` implementation over the OneRec model shapes.

Runbook:
  # On a GPU/TPU host (about 5-10 minutes):
  python -m kernels_pallas.benchmarks.attention_bench --out=/tmp/attention_bench.md
  # On CPU (a few minutes; Pallas only in interpret mode on the tiniest shape, labelled so):
  python -m kernels_pallas.benchmarks.attention_bench --quick --out=/tmp/attention_bench.json

For every (model size, length, causal, pass) it compiles each implementation, runs `--warmup`
untimed calls, then reports the median of `--runs` timed calls (each ended by block_until_ready),
the achieved TFLOP/s and the speed relative to 'xla' (>1 means faster than xla). FLOPs count the
two matmuls of the forward pass (4 b h t s k, halved when causal) and 2.5x that for the backward
pass, the usual flash-attention convention. `--out` ending in .json writes JSON, otherwise markdown.
"""

import json
import statistics
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp

import kernels_pallas

_OUT = flags.DEFINE_string('out', None, 'Where to write the table (.json or markdown).')
_QUICK = flags.DEFINE_bool('quick', False, 'Small settings: CPU smoke run in a few minutes.')
_IMPLS = flags.DEFINE_list('impls', ['reference', 'xla', 'pallas'], 'Implementations to time.')
_LENGTHS = flags.DEFINE_list('lengths', ['64', '256', '1024', '2048'], 'Sequence lengths (t = s).')
_BATCH = flags.DEFINE_integer('batch', 8, 'Batch size.')
_WARMUP = flags.DEFINE_integer('warmup', 2, 'Untimed calls after compiling.')
_RUNS = flags.DEFINE_integer('runs', 10, 'Timed calls; the median is reported.')
_DTYPE = flags.DEFINE_enum('dtype', 'bfloat16', ['bfloat16', 'float32'], 'Input dtype.')

# (name, d_model, heads): the model sizes of onerec_jax (tiny and full).
MODEL_SIZES = (('d128_h4', 128, 4), ('d1024_h8', 1024, 8))
# Interpret-mode Pallas on CPU is a correctness tool; time it only on this small a problem.
_CPU_INTERPRET_MAX_LEN = 64


def _flops(b, t, s, h, d, causal, backward):
  fwd = 4 * b * h * t * s * d * (0.5 if causal else 1.0)
  return fwd * (3.5 if backward else 1.0)


def _build(impl, causal, backward, interpret):
  def fwd(q, k, v):
    return kernels_pallas.attention(q, k, v, causal=causal, impl=impl, interpret=interpret)

  if not backward:
    return jax.jit(fwd)
  return jax.jit(jax.grad(lambda q, k, v: jnp.sum(fwd(q, k, v).astype(jnp.float32)), argnums=(0, 1, 2)))


def _time(fn, args, warmup, runs):
  jax.block_until_ready(fn(*args))  # compile
  for _ in range(warmup):
    jax.block_until_ready(fn(*args))
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def run_benchmark(impls, lengths, batch, warmup, runs, dtype):
  """Returns one dict per (model size, length, causal, pass, impl) row."""
  platform = jax.devices()[0].platform
  rows = []
  for size_name, d_model, heads in MODEL_SIZES:
    head_dim = d_model // heads
    for length in lengths:
      keys = jax.random.split(jax.random.key(length), 3)
      q, k, v = (jax.random.normal(key, (batch, length, heads, head_dim), dtype) for key in keys)
      for causal in (False, True):
        for backward in (False, True):
          times = {}
          for impl in impls:
            interpret = False
            label = impl
            if impl == 'pallas' and platform == 'cpu':
              if length > _CPU_INTERPRET_MAX_LEN or d_model > 128:
                continue
              interpret, label = True, 'pallas(interpret)'
            seconds = _time(_build(impl, causal, backward, interpret), (q, k, v), warmup, runs)
            times[label] = seconds
            flops = _flops(batch, length, length, heads, head_dim, causal, backward)
            rows.append(
              dict(
                platform=platform,
                model=size_name,
                batch=batch,
                length=length,
                heads=heads,
                head_dim=head_dim,
                dtype=str(jnp.dtype(dtype)),
                causal=causal,
                mode='fwd+bwd' if backward else 'fwd',
                impl=label,
                ms=seconds * 1e3,
                tflops=flops / seconds / 1e12,
              )
            )
            print(_format_row(rows[-1], None), flush=True)
          for row in rows[-len(times) :]:
            row['vs_xla'] = times['xla'] / (row['ms'] / 1e3) if 'xla' in times else None
  return rows


_HEADER = '| model | len | causal | mode | impl | ms | TFLOP/s | vs xla |'


def _format_row(row, vs_xla=...):
  if vs_xla is ...:
    vs_xla = row.get('vs_xla')
  ratio = '' if vs_xla is None else f'{vs_xla:.2f}x'
  return (
    f"| {row['model']} | {row['length']} | {row['causal']} | {row['mode']} | {row['impl']} "
    f"| {row['ms']:.3f} | {row['tflops']:.4f} | {ratio} |"
  )


def to_markdown(rows):
  lines = [_HEADER, '|' + '---|' * 8]
  lines += [_format_row(row) for row in rows]
  return '\n'.join(lines)


def main(argv):
  del argv
  quick = _QUICK.value
  lengths = [64, 256] if quick else [int(x) for x in _LENGTHS.value]
  batch = 1 if quick else _BATCH.value
  runs = 3 if quick else _RUNS.value
  warmup = 1 if quick else _WARMUP.value
  print(f'devices: {jax.devices()}; batch {batch}; dtype {_DTYPE.value}; median of {runs}')
  rows = run_benchmark(_IMPLS.value, lengths, batch, warmup, runs, jnp.dtype(_DTYPE.value))
  table = to_markdown(rows)
  print(table)
  if _OUT.value:
    with open(_OUT.value, 'w') as f:
      if _OUT.value.endswith('.json'):
        json.dump(dict(devices=str(jax.devices()), rows=rows), f, indent=1)
      else:
        f.write(f'Devices: {jax.devices()}; batch {batch}; dtype {_DTYPE.value}; median of {runs} runs.\n\n{table}\n')
    print(f'wrote {_OUT.value}')


if __name__ == '__main__':
  app.run(main)
