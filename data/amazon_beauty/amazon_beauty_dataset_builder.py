"""TFDS builder `amazon_beauty` (array_record); the definition is shared: data/tfds_builders.py."""

from data.tfds_builders import BUILDERS

Builder = BUILDERS["amazon_beauty"]
