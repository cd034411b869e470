"""Dataset `kuairand_pure`: see kuairand_pure_dataset_builder.py."""
