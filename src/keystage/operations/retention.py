"""Deleting a collection's pupil-level data once it is past its retention (UK GDPR storage
limitation), keeping its figures. `plan` lists what would go; `do_apply_retention` deletes
exactly that, one collection per transaction, with audit rows that name no pupil.

How long is kept comes from the collection definition (`[retention] pupil_data_years` after
`dates.closes`); `KEYSTAGE_RETENTION_YEARS` overrides it for every collection. What goes and
what stays is listed in docs/retention.md.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, Count
from django.db.models.functions import Cast

from keystage.audit.models import AuditEvent, record
from keystage.checking.models import Message
from keystage.engine import definition as definitions
from keystage.engine.words import digits_only
from keystage.orgs.models import LocalAuthority
from keystage.returns.models import (
    CollectedFinding,
    CollectedPupil,
    CollectedReturnVersion,
    ReturnGeneration,
)
from keystage.submissions.kept import kept_span
from keystage.submissions.models import (
    Collection,
    Finding,
    ImportBatch,
    PupilChange,
    PupilRecord,
    Upload,
)

EVENT = "retention.deleted"  # written by `_delete` (as a literal, for the words test)

# Audit rows about a pupil, a finding, an edit, a file or a message keep who did what and when;
# these details name or describe a pupil and go with the pupil's data.
PERSONAL_DETAILS = frozenset({"upn", "upns", "changes", "reason", "explanation"})
AUDITED_OBJECTS = {
    "PupilRecord": PupilRecord,
    "Finding": Finding,
    "PupilChange": PupilChange,
    "Upload": Upload,
    "Message": Message,
}

COUNTS = (
    "pupils",
    "findings",
    "edits",
    "uploads",
    "kept_files",
    "kept_bytes",
    "batches",
    "return_files",
    "return_bytes",
    "collected_pupils",
    "collected_findings",
    "messages",
    "audit_details",
)
FIELDS = ("collection", "status", "closes", "years", "delete_from", "la", "la_name", *COUNTS)


class RetentionSettingError(ValueError):
    """KEYSTAGE_RETENTION_YEARS is not a whole number of years."""


@dataclass
class LaItems:
    """What one LA holds of a collection's pupil-level data."""

    la: str  # the LA code, "" for files whose LA is not known (rejected files)
    la_name: str
    pupils: int = 0
    findings: int = 0
    edits: int = 0
    uploads: int = 0
    kept_files: int = 0
    kept_bytes: int = 0
    batches: int = 0
    return_files: int = 0
    return_bytes: int = 0
    collected_pupils: int = 0
    collected_findings: int = 0
    messages: int = 0
    audit_details: int = 0

    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in COUNTS}

    def holds_anything(self) -> bool:
        return any(self.counts().values())


@dataclass
class CollectionPlan:
    """A collection's retention on a day: `status` "due" (past its retention, with data to
    delete), "within" (still within its retention: untouched), "clear" (past it, nothing
    left) or "no definition" (a collection Keystage has no definition for: untouched)."""

    code: str
    name: str
    closes: dt.date | None
    years: int | None
    delete_from: dt.date | None
    status: str
    las: list[LaItems] = field(default_factory=list)
    # Files to remove once the deletion is committed (absolute paths).
    files: list[tuple[str, str, list[tuple[int, int]]]] = field(default_factory=list, repr=False)

    def totals(self) -> dict[str, int]:
        out = dict.fromkeys(COUNTS, 0)
        for items in self.las:
            for k, v in items.counts().items():
                out[k] += v
        return out

    def rows(self) -> list[dict]:
        """One row per LA (one with no LA when nothing is listed), for --format json/csv."""
        head = {
            "collection": self.code,
            "status": self.status,
            "closes": self.closes.isoformat() if self.closes else "",
            "years": "" if self.years is None else self.years,
            "delete_from": self.delete_from.isoformat() if self.delete_from else "",
        }
        if not self.las:
            return [{**head, "la": "", "la_name": "", **dict.fromkeys(COUNTS, 0)}]
        return [{**head, **asdict(items)} for items in self.las]


@dataclass
class RetentionResult:
    plans: list[CollectionPlan]
    # Files that could not be removed after the deletion was committed: (path, why).
    file_errors: list[tuple[str, str]] = field(default_factory=list)


def years_override() -> int | None:
    """The operator's KEYSTAGE_RETENTION_YEARS, or None when it is not set."""
    raw = str(getattr(settings, "KEYSTAGE_RETENTION_YEARS", "") or "").strip()
    if not raw:
        return None
    if not digits_only(raw):
        raise RetentionSettingError(
            f"KEYSTAGE_RETENTION_YEARS {raw!r} is not a whole number of years: set it to e.g. 5, "
            "or unset it to use each collection definition's retention"
        )
    return int(raw)


