"""Background tasks of submissions (django-tasks; the database backend's worker runs them)."""

from __future__ import annotations

from django_tasks import task


@task()
def import_batch(batch_id: int) -> None:
    """Import the files of a batch uploaded through the web (see `batches.run_batch`)."""
    from keystage.submissions.batches import run_batch

    run_batch(batch_id)
    _queue_fact_rebuild(batch_id)


def _queue_fact_rebuild(batch_id: int) -> None:
    """Recount the report facts of the schools whose data the batch changed."""
    from keystage.orgs.models import School
    from keystage.reports.tasks import rebuild_facts_task
    from keystage.submissions.models import ImportBatch

    batch = ImportBatch.objects.get(pk=batch_id)
    laestabs = {
        r.get("laestab")
        for r in batch.results or ()
        if r.get("outcome") in ("accepted", "superseded")
    }
    ids = list(School.objects.filter(laestab__in=laestabs).values_list("pk", flat=True))
    if ids:
        rebuild_facts_task.enqueue(batch.collection_id, ids)
