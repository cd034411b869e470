"""Dataset `amazon_beauty`: see amazon_beauty_dataset_builder.py."""
