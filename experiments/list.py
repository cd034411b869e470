"""Prints every registered experiment and sweep with its one-line description.

  python -m experiments.list [--params]

--params adds the parameter counts (total, non-embedding, activated non-embedding; onerec_jax.models.
parameter_count) of the OneRec experiments on a simulated world, from abstract models (nothing is
allocated), beside the report's size where the name gives one.
"""

import re

from absl import app, flags

from experiments import registry

_PARAMS = flags.DEFINE_bool("params", False, "show parameter counts of the simulated-world OneRec experiments")


def parameter_counts(name: str) -> dict | None:
  """Counts of a registered OneRec experiment on the simulator (None for other families or datasets)."""
  from flax import nnx
  from experiments.aot_compile import abstract_model_config
  from onerec_jax.models.onerec import OneRec
  from onerec_jax.models.parameter_count import count_parameters

  config = registry.get(name)
  if config.family != "onerec" or config.data.dataset != "synthetic":
    return None
  mc = abstract_model_config(config)
  model = nnx.eval_shape(lambda: OneRec(mc, rngs=nnx.Rngs(0)))
  return count_parameters(
    nnx.state(model, nnx.Param), mc.num_experts, mc.num_experts_per_token if mc.num_experts else 0
  )


def main(argv) -> None:
  del argv
  sections = (
    ("experiments (python -m experiments.train --experiment=NAME)", registry.describe()),
    ("sweeps (python -m experiments.sweep --sweep=NAME)", registry.SWEEPS.describe()),
  )
  width = max(len(name) for _, described in sections for name in described)
  for title, described in sections:
    print(title)
    for name, description in described.items():
      line = f"  {name:<{width}}  {description}"
      counts = parameter_counts(name) if _PARAMS.value and title.startswith("experiments") else None
      if counts:
        report = re.search(r"_(\d)(\d+)b$", name)
        paper = f"; report {report.group(1)}.{report.group(2)}B" if report else ""
        line += (
          f"\n  {'':<{width}}  parameters {counts['total'] / 1e6:.1f}M total, {counts['non_embedding'] / 1e6:.1f}M "
          f"non-embedding, {counts['activated_non_embedding'] / 1e6:.1f}M activated{paper}"
        )
      print(line)


if __name__ == "__main__":
  app.run(main)
