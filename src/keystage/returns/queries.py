"""Reads for the return and the national collection: what is still open before a return is
built, the pupils that go into it, the collector's rows per LA and per school, and the history
of a school return. Pages pass querysets already narrowed by `accounts.scope`."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from keystage.audit.models import AuditEvent
from keystage.engine import definition as definitions
from keystage.engine import rules
from keystage.engine.collections import module_of
from keystage.engine.records import PupilRecord as EngineRecord
from keystage.engine.return_writer import Explanation, ReturnPupil
from keystage.engine.words import plural
from keystage.orgs.models import LocalAuthority, School
from keystage.reports.models import Fact
from keystage.returns.models import CollectedFinding, CollectedReturn
from keystage.submissions.models import Collection, Finding, PupilRecord

OPEN_ITEMS_SHOWN = 25  # then the Data Errors report, filtered by rule, has the rest


def open_items(la: LocalAuthority, collection: Collection) -> list[dict]:
    """Current errors and queries without an explanation in the LA's data, school then pupil."""
    rows = (
        Finding.objects.filter(la=la, collection=collection, is_current=True)
        .filter(Q(severity="error") | Q(severity="query", explanation=""))
        .select_related("school", "pupil")
        .order_by("school__laestab", "pupil__line", "rule")
    )
    return [
        {
            "laestab": f.school.laestab if f.school else "",
            "school": f.school.name if f.school else "",
            "upn": f.pupil.upn if f.pupil else "",
            "pupil": f"{f.pupil.surname}, {f.pupil.forename}" if f.pupil else "",
            "rule": f.rule,
            "severity": f.severity,
            "field": f.field,
            "value": f.value,
            "message": f.message,
        }
        for f in rows
    ]


def return_schools(la: LocalAuthority, collection: Collection):
    """The LA's schools with current pupils: the schools a return is built for."""
    ids = (
        PupilRecord.objects.filter(la=la, collection=collection, is_current=True)
        .values("school_id")
        .distinct()
    )
    return School.objects.filter(pk__in=ids).order_by("laestab")


def _explanations(rows) -> dict:
    out: dict = defaultdict(list)
    for key, rule, field, text in rows:
        out[key].append(Explanation(rule, field, text))
    return out


def return_pupils(
    la: LocalAuthority, collection: Collection
) -> Iterator[tuple[School, Iterator[ReturnPupil]]]:
    """Per school, its current pupils as the return writes them, each with the explanations of
    its explained queries. Pupils are streamed from the database a school at a time."""
    for school in return_schools(la, collection):
        notes = _explanations(
            Finding.objects.filter(
                school=school,
                collection=collection,
                is_current=True,
                severity="query",
                pupil__isnull=False,
            )
            .exclude(explanation="")
            .values_list("pupil_id", "rule", "field", "explanation")
        )

        def pupils(school=school, notes=notes) -> Iterator[ReturnPupil]:
            rows = (
                PupilRecord.objects.filter(school=school, collection=collection, is_current=True)
                .order_by("line", "pk")
                .values_list(
                    "pk", "upn", "surname", "forename", "dob", "sex", "outcomes", "nc_year"
                )
            )
            for pk, upn, surname, forename, dob, sex, outcomes, nc_year in rows.iterator(
                chunk_size=2000
            ):
                yield ReturnPupil(
                    upn, surname, forename, dob, sex, outcomes, notes.get(pk, []), nc_year
                )

        yield school, pupils()


def school_explanations(school: School, collection: Collection) -> list[Explanation]:
    """Explanations of the school's own (not pupil) queries, e.g. too few pupils."""
    rows = (
        Finding.objects.filter(
            school=school,
            collection=collection,
            is_current=True,
            severity="query",
            pupil__isnull=True,
        )
        .exclude(explanation="")
        .values_list("rule", "field", "explanation")
    )
    return [Explanation(*r) for r in rows]


# -- the return's figures (check your answers) ---------------------------------------------------


def count_return_pupils(pupils, definition) -> dict:
    """The counts of the collection's measures module (`module_of(definition, "measures")`)
    of pupils as the return carries them (`ReturnPupil`s or collected pupils), as JSON."""
    module = module_of(definition, "measures")
    records = [
        EngineRecord(line=0, upn=p.upn, nc_year=p.nc_year, outcomes=dict(p.outcomes or {}))
        for p in pupils
    ]
    return module.to_json(module.count_pupils(records, definition))


def return_figures(definition, counted: list[dict]) -> list[tuple[str, str]]:
    """The headline figures of the schools' counts (`count_return_pupils`) added up, as the
    collection's measures module words them; [] when nothing was counted."""
    if not counted:
        return []
    module = module_of(definition, "measures")
    total = sum(module.from_json(c) for c in counted)
    return module.headlines(total, definition, as_of=timezone.localdate())


