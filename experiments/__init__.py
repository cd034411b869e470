"""Registered experiments and their thin absl entry points (run from the repository root)."""
