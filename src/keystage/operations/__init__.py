"""Operating a Keystage installation: what an operator runs beside the service (backups and
restores, retention). Django-side code, not the engine."""
