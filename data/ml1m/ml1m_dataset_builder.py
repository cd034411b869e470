"""TFDS builder `ml1m` (array_record); the definition is shared: data/tfds_builders.py."""

from data.tfds_builders import BUILDERS

Builder = BUILDERS["ml1m"]
