"""Jobs an operator runs on a Keystage installation's data (retention, backup)."""