def generation_figures(generation) -> list[tuple[str, str]]:
    """The figures of a built return, from the counts kept per school file when it was built
    (a return built before they were kept has none)."""
    counted = [f["counts"] for f in generation.files if f.get("counts")]
    return return_figures(definitions.load(generation.collection.code), counted)


def held_figures(held: list[CollectedReturn], collection: Collection) -> list[tuple[str, str]]:
    """The figures of school returns the national collection holds (their current pupils)."""
    from keystage.returns.models import CollectedPupil

    d = definitions.load(collection.code)
    pupils = CollectedPupil.objects.filter(
        version_id__in=[cr.current_id for cr in held if cr.current_id], is_current=True
    ).only("upn", "nc_year", "outcomes")
    return return_figures(d, [count_return_pupils(pupils, d)]) if held else []


# -- the collector's view -----------------------------------------------------------------------

LA_STATES = {
    "none": "No return yet",  # the LA may well have data in Keystage: `LaRow.in_keystage`
    "loaded": "Loaded",
    "returned": "Sent back to the LA",
    "submitted": "Submitted",
    "amended": "Amended after submission",
    "authorised": "Authorised",
}
STATE_TAGS = {
    "none": "govuk-tag--grey",
    "loaded": "govuk-tag--blue",
    "returned": "govuk-tag--red",
    "submitted": "govuk-tag--yellow",
    "amended": "govuk-tag--orange",
    "authorised": "govuk-tag--green",
}
LA_SORTS = (
    "code",
    "name",
    "region",
    "state",
    "schools",
    "pupils",
    "errors",
    "queries",
    "unexplained",
    "authorised",
    "updated",
)


@dataclass
class LaRow:
    code: str
    name: str
    region: str
    state: str
    schools: int
    submitted: int
    authorised: int
    pupils: int
    errors: int
    queries: int
    unexplained: int
    updated: dt.datetime | None
    # Pupils of the LA loaded in Keystage (its own uploads, before any return): what the
    # national report's coverage counts as "loaded".
    in_keystage: int = 0

    @property
    def state_label(self) -> str:
        return LA_STATES[self.state]

    @property
    def state_detail(self) -> str:
        """What the state means for an LA without a return: whether Keystage holds its data."""
        if self.state != "none" or not self.in_keystage:
            return ""
        return f"{plural(self.in_keystage, 'pupil')} loaded in Keystage"


def la_state(statuses: dict[str, int]) -> str:
    """An LA's state from the count of its school returns in each status."""
    total = sum(statuses.values())
    if not total:
        return "none"
    if statuses.get("returned"):  # the LA has something to correct before anything else
        return "returned"
    if statuses.get("amended"):
        return "amended"
    if statuses.get("authorised") == total:
        return "authorised"
    if not statuses.get("loaded"):
        return "submitted"
    return "loaded"


def la_rows(las, collection: Collection) -> list[LaRow]:
    """One row per LA in `las` (a scoped queryset), in LA code order."""
    held = (
        CollectedReturn.objects.filter(collection=collection, la__in=las)
        .values("la_id", "status")
        .annotate(
            n=Count("id"),
            pupils=Sum("pupils"),
            errors=Sum("errors"),
            queries=Sum("queries"),
            unexplained=Sum("unexplained"),
        )
    )
    by_la: dict[int, dict] = defaultdict(
        lambda: {"statuses": {}, "pupils": 0, "errors": 0, "queries": 0, "unexplained": 0}
    )
    for row in held:
        agg = by_la[row["la_id"]]
        agg["statuses"][row["status"]] = row["n"]
        for k in ("pupils", "errors", "queries", "unexplained"):
            agg[k] += row[k] or 0
    updated = dict(
        CollectedReturn.objects.filter(collection=collection, la__in=las)
        .values("la_id")
        .annotate(at=Max("updated_at"))
        .values_list("la_id", "at")
    )
    in_keystage = dict(
        Fact.objects.filter(collection=collection, level="la", group="all", la__in=las).values_list(
            "la_id", "pupils"
        )
    )
    rows = []
    for la in las.select_related("region").order_by("code"):
        agg = by_la.get(la.pk) or {
            "statuses": {},
            "pupils": 0,
            "errors": 0,
            "queries": 0,
            "unexplained": 0,
        }
        st = agg["statuses"]
        rows.append(
            LaRow(
                code=la.code,
                name=la.name,
                region=la.region.name,
                state=la_state(st),
                schools=sum(st.values()),
                submitted=st.get("submitted", 0),
                authorised=st.get("authorised", 0),
                pupils=agg["pupils"],
                errors=agg["errors"],
                queries=agg["queries"],
                unexplained=agg["unexplained"],
                updated=updated.get(la.pk),
                in_keystage=in_keystage.get(la.pk, 0),
            )
        )
    return rows


