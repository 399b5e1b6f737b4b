"""Organisations: regions, local authorities and schools (the reference data and the register)."""
