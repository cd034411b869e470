"""Dataset `ml100k`: see ml100k_dataset_builder.py."""
