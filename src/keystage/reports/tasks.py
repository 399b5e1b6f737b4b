"""Background tasks of reports (django-tasks)."""

from __future__ import annotations

from django_tasks import task


@task()
def rebuild_facts_task(collection_id: int, school_ids: list[int] | None = None) -> None:
    """Rebuild the fact tables for these schools (all when None) and the sums above them."""
    from keystage.reports.due import clear_due, read_due
    from keystage.reports.facts import rebuild_facts
    from keystage.submissions.models import Collection

    due = read_due(collection_id, school_ids)  # read first: what changes later stays due
    rebuild_facts(Collection.objects.get(pk=collection_id), schools=school_ids)
    clear_due(due)


@task()
def make_pack_task(pack_id: int) -> None:
    """Make the PDF of an LA's reports (see `rendering.make_pack`)."""
    from keystage.reports.rendering import make_pack

    make_pack(pack_id)
