"""Registered experiment configs: every module here is imported by experiments.registry."""
