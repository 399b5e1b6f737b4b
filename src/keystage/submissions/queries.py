"""Reads for the Data Errors report and the pupil list, shared by the CLI and the web.

Callers pass the LA and school filters they are allowed; the web passes a user's scope.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator

from django.db.models import Max, QuerySet

from keystage.accounts.scope import scoped
from keystage.engine import definition as definitions
from keystage.engine import rules
from keystage.submissions.cleaning import editable_fields, rule_title, who_corrects
from keystage.submissions.models import (
    Collection,
    Finding,
    ImportBatch,
    PupilChange,
    PupilRecord,
    Upload,
)

ERROR_FIELDS = (
    "laestab",
    "upn",
    "surname",
    "forename",
    "rule",
    "severity",
    "field",
    "value",
    "message",
)
# The Data Errors report's downloads in the web: the rule's title and who corrects it too, in
# the words of the pupil grid (`cleaning.who_corrects`).
REPORT_FIELDS = (
    "laestab",
    "upn",
    "surname",
    "forename",
    "rule",
    "rule_title",
    "severity",
    "who_corrects",
    "field",
    "value",
    "message",
)
PUPIL_FIELDS_HEAD = ("laestab", "upn", "surname", "forename", "dob", "sex")


# `for_user` left out: no user's scope applies (the command line). Not None, which is a user
# who sees nothing.
_EVERYONE = object()


def _scoped(user, qs):
    return qs if user is _EVERYONE else scoped(user, qs)


def _filter(
    qs, la: str | None, school: str | None, *, la_field="la__code", school_field="school__laestab"
):
    if la:
        qs = qs.filter(**{la_field: la})
    if school:
        qs = qs.filter(**{school_field: school})
    return qs


def data_errors(
    collection: Collection,
    *,
    la: str | None = None,
    school: str | None = None,
    severity: str | None = None,
    for_user=_EVERYONE,
) -> Iterator[dict]:
    """The Data Errors report, school then pupil: every current finding, and every rejected
    file that no later accepted file from the same school has replaced.

    `for_user` narrows the report to what that user may see (the web passes the signed-in
    user); the command line, run by the operator on the server, leaves it out."""
    rows: list[dict] = []
    # A pupil's value the LA can correct in the grid (or the finding is of the whole pupil).
    editable = {"", "pupil", *editable_fields(collection)}
    findings = _filter(
        _scoped(for_user, Finding.objects.filter(collection=collection, is_current=True)),
        la,
        school,
    ).select_related("school", "pupil")
    # Only what the rows show: a pupil's outcomes and characteristics are not decoded for it.
    findings = findings.only(
        "rule", "severity", "field", "value", "message", "explanation", "school", "pupil",
        "school__laestab", "school__name",
        "pupil__upn", "pupil__surname", "pupil__forename", "pupil__line",
    )  # fmt: skip
    if severity:
        findings = findings.filter(severity=severity)
    for f in findings.iterator(chunk_size=5000):
        p = f.pupil
        rows.append(
            {
                "laestab": f.school.laestab if f.school else "",
                "upn": p.upn if p else "",
                "surname": p.surname if p else "",
                "forename": p.forename if p else "",
                "rule": f.rule,
                "rule_title": rule_title(f.rule),
                "severity": f.severity,
                "who_corrects": who_corrects(f.severity, p is not None, f.field in editable),
                "field": f.field,
                "value": f.value,
                "message": f.message,
                "_school": f.school.name if f.school else "",
                "_line": p.line if p else 0,
                "_pupil_id": p.pk if p else None,  # for a link to the pupil's page
                "_explanation": f.explanation,  # a query confirmed correct
            }
        )
    if severity in (None, "error"):
        rows.extend(_open_rejections(collection, la, school, for_user))
    rows.sort(
        key=lambda r: (
            r["laestab"],
            r["upn"] != "",
            r["surname"].casefold(),
            r["forename"].casefold(),
            r["upn"],
            r["_line"],
            r["rule"],
        )
    )
    yield from rows


def _open_rejections(collection, la, school, for_user=_EVERYONE) -> Iterator[dict]:
    rejected = _filter(
        _scoped(
            for_user, Upload.objects.filter(collection=collection, state=Upload.State.REJECTED)
        ),
        la,
        school,
    ).select_related("school")
    rejected = list(rejected)
    # A rejected file is the file rule's finding (F01 in the collection's rule ids).
    file_rule = rules.rule_id(definitions.load(collection.code), "F01")
    # The latest file not rejected of each school with a rejected file: only those schools
    # (reading every upload of the country cost most of an LA's report).
    latest_ok = dict(
        Upload.objects.filter(
            collection=collection, school_id__in={u.school_id for u in rejected if u.school_id}
        )
        .exclude(state=Upload.State.REJECTED)
        .values("school_id")
        .annotate(at=Max("uploaded_at"))
        .values_list("school_id", "at")
    )
    for u in rejected:
        if u.school_id and u.school_id in latest_ok and latest_ok[u.school_id] > u.uploaded_at:
            continue
        yield {
            "laestab": u.school.laestab if u.school else "",
            "upn": "",
            "surname": "",
            "forename": "",
            "rule": file_rule,
            "rule_title": rule_title(file_rule),
            "severity": "error",
            "who_corrects": who_corrects("error", False),
            "field": "file",
            "value": u.file_name,
            "message": f"File rejected: {u.reason}",
            "_school": u.school.name if u.school else "",
            "_line": 0,
        }


def pupil_list(
    collection: Collection, *, la: str | None = None, school: str | None = None
) -> Iterator[dict]:
    definition = definitions.load(collection.code)
    subjects = definition.subject_keys
    pupils = _filter(PupilRecord.objects.filter(collection=collection, is_current=True), la, school)
    counts: Counter = Counter()
    for pid, sev in (
        _filter(
            Finding.objects.filter(collection=collection, is_current=True, pupil__isnull=False),
            la,
            school,
        )
        .values_list("pupil_id", "severity")
        .iterator(chunk_size=20000)
    ):
        counts[(pid, sev)] += 1
    # Pupils the LA changed (the school owns its data, so reports say so): for each item the
    # LA edited, the value before its first edit. A pupil whose edited items are all back to
    # those values (the LA undid its edits) is not "edited".
    before_edits: dict[int, dict[str, str]] = defaultdict(dict)
    for pid, name, old in (
        _filter(
            PupilChange.objects.filter(
                collection=collection, source=PupilChange.Source.EDIT, pupil__is_current=True
            ),
            la,
            school,
        )
        .order_by("at", "id")
        .values_list("pupil_id", "field", "old")
    ):
        before_edits[pid].setdefault(name, old)
    rows = pupils.values_list(
        "id", "school__laestab", "upn", "surname", "forename", "dob", "sex", "outcomes", "flag"
    ).order_by("school__laestab", "surname", "forename", "upn", "id")
    for pid, laestab, upn, surname, forename, dob, sex, outcomes, flag in rows.iterator(
        chunk_size=5000
    ):
        row = {
            "laestab": laestab,
            "upn": upn,
            "surname": surname,
            "forename": forename,
            "dob": dob,
            "sex": sex,
        }
        for s in subjects:
            # Codes are stored as the school wrote them; the list shows them as they count
            # (trimmed, upper case: "exs " is EXS), as the rules compare them.
            row[s] = (outcomes.get(s) or "").strip().upper()
        row["errors"] = counts[(pid, "error")]
        row["queries"] = counts[(pid, "query")]
        # "added" or "edited" by the LA, else "": reports, the CLI and the checking report
        # flag it (a pupil the LA removed is not current, so not listed).
        edited = False
        if pid in before_edits:
            now = {**row, **outcomes}
            edited = any(now.get(n, "") != was for n, was in before_edits[pid].items())
        row["la_change"] = flag or ("edited" if edited else "")
        yield row


def pupil_fields(collection: Collection) -> tuple[str, ...]:
    return (
        *PUPIL_FIELDS_HEAD,
        *definitions.load(collection.code).subject_keys,
        "errors",
        "queries",
        "la_change",
    )


def batches_for(user) -> QuerySet:
    """Upload batches the user may see: the LA's for its admins and officers, a school's for
    its school user, and always the user's own. A restricted officer's batch names no school
    (it may hold several), so their own batches are added back, within their LA."""
    from keystage.accounts.scope import las_for, scoped

    if not getattr(user, "is_authenticated", False):
        return ImportBatch.objects.none()
    own = ImportBatch.objects.filter(uploaded_by=user, la__in=las_for(user))
    return scoped(user, ImportBatch) | own
