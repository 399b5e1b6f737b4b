"""Operating a Keystage installation: what an operator runs beside the service (backups and
restores, `keystage backup` and `keystage restore`). Django-side code, not the engine."""
