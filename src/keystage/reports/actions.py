"""State changes of reports: asking for an LA's report PDF (made by a task). Each runs in one
transaction with its audit row; the task is queued once the request is committed."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from keystage.audit.models import record
from keystage.reports.models import ReportPack


@transaction.atomic
def do_request_pack(user, collection, la) -> ReportPack:
    """Queue the PDF of an LA's reports (its summary and gap analysis, every school's summary)."""
    from keystage.reports.tasks import make_pack_task

    pack = ReportPack.objects.create(
        collection=collection, la=la, requested_by=user, requested_at=timezone.now()
    )
    record("reports.pack_requested", user=user, la=la, obj=pack, collection=collection.code)
    transaction.on_commit(lambda: make_pack_task.enqueue(pack.pk))
    return pack
