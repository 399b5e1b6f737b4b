"""Background tasks of submissions (django-tasks; the database backend's worker runs them)."""

from __future__ import annotations

from django_tasks import task


@task()
def import_batch(batch_id: int) -> None:
    """Import the files of a batch uploaded through the web (see `batches.run_batch`)."""
    from keystage.submissions.batches import run_batch

    run_batch(batch_id)
