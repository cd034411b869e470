"""TFDS builder `kuairand_pure` (array_record); the definition is shared: data/tfds_builders.py."""

from data.tfds_builders import BUILDERS

Builder = BUILDERS["kuairand_pure"]
