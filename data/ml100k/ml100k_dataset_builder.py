"""TFDS builder `ml100k` (array_record); the definition is shared: data/tfds_builders.py."""

from data.tfds_builders import BUILDERS

Builder = BUILDERS["ml100k"]