def pupil_data_deleted(collection: Collection) -> bool:
    """Whether retention has deleted this collection's pupil-level data: its figures are then
    final, and a recount from (no) pupil records must not replace them."""
    return AuditEvent.objects.filter(
        action=EVENT, object_type="Collection", object_id=str(collection.pk)
    ).exists()


def plan(as_of: dt.date, *, only: str | None = None) -> list[CollectionPlan]:
    """What retention would delete on `as_of`, per collection (all of them, or the one whose
    code is `only`) and LA."""
    override = years_override()
    collections = Collection.objects.order_by("code")
    if only:
        collections = collections.filter(code=only)
    return [_plan_one(c, as_of, override) for c in collections]


def do_apply_retention(as_of: dt.date, *, user=None, only: str | None = None) -> RetentionResult:
    """Delete the pupil-level data of every collection past its retention on `as_of`: each
    collection in a transaction of its own, listed again inside it (so what is deleted is what
    the listing says), with one audit row per LA giving the counts. Kept files go once the
    transaction has committed."""
    override = years_override()
    collections = Collection.objects.order_by("code")
    if only:
        collections = collections.filter(code=only)
    plans, errors = [], []
    for collection in collections:
        with transaction.atomic():
            locked = Collection.objects.select_for_update().get(pk=collection.pk)
            p = _plan_one(locked, as_of, override)
            if p.status == "due":
                _delete(locked, p, as_of, user)
        plans.append(p)
        if p.status == "due":
            errors += _remove_files(p.files)
    return RetentionResult(plans, errors)


# -- listing -------------------------------------------------------------------------------


def _plan_one(collection: Collection, as_of: dt.date, override: int | None) -> CollectionPlan:
    try:
        retention = definitions.load(collection.code).retention
    except (KeyError, ValueError):
        return CollectionPlan(collection.code, collection.name, None, None, None, "no definition")
    years = retention.pupil_data_years if override is None else override
    delete_from = retention.delete_from(years)
    p = CollectionPlan(collection.code, collection.name, retention.closes, years, delete_from,
                       "within")  # fmt: skip
    if as_of < delete_from:
        return p
    las, files = _held(collection)
    p.las = [items for items in las if items.holds_anything()]
    p.files = files
    p.status = "due" if p.las else "clear"
    return p


def _held(collection: Collection) -> tuple[list[LaItems], list]:
    """Every LA's pupil-level data of the collection, and the files that hold it."""
    names = {pk: (code, name) for pk, code, name in
             LocalAuthority.objects.values_list("pk", "code", "name")}  # fmt: skip
    by_la: dict[int | None, LaItems] = {}

    def items(la_id) -> LaItems:
        if la_id not in by_la:
            code, name = names.get(la_id, ("", "LA not known"))
            by_la[la_id] = LaItems(code, name)
        return by_la[la_id]

    def tally(queryset, attr: str) -> None:
        for row in queryset.values("la_id").annotate(n=Count("id")).order_by():
            setattr(items(row["la_id"]), attr, getattr(items(row["la_id"]), attr) + row["n"])

    c = collection
    tally(PupilRecord.objects.filter(collection=c), "pupils")
    tally(Finding.objects.filter(collection=c), "findings")
    tally(PupilChange.objects.filter(collection=c), "edits")
    tally(Upload.objects.filter(collection=c), "uploads")
    tally(ImportBatch.objects.filter(collection=c), "batches")
    tally(CollectedPupil.objects.filter(version__collected_return__collection=c),
          "collected_pupils")  # fmt: skip
    tally(CollectedFinding.objects.filter(version__collected_return__collection=c),
          "collected_findings")  # fmt: skip
    tally(Message.objects.filter(collection=c), "messages")
    for la_id, n in _audit_rows(c).values_list("la_id").annotate(n=Count("id")).order_by():
        items(la_id).audit_details += n

    files: list[tuple[str, str, list[tuple[int, int]]]] = []
    store = Path(settings.UPLOAD_STORE)
    spans: dict[str, list[tuple[int, int]]] = {}
    for la_id, stored in (
        Upload.objects.filter(collection=c)
        .exclude(stored_path="")
        .values_list("la_id", "stored_path")
    ):
        name, offset, length = kept_span(stored)
        path = store / name
        if length < 0:  # a file of its own
            if not path.is_file():
                continue
            length = path.stat().st_size
            files.append(("unlink", str(path), []))
        else:
            if not path.is_file():
                continue
            spans.setdefault(str(path), []).append((offset, length))
        items(la_id).kept_files += 1
        items(la_id).kept_bytes += length
    files += [("pack", path, sorted(s)) for path, s in sorted(spans.items())]
    for la_id, folder in ImportBatch.objects.filter(collection=c).values_list("la_id", "folder"):
        n, size = _folder_size(Path(folder))
        if n:
            items(la_id).kept_files += n
            items(la_id).kept_bytes += size
            files.append(("rmtree", folder, []))

    data = Path(settings.DATA_DIR)
    for g in ReturnGeneration.objects.filter(collection=c).order_by("pk"):
        n, size = _folder_size(data / g.folder) if g.folder else (0, 0)
        if n:
            items(g.la_id).return_files += n
            items(g.la_id).return_bytes += size
            files.append(("rmtree", str(data / g.folder), []))
    versions = CollectedReturnVersion.objects.filter(collected_return__collection=c).exclude(
        stored_path=""
    )
    for la_id, stored in versions.values_list("la_id", "stored_path"):
        path = data / stored
        if path.is_file():
            items(la_id).return_files += 1
            items(la_id).return_bytes += path.stat().st_size
            files.append(("unlink", str(path), []))
    ordered = sorted(by_la.values(), key=lambda i: (i.la == "", i.la))
    return ordered, files


