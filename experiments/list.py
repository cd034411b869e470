"""Prints every registered experiment and sweep with its one-line description: python -m experiments.list"""

from experiments import registry


def main() -> None:
  sections = (("experiments (python -m experiments.train --experiment=NAME)", registry.describe()),
              ("sweeps (python -m experiments.sweep --sweep=NAME)", registry.SWEEPS.describe()))
  width = max(len(name) for _, described in sections for name in described)
  for title, described in sections:
    print(title)
    for name, description in described.items():
      print(f"  {name:<{width}}  {description}")


if __name__ == "__main__":
  main()
