"""State changes for submissions: importing school files and refreshing cross-school checks.

Each file is stored in one transaction with its audit row: a file that is rejected, or an
import that fails or is killed half-way, leaves what was held before exactly as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from keystage.audit.models import record
from keystage.engine import definition as definitions
from keystage.engine import rules
from keystage.orgs.models import LocalAuthority, School
from keystage.submissions import bulk
from keystage.submissions.models import Collection, Finding, PupilRecord, Upload
from keystage.submissions.preparing import KnownSchool, PreparedFile, stored_name

PUPIL_COLUMNS = (
    "id",
    "upload_id",
    "collection_id",
    "school_id",
    "la_id",
    "is_current",
    "line",
    "upn",
    "surname",
    "forename",
    "dob",
    "sex",
    "outcomes",
    "nc_year",
    "former_upn",
    "characteristics",
)
FINDING_COLUMNS = (
    "collection_id",
    "upload_id",
    "school_id",
    "la_id",
    "pupil_id",
    "is_current",
    "scope",
    "rule",
    "severity",
    "field",
    "value",
    "message",
)


@dataclass
class ImportResult:
    """What happened to one file: outcome is accepted, superseded, unchanged or rejected."""

    file_name: str
    outcome: str
    laestab: str = ""
    school_name: str = ""
    pupils: int = 0
    errors: int = 0
    queries: int = 0
    reason: str = ""
    upload_id: int | None = None
    changes: dict = field(default_factory=dict)
    ignored: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "file": self.file_name,
            "outcome": self.outcome,
            "laestab": self.laestab,
            "school": self.school_name,
            "pupils": self.pupils,
            "errors": self.errors,
            "queries": self.queries,
            "reason": self.reason,
            "upload_id": self.upload_id,
            "added": len(self.changes.get("added", [])),
            "removed": len(self.changes.get("removed", [])),
            "changed": len(self.changes.get("changed", [])),
        }


def get_collection(collection_id: str | None = None) -> Collection:
    code = collection_id or settings.KEYSTAGE_COLLECTION
    definition = definitions.load(code)
    collection, _ = Collection.objects.get_or_create(
        code=code, defaults={"name": definition.name, "year": definition.year}
    )
    return collection


def known_schools() -> dict:
    """Every school of the register, keyed for `preparing.resolve_school`."""
    out: dict = {}
    by_estab: dict[str, list[KnownSchool]] = {}
    rows = School.objects.order_by("id").values_list(
        "id", "la_id", "la__code", "estab", "urn", "name", "type_name", "phase_name",
        "status_name", "low_age", "high_age", "close_date",
    )  # fmt: skip
    for pk, la_id, la, estab, urn, name, type_name, phase, status, low, high, closed in rows:
        info = rules.SchoolInfo(la=la, estab=estab, urn=urn, name=name, type_name=type_name,
                                phase_name=phase, status_name=status, low_age=low,
                                high_age=high)  # fmt: skip
        known = KnownSchool(school_id=pk, la_id=la_id, info=info)
        # When an LAESTAB has been re-used, the open school (no close date) wins.
        if (la, estab) not in out or closed is None:
            out[(la, estab)] = known
        out[("urn", urn)] = known
        by_estab.setdefault(estab, []).append(known)
    for estab, items in by_estab.items():
        out[("estab", estab)] = tuple(items)
    return out


def imported_files(collection: Collection) -> dict[str, dict]:
    """Every file already imported for the collection, by hash: the same bytes again are
    reported `unchanged` (or rejected again) without touching anything."""
    rows = Upload.objects.filter(collection=collection).order_by("id").values(
        "id", "sha256", "state", "file_name", "uploaded_at", "reason", "pupil_count",
        "error_count", "query_count", "school__laestab", "school__name",
    )  # fmt: skip
    return {row["sha256"]: row for row in rows.iterator(chunk_size=5000)}


def _diff(previous_id: int, new_rows: list[tuple]) -> dict:
    old = {
        upn: (surname, forename, dob, sex, outcomes)
        for upn, surname, forename, dob, sex, outcomes in PupilRecord.objects.filter(
            upload_id=previous_id
        ).values_list("upn", "surname", "forename", "dob", "sex", "outcomes")
    }
    new = {r[1]: (r[2], r[3], r[4], r[5], json.loads(r[6])) for r in new_rows}
    names = ("surname", "forename", "dob", "sex")
    changed = []
    for upn in sorted(old.keys() & new.keys()):
        a, b = old[upn], new[upn]
        fields = [n for n, x, y in zip(names, a[:4], b[:4], strict=True) if x != y]
        fields += sorted(k for k in a[4].keys() | b[4].keys() if a[4].get(k) != b[4].get(k))
        if fields:
            changed.append({"upn": upn, "fields": fields})
    return {
        "added": sorted(new.keys() - old.keys()),
        "removed": sorted(old.keys() - new.keys()),
        "changed": changed,
    }


UPLOAD_COLUMNS = (
    "collection_id", "school_id", "la_id", "file_name", "sha256", "size", "kind", "stored_path",
    "source", "uploaded_by_id", "uploaded_at", "state", "reason", "pupil_count", "error_count",
    "query_count", "ignored", "supersedes_id", "superseded_at", "changes",
)  # fmt: skip


def _insert_upload(cursor, values: dict) -> int:
    """One upload row, by hand: this runs 16,500 times in a national import, where the ORM's
    per-row work would cost more than the SQL itself."""
    table = Upload._meta.db_table
    cols = ", ".join(f'"{c}"' for c in UPLOAD_COLUMNS)
    marks = ", ".join(["%s"] * len(UPLOAD_COLUMNS))
    cursor.execute(
        f'INSERT INTO "{table}" ({cols}) VALUES ({marks}) RETURNING "id"',  # noqa: S608
        [values.get(c) for c in UPLOAD_COLUMNS],
    )
    return cursor.fetchone()[0]


def do_store_file(
    prepared: PreparedFile, *, collection: Collection, user=None, source: str = "cli"
) -> ImportResult:
    """Store a prepared file: a rejection is recorded; an accepted file becomes its school's
    current upload and supersedes the one before, recording what changed."""
    now = timezone.now()
    school = prepared.school
    name = stored_name(prepared.name)
    user = _user(user)
    upload = {
        "collection_id": collection.pk, "school_id": school.school_id if school else None,
        "la_id": school.la_id if school else None, "file_name": name,
        "sha256": prepared.sha256, "size": prepared.size, "kind": prepared.kind,
        "stored_path": prepared.stored_path, "source": source,
        "uploaded_by_id": user.pk if user else None,
        "uploaded_at": connection.ops.adapt_datetimefield_value(now),
        "ignored": json.dumps(prepared.ignored), "changes": "{}", "reason": "",
        "pupil_count": 0, "error_count": 0, "query_count": 0,
    }  # fmt: skip
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Each file is its own transaction; waiting for the disk on every one of 16,500
            # commits would double a national import. A server crash can lose the last few
            # files' commits (never half a file): re-running the import puts them back.
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        if prepared.rejected:
            if school is None and prepared.la:
                la = LocalAuthority.objects.filter(code=prepared.la).values_list("pk", flat=True)
                upload["la_id"] = la.first()
            upload.update(state=Upload.State.REJECTED, reason=prepared.rejected)
            upload_id = _insert_upload(cursor, upload)
            record("upload.rejected", user=user, la=upload["la_id"], school=upload["school_id"],
                   obj=("Upload", upload_id), file=name, reason=prepared.rejected)  # fmt: skip
            return ImportResult(prepared.name, "rejected", reason=prepared.rejected,
                                laestab=f"{prepared.la}{prepared.estab}", upload_id=upload_id)  # fmt: skip

        table = Upload._meta.db_table
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        cursor.execute(
            f'SELECT "id" FROM "{table}" WHERE "collection_id" = %s AND "school_id" = %s '  # noqa: S608
            f'AND "state" = %s{lock}',
            [collection.pk, school.school_id, Upload.State.CURRENT],
        )
        row = cursor.fetchone()
        previous_id = row[0] if row else None
        upload.update(
            state=Upload.State.CURRENT, pupil_count=len(prepared.pupils),
            error_count=prepared.error_count, query_count=prepared.query_count,
            supersedes_id=previous_id,
        )  # fmt: skip
        upload_id = _insert_upload(cursor, upload)
        ids = bulk.allocate_ids(PupilRecord._meta.db_table, len(prepared.pupils))
        head = (upload_id, collection.pk, school.school_id, school.la_id, True)
        bulk.insert_rows(
            PupilRecord._meta.db_table,
            PUPIL_COLUMNS,
            [(pid, *head, *row) for pid, row in zip(ids, prepared.pupils, strict=True)],
        )
        base = (collection.pk, upload_id, school.school_id, school.la_id)
        finding_rows = [
            (*base, ids[i], True, "pupil", f.rule, f.severity, f.field, f.value[:200], f.message)
            for i, f in prepared.pupil_findings
        ]
        finding_rows += [
            (*base, None, True, "school", f.rule, f.severity, f.field, f.value[:200], f.message)
            for f in prepared.school_findings
        ]
        bulk.insert_rows(Finding._meta.db_table, FINDING_COLUMNS, finding_rows)

        outcome, changes = "accepted", {}
        if previous_id is not None:
            outcome = "superseded"
            changes = _diff(previous_id, prepared.pupils)
            Upload.objects.filter(pk=previous_id).update(
                state=Upload.State.SUPERSEDED, superseded_at=now
            )
            PupilRecord.objects.filter(upload_id=previous_id).update(is_current=False)
            Finding.objects.filter(upload_id=previous_id).update(is_current=False)
            Upload.objects.filter(pk=upload_id).update(changes=changes)
        record(
            f"upload.{outcome}", user=user, la=school.la_id, school=school.school_id,
            obj=("Upload", upload_id), file=name, laestab=school.info.la + school.info.estab,
            pupils=len(prepared.pupils), errors=prepared.error_count,
            queries=prepared.query_count, supersedes=previous_id,
        )  # fmt: skip
    return ImportResult(
        prepared.name, outcome, laestab=school.info.la + school.info.estab,
        school_name=school.info.name, pupils=len(prepared.pupils), errors=prepared.error_count,
        queries=prepared.query_count, upload_id=upload_id, changes=changes,
        ignored=prepared.ignored,
    )  # fmt: skip


def _user(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


@transaction.atomic
def do_refresh_cohort_checks(la_ids: Iterable[int], *, collection: Collection) -> int:
    """Re-run the checks across all current pupils of each LA (duplicate UPNs, the same pupil
    under two UPNs) and replace their findings. Returns the number of findings written."""
    definition = definitions.load(collection.code)
    written = 0
    for la_id in sorted(set(la_ids)):
        Finding.objects.filter(
            collection=collection, la_id=la_id, scope=Finding.Scope.COHORT
        ).delete()
        rows = PupilRecord.objects.filter(
            collection=collection, la_id=la_id, is_current=True
        ).values_list(
            "id", "upload_id", "school_id", "school__laestab", "upn", "surname", "forename", "dob"
        )
        where = {}
        entries = []
        for pid, upload_id, school_id, laestab, upn, surname, forename, dob in rows.iterator(
            chunk_size=5000
        ):
            where[pid] = (upload_id, school_id)
            entries.append(rules.CohortEntry(pid, laestab, upn, surname, forename, dob))
        found = rules.check_cohort(entries, definition)
        bulk.insert_rows(
            Finding._meta.db_table,
            FINDING_COLUMNS,
            [
                (
                    collection.pk,
                    where[pid][0],
                    where[pid][1],
                    la_id,
                    pid,
                    True,
                    "cohort",
                    f.rule,
                    f.severity,
                    f.field,
                    f.value[:200],
                    f.message,
                )
                for pid, f in found
            ],
        )
        written += len(found)
    return written
