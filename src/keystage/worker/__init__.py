"""The task worker: django-tasks-db's `db_worker`, with a heartbeat and recovery (see
`recovery` and docs/architecture.md, "When a worker dies")."""
