"""Reads for the cleaning grid and a pupil's page: which pupils to show, their error, query and
conflict counts, and a pupil's trail of changes (files and edits). Everything goes through
`keystage.accounts.scope`, so a user only ever sees their own LA's or school's pupils."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from keystage.accounts.scope import scoped
from keystage.engine import words
from keystage.submissions.cleaning import editable_fields, field_label, rule_title, value_of
from keystage.submissions.models import Collection, Finding, PupilChange, PupilRecord

PER_PAGE = 25
SHOW = {
    "all": "All pupils",
    "errors": "Pupils with errors",
    "queries": "Pupils with queries to explain",
    "conflicts": "Pupils whose school file disagrees with an LA edit",
    "added": "Pupils added by the LA",
}


def grid_pupils(user, collection: Collection, la, *, school=None, show: str = "",
                rule: str = "") -> QuerySet:  # fmt: skip
    """Current pupils of the LA (or one school) the user may see, narrowed by the filters."""
    qs = scoped(user, PupilRecord).filter(collection=collection, la=la, is_current=True)
    if school is not None:
        qs = qs.filter(school=school)
    findings = Finding.objects.filter(collection=collection, la=la, is_current=True)
    if show == "errors":
        qs = qs.filter(pk__in=findings.filter(severity="error").values("pupil_id"))
    elif show == "queries":
        qs = qs.filter(pk__in=findings.filter(severity="query", explanation="").values("pupil_id"))
    elif show == "conflicts":
        open_ = PupilChange.objects.filter(la=la, conflict=PupilChange.Conflict.OPEN)
        qs = qs.filter(pk__in=open_.values("pupil_id"))
    elif show == "added":
        qs = qs.filter(flag="added")
    if rule:
        qs = qs.filter(pk__in=findings.filter(rule=rule).values("pupil_id"))
    return qs.select_related("school").order_by("school__laestab", "surname", "forename", "upn",
                                                "id")  # fmt: skip


def default_show(user, collection: Collection, la, *, school=None, rule: str = "") -> str:
    """What the grid shows when the user has not chosen: the pupils with errors when there are
    any (those are what cleaning is for), else every pupil."""
    with_errors = grid_pupils(user, collection, la, school=school, show="errors", rule=rule)
    return "errors" if with_errors.exists() else "all"


@dataclass(frozen=True)
class CellFinding:
    """A current finding shown on the grid cell of the field it is about."""

    rule: str
    title: str
    severity: str
    message: str


def cell_findings(pupil_ids: list[int], fields) -> dict[int, dict[str, list[CellFinding]]]:
    """pupil id -> field -> the current findings about that field (errors first); findings
    about something the grid has no column for are filed under "pupil"."""
    fields = set(fields)
    out: dict[int, dict[str, list[CellFinding]]] = defaultdict(lambda: defaultdict(list))
    rows = (
        Finding.objects.filter(pupil_id__in=pupil_ids, is_current=True)
        .order_by("severity", "rule", "id")  # "error" before "query"
        .values_list("pupil_id", "field", "rule", "severity", "message")
    )
    for pid, name, rule, severity, message in rows:
        where = name if name in fields else "pupil"
        out[pid][where].append(CellFinding(rule, rule_title(rule), severity, message))
    return out


def next_with_error(user, pupil: PupilRecord, *, school=None) -> PupilRecord | None:
    """The pupil after this one, in the grid's order, that has an error (from the first again
    after the last); None when no other pupil has one. Within one school when given."""
    qs = grid_pupils(user, pupil.collection, pupil.la, school=school, show="errors")
    keys = list(qs.values_list("school__laestab", "surname", "forename", "upn", "id"))
    ids = [k[4] for k in keys]
    if pupil.pk in ids:  # the database's order, as the grid shows it
        at = ids.index(pupil.pk)
        following = ids[at + 1 :] + ids[:at]
    else:
        here = (pupil.school.laestab, pupil.surname, pupil.forename, pupil.upn, pupil.pk)
        following = [k[4] for k in keys if k > here] + [k[4] for k in keys if k < here]
    return qs.filter(pk=following[0]).first() if following else None


@dataclass
class PupilCounts:
    errors: int = 0
    queries: int = 0  # still to explain
    explained: int = 0
    conflicts: int = 0


def counts_for(pupil_ids: list[int]) -> dict[int, PupilCounts]:
    out: dict[int, PupilCounts] = defaultdict(PupilCounts)
    rows = (
        Finding.objects.filter(pupil_id__in=pupil_ids, is_current=True)
        .values("pupil_id")
        .annotate(
            errors=Count("id", filter=Q(severity="error")),
            queries=Count("id", filter=Q(severity="query", explanation="")),
            explained=Count("id", filter=Q(severity="query") & ~Q(explanation="")),
        )
    )
    for r in rows:
        c = out[r["pupil_id"]]
        c.errors, c.queries, c.explained = r["errors"], r["queries"], r["explained"]
    for pid, n in (
        PupilChange.objects.filter(pupil_id__in=pupil_ids, conflict=PupilChange.Conflict.OPEN)
        .values("pupil_id")
        .annotate(n=Count("id"))
        .values_list("pupil_id", "n")
    ):
        out[pid].conflicts = n
    return out


def rules_in(user, collection: Collection, la, school=None) -> list[str]:
    qs = scoped(user, Finding).filter(
        collection=collection, la=la, is_current=True, pupil__isnull=False
    )
    if school is not None:
        qs = qs.filter(school=school)
    return sorted(set(qs.values_list("rule", flat=True).distinct()))


def findings_of(pupil: PupilRecord) -> list[Finding]:
    return list(
        Finding.objects.filter(pupil=pupil, is_current=True)
        .select_related("explained_by")
        .order_by("-severity", "rule", "field")  # errors first
    )


def open_conflicts(pupil: PupilRecord) -> list[PupilChange]:
    return list(pupil.changes.filter(conflict=PupilChange.Conflict.OPEN).order_by("at", "id"))


@dataclass
class TrailEntry:
    at: object
    who: str
    source: str  # what it came from, for people
    field: str
    old: str
    new: str
    reason: str = ""


def _upns(user, pupil: PupilRecord) -> set[str]:
    """Every UPN this pupil has had in the school: an LA edit may have changed it, and a school
    file may give a new one with the old as its former UPN."""
    pairs = list(
        scoped(user, PupilChange)
        .filter(school_id=pupil.school_id, field="upn")
        .values_list("old", "new")
    )
    pairs += list(
        scoped(user, PupilRecord)
        .filter(collection_id=pupil.collection_id, school_id=pupil.school_id)
        .exclude(former_upn="")
        .values_list("former_upn", "upn")
    )
    upns = {pupil.upn}
    grew = True
    while grew:  # follow chains: A -> B by an edit, B -> C by a later file's former UPN
        grew = False
        for old, new in pairs:
            if (old in upns or new in upns) and not {old, new} <= upns:
                upns |= {old, new}
                grew = True
    return upns - {""}


def trail(user, pupil: PupilRecord) -> list[TrailEntry]:
    """The pupil's history, oldest first: each school file (what it changed against the record
    before it, which holds any LA edits) and each change people made."""
    collection = pupil.collection
    names = editable_fields(collection)
    records = list(
        scoped(user, PupilRecord)
        .filter(collection=collection, school_id=pupil.school_id, upn__in=_upns(user, pupil))
        .select_related("upload", "upload__uploaded_by")
        .order_by("upload__uploaded_at", "upload_id", "id")
    )
    entries: list[TrailEntry] = []
    previous = None
    for r in records:
        if r.flag == "added":
            previous = r
            continue  # its PupilChange says who added it
        up = r.upload
        who = up.uploaded_by.get_username() if up.uploaded_by else "file import"
        source = f"School's file {up.file_name}"
        if previous is None:
            entries.append(TrailEntry(up.uploaded_at, who, source, "Pupil", "",
                                      f"{r.surname}, {r.forename} ({r.upn})"))  # fmt: skip
        elif previous.upload_id != r.upload_id:
            for name in names:
                old, new = value_of(previous, name), value_of(r, name)
                if old != new:
                    entries.append(TrailEntry(up.uploaded_at, who, source,
                                              field_label(collection, name), old, new))  # fmt: skip
        previous = r
    changes = (
        scoped(user, PupilChange)
        .filter(pupil__in=records)
        .select_related("resolved_by")
        .order_by("at", "id")
    )
    # (record, item) -> the item's value before the LA first edited it on that record (a later
    # school file starts a new record, whose values are the school's again)
    before_edits: dict[tuple[int, str], str] = {}
    for c in changes:
        source = c.get_source_display()
        if c.source == PupilChange.Source.EDIT:
            was = before_edits.setdefault((c.pupil_id, c.field), c.old)
            if c.new == was and c.old != was:
                source = "Edit: back to the value before the LA's edits"
        label = (
            c.field
            if c.source == PupilChange.Source.EXPLAINED
            else field_label(collection, c.field)
        )
        if c.source == PupilChange.Source.FILE:
            source = f"Conflict: the school's file disagrees with an LA edit ({words.mid_sentence(c.get_conflict_display())})"
            entries.append(TrailEntry(c.at, c.actor or "file import", source, label,
                                      f"LA edit: {c.old}", f"school's file: {c.new}", c.reason))  # fmt: skip
            continue
        entries.append(TrailEntry(c.at, c.actor, source, label, c.old, c.new, c.reason))
    entries.sort(key=lambda e: e.at)
    return entries