def _folder_size(folder: Path) -> tuple[int, int]:
    if not folder.is_dir():
        return 0, 0
    n = size = 0
    for path in folder.rglob("*"):
        if path.is_file():
            n += 1
            size += path.stat().st_size
    return n, size


def _audit_rows(collection: Collection):
    """Audit rows about the collection's pupils, findings, edits, files and messages whose
    details still name or describe a pupil."""
    from django.db.models import Q

    about = Q()
    for type_name, model in AUDITED_OBJECTS.items():
        ids = model.objects.filter(collection=collection).annotate(
            key=Cast("pk", output_field=CharField())
        )
        about |= Q(object_type=type_name, object_id__in=ids.values("key"))
    personal = Q()
    for key in PERSONAL_DETAILS:
        personal |= Q(detail__has_key=key)
    return AuditEvent.objects.filter(about & personal)


# -- deleting -------------------------------------------------------------------------------


def _delete(collection: Collection, p: CollectionPlan, as_of: dt.date, user) -> None:
    c = collection
    for event in _audit_rows(c).only("pk", "detail"):
        detail = {k: v for k, v in event.detail.items() if k not in PERSONAL_DETAILS}
        detail["personal_data_deleted"] = as_of.isoformat()
        AuditEvent.objects.filter(pk=event.pk).update(detail=detail)
    # Leaves first, so that each delete is one statement: Django's own cascade would read
    # every pupil of a national collection into memory to find what points at it.
    Message.objects.filter(collection=c).delete()
    CollectedFinding.objects.filter(version__collected_return__collection=c).delete()
    _delete_rows(CollectedPupil.objects.filter(version__collected_return__collection=c))
    CollectedReturnVersion.objects.filter(collected_return__collection=c).update(stored_path="")
    PupilChange.objects.filter(collection=c).delete()
    Finding.objects.filter(collection=c).delete()
    _delete_rows(PupilRecord.objects.filter(collection=c))
    Upload.objects.filter(collection=c).update(supersedes=None)
    _delete_rows(Upload.objects.filter(collection=c))
    ImportBatch.objects.filter(collection=c).delete()
    for items in p.las:
        record("retention.deleted", user=user, la=_la_pk(items.la), obj=c, collection=c.code,
               as_of=as_of.isoformat(), closes=p.closes.isoformat(), years=p.years,
               delete_from=p.delete_from.isoformat(), **items.counts())  # fmt: skip


def _delete_rows(queryset) -> None:
    """One DELETE statement, once nothing points at the rows any more."""
    queryset._raw_delete(queryset.db)


def _la_pk(code: str) -> int | None:
    if not code:
        return None
    return LocalAuthority.objects.filter(code=code).values_list("pk", flat=True).first()


def _remove_files(files) -> list[tuple[str, str]]:
    """Remove what held the deleted data. A pack file also holding files that are kept (of
    another collection) has the deleted files' bytes overwritten with zeros instead."""
    errors = []
    store = Path(settings.UPLOAD_STORE)
    for how, path, spans in files:
        try:
            if how == "rmtree":
                shutil.rmtree(path)
            elif how == "unlink":
                os.unlink(path)
            elif _still_used(store, Path(path)):
                with open(path, "r+b") as f:
                    for offset, length in spans:
                        f.seek(offset)
                        f.write(bytes(length))
                    f.flush()
                    os.fsync(f.fileno())
            else:
                os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as e:
            errors.append((path, e.strerror or str(e)))
    return errors


def _still_used(store: Path, pack: Path) -> bool:
    name = pack.relative_to(store).as_posix()
    return Upload.objects.filter(stored_path__startswith=f"{name}@").exists()
