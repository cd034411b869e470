"""Dataset definitions and preparation (run from the repository root; not installed)."""
