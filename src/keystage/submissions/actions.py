"""State changes for submissions: importing school files and refreshing cross-school checks.

Each file is stored in one transaction with its audit row: a file that is rejected, or an
import that fails or is killed half-way, leaves what was held before exactly as it was.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

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
    # When an LAESTAB has been re-used, the open school (no close date) wins.
    for s in School.objects.select_related("la").order_by("id"):
        known = KnownSchool(
            school_id=s.pk,
            la_id=s.la_id,
            info=rules.SchoolInfo(
                la=s.la.code,
                estab=s.estab,
                urn=s.urn,
                name=s.name,
                type_name=s.type_name,
                phase_name=s.phase_name,
                status_name=s.status_name,
                low_age=s.low_age,
                high_age=s.high_age,
            ),
        )
        key = (s.la.code, s.estab)
        if key not in out or s.close_date is None:
            out[key] = known
        out[("urn", s.urn)] = known
        by_estab.setdefault(s.estab, []).append(known)
    for estab, items in by_estab.items():
        out[("estab", estab)] = tuple(items)
    return out


def find_unchanged(sha256: str, collection: Collection) -> Upload | None:
    return Upload.objects.filter(collection=collection, sha256=sha256).order_by("-id").first()


def _keep_copy(prepared: PreparedFile) -> str:
    """Keep the file's bytes, named by their hash, so any upload can be looked at again."""
    target = Path(settings.UPLOAD_STORE) / prepared.sha256[:2] / prepared.sha256
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        shutil.copyfile(prepared.path, tmp)
        tmp.replace(target)
    return str(target.relative_to(settings.UPLOAD_STORE))


def _diff(previous: Upload, new_rows: list[tuple]) -> dict:
    old = {
        upn: (surname, forename, dob, sex, outcomes)
        for upn, surname, forename, dob, sex, outcomes in previous.pupils.values_list(
            "upn", "surname", "forename", "dob", "sex", "outcomes"
        )
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


def do_store_file(
    prepared: PreparedFile, *, collection: Collection, user=None, source: str = "cli"
) -> ImportResult:
    """Store a prepared file: a rejection is recorded; an accepted file becomes its school's
    current upload and supersedes the one before, recording what changed."""
    now = timezone.now()
    kept = _keep_copy(prepared)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Each file is its own transaction; waiting for the disk on every one of 16,500
            # commits would double a national import. A server crash can lose the last few
            # files' commits (never half a file): re-running the import puts them back.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        school = prepared.school
        if prepared.rejected:
            la = LocalAuthority.objects.filter(code=prepared.la).first() if prepared.la else None
            upload = Upload.objects.create(
                collection=collection,
                school_id=school.school_id if school else None,
                la_id=school.la_id if school else (la.pk if la else None),
                file_name=stored_name(prepared.name),
                sha256=prepared.sha256,
                size=prepared.size,
                kind=prepared.kind,
                stored_path=kept,
                source=source,
                uploaded_by=_user(user),
                uploaded_at=now,
                state=Upload.State.REJECTED,
                reason=prepared.rejected,
            )
            record(
                "upload.rejected",
                user=user,
                la=upload.la_id,
                school=upload.school_id,
                obj=upload,
                file=prepared.name,
                reason=prepared.rejected,
            )
            return ImportResult(
                prepared.name,
                "rejected",
                reason=prepared.rejected,
                laestab=f"{prepared.la}{prepared.estab}",
                upload_id=upload.pk,
            )

        previous = (
            Upload.objects.select_for_update()
            .filter(collection=collection, school_id=school.school_id, state=Upload.State.CURRENT)
            .first()
        )
        upload = Upload.objects.create(
            collection=collection,
            school_id=school.school_id,
            la_id=school.la_id,
            file_name=stored_name(prepared.name),
            sha256=prepared.sha256,
            size=prepared.size,
            kind=prepared.kind,
            stored_path=kept,
            source=source,
            uploaded_by=_user(user),
            uploaded_at=now,
            state=Upload.State.CURRENT,
            pupil_count=len(prepared.pupils),
            error_count=prepared.error_count,
            query_count=prepared.query_count,
            ignored=prepared.ignored,
            supersedes=previous,
        )
        ids = bulk.allocate_ids(PupilRecord._meta.db_table, len(prepared.pupils))
        is_true = True
        head = (upload.pk, collection.pk, school.school_id, school.la_id, is_true)
        bulk.insert_rows(
            PupilRecord._meta.db_table,
            PUPIL_COLUMNS,
            [(pid, *head, *row) for pid, row in zip(ids, prepared.pupils, strict=True)],
        )
        base = (collection.pk, upload.pk, school.school_id, school.la_id)
        finding_rows = [
            (*base, ids[i], is_true, "pupil", f.rule, f.severity, f.field, f.value[:200], f.message)
            for i, f in prepared.pupil_findings
        ]
        finding_rows += [
            (*base, None, is_true, "school", f.rule, f.severity, f.field, f.value[:200], f.message)
            for f in prepared.school_findings
        ]
        bulk.insert_rows(Finding._meta.db_table, FINDING_COLUMNS, finding_rows)

        outcome, changes = "accepted", {}
        if previous is not None:
            outcome = "superseded"
            changes = _diff(previous, prepared.pupils)
            Upload.objects.filter(pk=previous.pk).update(
                state=Upload.State.SUPERSEDED, superseded_at=now
            )
            PupilRecord.objects.filter(upload=previous).update(is_current=False)
            Finding.objects.filter(upload=previous).update(is_current=False)
            Upload.objects.filter(pk=upload.pk).update(changes=changes)
        record(
            f"upload.{outcome}",
            user=user,
            la=school.la_id,
            school=school.school_id,
            obj=upload,
            file=prepared.name,
            laestab=school.info.la + school.info.estab,
            pupils=len(prepared.pupils),
            errors=prepared.error_count,
            queries=prepared.query_count,
            supersedes=previous.pk if previous else None,
        )
    return ImportResult(
        prepared.name,
        outcome,
        laestab=school.info.la + school.info.estab,
        school_name=school.info.name,
        pupils=len(prepared.pupils),
        errors=prepared.error_count,
        queries=prepared.query_count,
        upload_id=upload.pk,
        changes=changes,
        ignored=prepared.ignored,
    )


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
