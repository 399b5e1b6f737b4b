"""Keystage: statutory primary assessment data collection (KS1 teacher assessment 2023)."""

__version__ = "0.1.0"
