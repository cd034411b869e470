"""What every benchmark writes: the machine it ran on, the date, its runs, as one JSON file."""

from __future__ import annotations

import json
import os
import platform
import time

import jax


def machine() -> dict:
  """The machine of a measurement: platform, CPUs, devices and the load average while it ran."""
  return {
    "platform": platform.platform(),
    "processor": platform.processor(),
    "cpus": os.cpu_count(),
    "devices": [str(d) for d in jax.devices()],
    "load_average": list(os.getloadavg()),
  }


def write(out: str, **fields) -> dict:
  """Writes {'machine', 'date', **fields} to `out` (folders made) and prints it; returns it."""
  results = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **fields}
  os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
  with open(out, "w") as f:
    json.dump(results, f, indent=1)
  print(json.dumps(results, indent=1))
  return results