def sort_la_rows(rows: list[LaRow], sort: str, desc: bool) -> list[LaRow]:
    if sort not in LA_SORTS:
        sort = "code"
    order = list(LA_STATES)

    def key(r: LaRow):
        if sort == "state":
            return order.index(r.state)
        if sort == "updated":
            return r.updated or dt.datetime.min.replace(tzinfo=dt.UTC)
        return getattr(r, sort)

    return sorted(rows, key=key, reverse=desc)


def days_to_deadline(collection: Collection, today: dt.date | None = None) -> tuple[dt.date, int]:
    """The national deadline (spec §1.0, from the definition) and the days left (negative once
    it has passed)."""
    deadline = definitions.load(collection.code).dates["national_deadline"]
    today = today or timezone.localdate()
    return deadline, (deadline - today).days


def deadline_text(days: int) -> str:
    if days > 1:
        return f"{days} days to go"
    if days == 1:
        return "1 day to go"
    if days == 0:
        return "due today"
    if days < -60:
        return "closed"  # a past year's collection: a count of days helps nobody
    return f"passed {-days} day{'s' if days != -1 else ''} ago"


def findings_of(cr: CollectedReturn):
    """The current errors and queries of a school return, errors first."""
    return (
        CollectedFinding.objects.filter(version_id=cr.current_id, is_current=True)
        .select_related("pupil")
        .order_by("severity", "pupil__line", "rule")
    )


def history_of(cr: CollectedReturn):
    """Audit rows about this school return, newest first."""
    return AuditEvent.objects.filter(object_type="CollectedReturn", object_id=str(cr.pk))


def collected_pupils(cr: CollectedReturn):
    return (
        cr.current.collected_pupils.filter(is_current=True).order_by("line", "pk")
        if (cr.current_id)
        else []
    )


def open_items_by_rule(items: list[dict]) -> list[dict]:
    """Open items counted per rule (errors first, then by count): what an LA with hundreds of
    open items reads first, each leading to the Data Errors report for that rule."""
    found: dict[str, dict] = {}
    for i in items:
        row = found.setdefault(
            i["rule"], {"rule": i["rule"], "severity": i["severity"], "count": 0,
                        "message": i["message"]},
        )  # fmt: skip
        row["count"] += 1
    return sorted(found.values(), key=lambda r: (r["severity"] != "error", -r["count"], r["rule"]))


# -- why the LA's count and the collection's count of errors differ ---------------------------

# Errors only a school's own file can show: the return carries one result per subject, of this
# collection's stage, year and method, so these never reach the national collection as such.
# Each collection's rules say which they are and why (`Rule.file_only`).
UNTRAVELLED = {r.id: r.file_only for r in rules.file_only_rules().values()}


def _rule_title(rule: str) -> str:
    known = rules.RULES.get(rule)
    return known.title if known else rule


def untravelled_rules_text(definition=None) -> str:
    """Each rule id and title, joined with "and": 'X More than one result and Y Wrong ...';
    with a definition, only its collection's rules ("" when it has none)."""
    ids = list(UNTRAVELLED)
    if definition is not None:
        ctx = rules.context_for(definition)
        own = {rule.id for found in ctx.by_scope.values() for rule, _ in found}
        ids = [r for r in ids if r in own]
    if not ids:
        return ""
    names = [f"{r} {_rule_title(r)}" for r in ids]
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def untravelled_errors(items: list[dict]) -> list[dict]:
    """Of the LA's open items, the errors that cannot travel in the return, counted per rule."""
    counts: dict[str, int] = defaultdict(int)
    for i in items:
        if i["severity"] == "error" and i["rule"] in UNTRAVELLED:
            counts[i["rule"]] += 1
    return [
        {"rule": r, "title": _rule_title(r), "count": n, "why": UNTRAVELLED[r]}
        for r, n in sorted(counts.items())
    ]


@dataclass
class ErrorDifference:
    """Errors in the LA's data now against errors in the school returns the collection holds,
    with the rules whose counts differ."""

    in_data: int
    in_return: int
    rules: list[dict]


def error_difference(la: LocalAuthority, collection: Collection) -> ErrorDifference:
    in_data = Counter(
        Finding.objects.filter(la=la, collection=collection, is_current=True, severity="error")
        .values_list("rule", flat=True)
        .iterator()
    )
    in_return = Counter(
        CollectedFinding.objects.filter(
            la=la,
            is_current=True,
            severity="error",
            version__collected_return__collection=collection,
        )
        .values_list("rule", flat=True)
        .iterator()
    )
    differ = [
        {
            "rule": r,
            "title": _rule_title(r),
            "in_data": in_data[r],
            "in_return": in_return[r],
            "why": UNTRAVELLED.get(r, ""),
        }
        for r in sorted(set(in_data) | set(in_return))
        if in_data[r] != in_return[r]
    ]
    return ErrorDifference(sum(in_data.values()), sum(in_return.values()), differ)
