"""The audit log: who did what, when, to which LA, school or record."""
