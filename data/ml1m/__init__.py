"""Dataset `ml1m`: see ml1m_dataset_builder.py."""
