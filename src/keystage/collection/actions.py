"""State changes of the LA's collection settings, and audit rows for viewing pupil-level data.
Each runs in one transaction with its audit row."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from keystage.audit.models import record
from keystage.collection.models import ExpectedCohort, LaCollectionSettings
from keystage.orgs.models import LocalAuthority, School
from keystage.submissions.models import Collection


@transaction.atomic
def do_set_school_deadline(
    la: LocalAuthority, collection: Collection, school_deadline: dt.date | None, *, user
) -> LaCollectionSettings:
    """Set (or, with None, clear) the deadline the LA gives its schools."""
    row, _ = LaCollectionSettings.objects.select_for_update().get_or_create(
        la=la, collection=collection
    )
    previous = row.school_deadline
    row.school_deadline = school_deadline
    row.save(update_fields=["school_deadline"])
    record("collection.school_deadline_set", user=user, la=la, obj=row,
           collection=collection.code, school_deadline=school_deadline,
           previous=previous)  # fmt: skip
    return row


@transaction.atomic
def do_store_expected_cohorts(
    la: LocalAuthority,
    collection: Collection,
    cohorts: list[tuple[School, int]],
    *,
    user,
    file_name: str = "",
) -> int:
    """Store the expected pupils of each school (replacing what was held for those schools)."""
    for school, pupils in cohorts:
        if school.la_id != la.pk:
            raise ValueError(f"{school} is not in {la}")
        ExpectedCohort.objects.update_or_create(
            school=school, collection=collection, defaults={"la": la, "pupils": pupils}
        )
    record("collection.expected_cohorts_loaded", user=user, la=la,
           collection=collection.code, schools=len(cohorts), file_name=file_name)  # fmt: skip
    return len(cohorts)


@transaction.atomic
def do_record_view(action: str, *, user, la: LocalAuthority, school: School | None = None,
                   **detail) -> None:  # fmt: skip
    """Who looked at (or downloaded) pupil-level data, and with what filter."""
    record(action, user=user, la=la, school=school, **detail)


@transaction.atomic
def do_set_school_sees(
    la: LocalAuthority, collection: Collection, school_sees: str, *, user
) -> LaCollectionSettings:
    """Set what the LA's schools may see of this collection's reports (nothing, their own
    provisional results, or their results with comparisons)."""
    if school_sees not in LaCollectionSettings.SchoolSees.values:
        raise ValueError(f"{school_sees!r} is not a choice of what schools may see")
    row, _ = LaCollectionSettings.objects.select_for_update().get_or_create(
        la=la, collection=collection
    )
    previous = row.school_sees
    row.school_sees = school_sees
    row.save(update_fields=["school_sees"])
    record("collection.school_sees_set", user=user, la=la, obj=row,
           collection=collection.code, school_sees=school_sees, previous=previous)  # fmt: skip
    return row
