"""Prints every registered experiment with its one-line description: python -m experiments.list"""

from experiments import registry


def main() -> None:
  described = registry.describe()
  width = max(map(len, described))
  for name, description in described.items():
    print(f"{name:<{width}}  {description}")


if __name__ == "__main__":
  main()
