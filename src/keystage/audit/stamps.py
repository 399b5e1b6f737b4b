"""How far an LA's data has got: a stamp that changes whenever anything a page reads changes.

Every change to the data goes through an action that writes an audit event in its own
transaction (see keystage.audit.models.record), and audit rows are only ever added. So the
count and the highest id of the LA's events, and of the events of no LA (the schools register,
retention, a restore, but not a file refused before its LA was known:
audit.events.NO_LA_DATA_EVENTS), that are not read-only (audit.events.READ_ONLY_EVENTS) change
with every committed change. The count is there as well as the id because ids are handed out before
commit: a transaction that took a lower id and commits later leaves the highest id as it was,
but not the count."""

from __future__ import annotations

from django.db.models import Count, Max, Q

from keystage.audit.events import NO_LA_DATA_EVENTS, READ_ONLY_EVENTS
from keystage.audit.models import AuditEvent

# The events that change data: every event but the read-only ones.
CHANGES = ~Q(action__startswith=READ_ONLY_EVENTS[0])
for _prefix in READ_ONLY_EVENTS[1:]:
    CHANGES &= ~Q(action__startswith=_prefix)


def data_stamp(la_id: int) -> str:
    """A short text that differs whenever the data of the LA (or of every LA) has changed."""
    got = (
        AuditEvent.objects.filter(
            Q(la_id=la_id) | Q(la_id__isnull=True) & ~Q(action__in=NO_LA_DATA_EVENTS)
        )
        .filter(CHANGES)
        .aggregate(n=Count("id"), top=Max("id"))
    )
    return f"{got['n']}.{got['top']}"
