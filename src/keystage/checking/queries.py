"""Reads of the school check loop: each school's check state for the LA dashboard and the
checking pages, the released pupil list, and the school summary (with the LA's figures when
the LA lets its schools see comparisons).

The school's own figures are counted from its current pupil records with the engine, so they
always match the pupil list it is checking; LA figures come from the fact tables through the
reports' disclosure control (`reports.queries.figures`), as the school sees them: a figure
resting on too few pupils, or that would reveal other schools' pupils once the school's own are
taken out of it, is shown as "c"."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from django.db.models import Max, Q

from keystage.accounts.scope import scoped
from keystage.audit.models import AuditEvent
from keystage.checking.models import Confirmation, Message, Release
from keystage.engine import collections as collection_packages
from keystage.engine import definition as definitions
from keystage.engine.measures import UNKNOWN, count_pupils, measures, rounded
from keystage.engine.records import PupilRecord as EngineRecord
from keystage.engine.words import sentence_start
from keystage.orgs.models import School
from keystage.reports import queries as report_queries
from keystage.reports.disclosure import SUPPRESSED, Viewer
from keystage.reports.disclosure import threshold as disclosure_threshold
from keystage.submissions.models import Collection, PupilRecord, Upload
from keystage.submissions.queries import pupil_list
from keystage.web.jinja2 import long_datetime as local_long_datetime

# Audit actions that change a school's pupil records other than by a new file (the cleaning
# grid's "pupil.edited", "pupil.added", "pupil.removed", "pupil.conflict_resolved"): a
# confirmation older than one of these is for data that has changed since.
DATA_CHANGE_PREFIXES = ("pupil.",)


class CheckState(StrEnum):
    NOT_RELEASED = "not_released"
    RELEASED = "released"
    QUERY = "query"
    CONFIRMED = "confirmed"
    CHANGED = "changed"  # confirmed, but the data changed after the confirmation


CHECK_LABELS = {
    CheckState.NOT_RELEASED: "Not released",
    CheckState.RELEASED: "Reports released",
    CheckState.QUERY: "Query from school",
    CheckState.CONFIRMED: "Checked by school",
    CheckState.CHANGED: "Checked, data changed since",
}
CHECK_TAGS = {
    CheckState.NOT_RELEASED: "govuk-tag--grey",
    CheckState.RELEASED: "govuk-tag--blue",
    CheckState.QUERY: "govuk-tag--orange",
    CheckState.CONFIRMED: "govuk-tag--green",
    CheckState.CHANGED: "govuk-tag--yellow",
}


@dataclass
class CheckStatus:
    state: CheckState
    release: Release | None
    confirmation: Confirmation | None  # the latest confirmation of the current release
    open_query: bool  # the thread's latest message is from the school
    messages: int
    data_changed_at: dt.datetime | None

    @property
    def label(self) -> str:
        return CHECK_LABELS[self.state]

    @property
    def tag(self) -> str:
        return CHECK_TAGS[self.state]

    @property
    def detail(self) -> str:
        """Who confirmed and when, or when the reports were released, for people."""
        c, r = self.confirmation, self.release
        if c is not None and self.state in (CheckState.CONFIRMED, CheckState.CHANGED):
            text = f"{c.name}, {c.job_title}, {when(c.confirmed_at)}"
        elif r is not None:
            text = f"Released {when(r.released_at)}"
        else:
            return ""
        if r.reminded_at is not None and (c is None or r.reminded_at > c.confirmed_at):
            times = "" if r.reminders == 1 else f" ({r.reminders} reminders)"
            text += f"; reminded {when(r.reminded_at)}{times}"
        return text


# "19 June 2011 at 2:05pm", in the service's time zone: the pages' own filter.
when = local_long_datetime


def data_changed_at(collection: Collection, school_ids) -> dict[int, dt.datetime]:
    """{school id: when its current data last changed}: its latest accepted file, or a later
    edit of its pupil records."""
    found: dict[int, dt.datetime] = dict(
        Upload.objects.filter(collection=collection, school_id__in=school_ids)
        .exclude(state=Upload.State.REJECTED)
        .values("school_id")
        .annotate(at=Max("uploaded_at"))
        .values_list("school_id", "at")
    )
    edits = Q()
    for prefix in DATA_CHANGE_PREFIXES:
        edits |= Q(action__startswith=prefix)
    for school_id, at in (
        AuditEvent.objects.filter(edits, school_id__in=school_ids)
        .values("school_id")
        .annotate(at=Max("at"))
        .values_list("school_id", "at")
    ):
        if school_id not in found or at > found[school_id]:
            found[school_id] = at
    return found


def check_statuses(user, collection: Collection, schools) -> dict[int, CheckStatus]:
    """{school id: its check state} for the given schools, read within the user's scope."""
    ids = [s.pk if isinstance(s, School) else s for s in schools]
    releases = {
        r.school_id: r
        for r in scoped(user, Release).filter(
            collection=collection, school_id__in=ids, is_current=True
        )
    }
    confirmations: dict[int, Confirmation] = {}
    for c in (
        scoped(user, Confirmation)
        .filter(collection=collection, release__in=[r.pk for r in releases.values()])
        .order_by("confirmed_at", "id")
    ):
        confirmations[c.school_id] = c  # the latest wins
    last_message: dict[int, tuple[bool, int]] = {}
    for school_id, from_school in (
        scoped(user, Message)
        .filter(collection=collection, school_id__in=ids)
        .order_by("sent_at", "id")
        .values_list("school_id", "from_school")
    ):
        count = last_message.get(school_id, (False, 0))[1]
        last_message[school_id] = (from_school, count + 1)
    changed = data_changed_at(collection, ids)
    out = {}
    for school_id in ids:
        release = releases.get(school_id)
        confirmation = confirmations.get(school_id)
        open_query, n_messages = last_message.get(school_id, (False, 0))
        changed_at = changed.get(school_id)
        if release is None:
            state = CheckState.NOT_RELEASED
        elif open_query:
            state = CheckState.QUERY
        elif confirmation is not None:
            state = (
                CheckState.CHANGED
                if changed_at is not None and changed_at > confirmation.confirmed_at
                else CheckState.CONFIRMED
            )
        else:
            state = CheckState.RELEASED
        out[school_id] = CheckStatus(
            state=state,
            release=release,
            confirmation=confirmation,
            open_query=open_query,
            messages=n_messages,
            data_changed_at=changed_at,
        )
    return out


def thread(user, collection: Collection, school: School) -> list[Message]:
    return list(
        scoped(user, Message)
        .filter(collection=collection, school=school)
        .select_related("author")
        .order_by("sent_at", "id")
    )


def confirmations(user, collection: Collection, school: School) -> list[Confirmation]:
    return list(
        scoped(user, Confirmation)
        .filter(collection=collection, school=school)
        .select_related("release")
        .order_by("-confirmed_at", "-id")
    )


def pupils(collection: Collection, school: School) -> list[dict]:
    """The school's current pupils as the checking report lists them, each with their NC year
    (the caller has checked the user may see the school)."""
    found = list(pupil_list(collection, la=school.la.code, school=school.laestab))
    years = dict(
        PupilRecord.objects.filter(
            collection=collection, school=school, is_current=True
        ).values_list("upn", "nc_year")
    )
    # Codes as the definition spells them (phonics' "Wt"; the list upper-cases them).
    spelt = {c.upper(): c for s in definitions.load(collection.code).subjects for c in s.valid}
    keys = definitions.load(collection.code).subject_keys
    for row in found:
        row["nc_year"] = years.get(row["upn"], "")
        row.update({k: spelt.get(row[k], row[k]) for k in keys})
    return found


# -- the school summary -----------------------------------------------------------------------


@dataclass
class SummaryRow:
    label: str
    cells: list[str]  # one per subject


@dataclass
class Summary:
    pupils: int
    subjects: list[str]  # subject labels, in the definition's order
    codes: list[SummaryRow]  # pupils at each outcome code (that any pupil has), with the share
    measures: list[SummaryRow]  # eligible, then the met and higher measures (in that order)
    combined: dict | None  # KS1's reading, writing and maths together; None for a collection
    # without a combined measure (phonics)
    comparison: dict | None  # the LA's figures: {"name", "subjects": [...], "combined": {...}}
    # What the outcome table's shares are of, and any word on figures not shown yet.
    share_of: str = "the share is of pupils eligible in the subject"
    notes: tuple[str, ...] = ()
    nc_years: bool = False  # the pupil list shows each pupil's NC year (phonics: Years 1 and 2)
    items: list[str] | None = None  # the pupil list's item columns: `subjects` when None


def _percent(value) -> str:
    r = rounded(value, 0)
    return "" if r is None else f"{r}%"


def _share(count: int, pct) -> str:
    shown = _percent(pct)
    return f"{count:,} ({shown})" if shown else f"{count:,}"


def _headline(m: dict, subjects) -> dict:
    """Expected standard or above and greater depth, per subject and combined, as text."""
    return {
        "subjects": [
            {
                "met": _percent(m["subjects"][s.key]["met_percent"]) or "-",
                "higher": "-"
                if m["subjects"][s.key]["higher"] is None
                else _percent(m["subjects"][s.key]["higher_percent"]) or "-",
            }
            for s in subjects
        ],
        "combined": {
            "met": _percent(m["combined"]["met_percent"]) or "-",
            "higher": _percent(m["combined"]["higher_percent"]) or "-",
        },
    }


def _shown(figure) -> str:
    """A comparison figure as the school sees it: "c" when disclosure control hides it."""
    if figure is None:
        return "-"
    if figure.hidden:
        return SUPPRESSED
    return _percent(figure.percent) or "-"


def la_comparison(collection: Collection, school: School, keys, measures, *,
                  combined: bool = True) -> dict:  # fmt: skip
    """The LA's figures for the school's report, with the reports' disclosure control applied
    for the school as viewer (also when an LA user previews or prints the report: it is the
    school's report). The LA chose to let its schools compare themselves with it. One row per
    (measure, label) of `measures`, a cell per row of the reports in `keys` (KS1's subjects,
    phonics' year groups); with `combined`, KS1's combined measure too."""
    la_area = report_queries.school_area(school)[1]
    viewer = Viewer(school_ids=frozenset([school.pk]))
    found = (
        report_queries.figures(collection, [la_area], ["all"], viewer)
        .get((la_area.level, la_area.code), {})
        .get("all")
    )
    if found is None:
        return {"name": school.la.name, "available": False}
    by_subject = found.subjects
    rows = [
        SummaryRow(label, [_shown(by_subject.get(k, {}).get(measure)) for k in keys])
        for measure, label in measures
    ]
    shown_combined = None
    if combined:
        both = by_subject[report_queries.headline(collection)]
        shown_combined = {"met": _shown(both["met"]), "higher": _shown(both["higher"])}
    cells = [c for row in rows for c in row.cells] + list((shown_combined or {}).values())
    return {
        "name": school.la.name,
        "available": True,
        "rows": rows,
        "combined": shown_combined,
        "pupils": SUPPRESSED if found.pupils_hidden else found.pupils,
        "suppressed": found.pupils_hidden or SUPPRESSED in cells,
        "threshold": disclosure_threshold(),
    }


def _label(bucket: str) -> str:
    """A bucket's name from the definition for people: "working_towards_expected_standard"
    -> "Working towards expected standard"."""
    return bucket.replace("_", " ").capitalize()


def _school_records(collection: Collection, school: School) -> list[EngineRecord]:
    """The school's current pupils of the collection as the engine's records (UPN, NC year and
    outcomes: what its measures count)."""
    rows = PupilRecord.objects.filter(collection=collection, school=school, is_current=True)
    return [
        EngineRecord(line=0, upn=upn, nc_year=nc_year, outcomes=outcomes or {})
        for upn, nc_year, outcomes in rows.values_list("upn", "nc_year", "outcomes")
    ]


def _summary_by_row(collection: Collection, school: School, definition, *,
                    comparisons: bool) -> Summary:  # fmt: skip
    """The school summary of a collection whose report rows are each the share of the pupils
    assessed who are at the expected level in a set of items (the EYFS profile: a good level
    of development, all 17 goals, each area of learning), a column each: the pupils at and not
    at the expected level, those assessed, and the share; the pupils left out, in words."""
    module = collection_packages.module_of(definition, "measures")
    reports = collection_packages.module_of(definition, "reports")
    records = _school_records(collection, school)
    m = module.measures(module.count_pupils(records, definition), definition)
    keys = list(m["rows"])
    found = [m["rows"][k] for k in keys]
    met = sentence_start(report_queries.measure_labels(collection)["met"])
    code_rows = [
        SummaryRow(met, [_share(r["met"], r["met_percent"]) for r in found]),
        SummaryRow("Not " + met[:1].lower() + met[1:], [
            _share(r["eligible"] - r["met"], None if r["met_percent"] is None
                   else 100 - r["met_percent"]) for r in found
        ]),
    ]  # fmt: skip
    measure_rows = [
        SummaryRow("Assessed", [f"{r['eligible']:,}" for r in found]),
        SummaryRow(met, [_percent(r["met_percent"]) or "-" for r in found]),
    ]
    notes = tuple(reports.notes(m))
    for label, value in getattr(reports, "averages", lambda _: [])(m):
        notes += (f"{label}: {'-' if value is None else value}.",)
    comparison = None
    if comparisons:
        comparison = la_comparison(collection, school, keys, [("met", met)], combined=False)
    return Summary(
        pupils=m["pupils"],
        subjects=[r["label"] for r in found],
        codes=code_rows,
        measures=measure_rows,
        combined=None,
        comparison=comparison,
        share_of="the share is of the pupils assessed",
        items=[s.label for s in definition.subjects],
        notes=notes,
    )


def _summary_by_group(collection: Collection, school: School, definition, as_of, *,
                      comparisons: bool) -> Summary:  # fmt: skip
    """The school summary of a collection whose measures are by pupil group (phonics: Year 1
    and the Year 2 re-check, each a column), from its package's measures module: pupils in
    each bucket of the definition with the share of eligible pupils, eligible pupils and the
    share meeting the expected standard, or why it is not shown yet (the threshold not yet
    published). Groups across years (by the end of Year 2) need other collections' records
    and are left to the reports."""
    module = collection_packages.module_of(definition, "measures")
    records = _school_records(collection, school)
    m = module.measures(module.count_pupils(records, definition), definition, as_of=as_of)
    keys = [k for k, g in m["groups"].items() if g["distribution"] is not None]
    groups = [m["groups"][k] for k in keys]
    eligible_bucket = next(iter(groups[0]["buckets"])) if groups else ""
    # The buckets in the words of the collection's reports, as on the LA's summary page.
    label = getattr(report_queries.own_reports(collection), "bucket_label", _label)
    code_rows = []
    for name in groups[0]["buckets"] if groups else ():
        if name == eligible_bucket:
            continue
        cells = []
        for g in groups:
            b = g["buckets"][name]
            cells.append("-" if b["count"] is None else _share(b["count"], b["percent"]))
        code_rows.append(SummaryRow(label(name), cells))
    met = sentence_start(report_queries.measure_labels(collection)["met"])
    measure_rows = [
        SummaryRow("Eligible pupils", [f"{g['eligible']:,}" for g in groups]),
        SummaryRow(
            met, [_percent(g["met_percent"]) or "-" if g["reason"] is None else "-" for g in groups]
        ),
    ]
    reason = m["threshold"]["reason"]
    notes = ()
    if reason:
        notes = (
            f"Pupils meeting the expected standard are not shown yet: {reason}. Until then "
            "the table gives the counts that do not depend on it.",
        )
    comparison = None
    if comparisons:  # the LA's facts, as of today (the reports' day), whatever `as_of` is
        comparison = la_comparison(collection, school, keys, [("met", met)], combined=False)
    return Summary(
        pupils=m["pupils"],
        subjects=[g["label"] for g in groups],
        codes=code_rows,
        measures=measure_rows,
        combined=None,
        comparison=comparison,
        share_of="the share is of the group's eligible pupils",
        items=[s.label for s in definition.subjects],
        notes=notes,
        nc_years=len(definition.nc_years) > 1,
    )


def summary(collection: Collection, school: School, *, comparisons: bool,
            as_of: dt.date | None = None) -> Summary:  # fmt: skip
    """Per subject: pupils at each outcome (with the share of eligible pupils), eligible pupils,
    the share at the expected standard or above and at greater depth; the combined reading,
    writing and maths measure. With `comparisons`, the LA's figures from the fact tables, with
    disclosure control (`la_comparison`). A collection whose measures are by pupil group
    (phonics) has its own layout (`_summary_by_group`), its figures as on `as_of` (today when
    None: the threshold may not be published yet)."""
    definition = definitions.load(collection.code)
    if definition.raw.get("measures", {}).get("groups"):  # [measures.groups]: by pupil group
        return _summary_by_group(collection, school, definition, as_of, comparisons=comparisons)
    if definition.raw.get("measures", {}).get("rows"):  # [measures] rows: each a share (EYFSP)
        return _summary_by_row(collection, school, definition, comparisons=comparisons)
    subjects = list(definition.subjects)
    outcomes = PupilRecord.objects.filter(
        collection=collection, school=school, is_current=True
    ).values_list("outcomes", flat=True)
    m = measures(count_pupils(list(outcomes), definition), definition)
    order: list[str] = []
    for s in subjects:
        for code in s.valid:
            if code not in order:
                order.append(code)
    code_rows = []
    for code in [*order, UNKNOWN]:
        cells = []
        for s in subjects:
            found = m["subjects"][s.key]["codes"].get(code)
            cells.append("-" if found is None else _share(found["count"], found["percent"]))
        # Codes no pupil has are left out, except the expected standard and greater depth
        # codes, which a school always wants to see.
        nobody = all(c == "-" or c.startswith("0") for c in cells)
        if nobody and (code == UNKNOWN or not any(code in s.met for s in subjects)):
            continue
        code_rows.append(SummaryRow("No valid code" if code == UNKNOWN else code, cells))
    own = _headline(m, subjects)
    headings = collection_packages.module_of(definition, "reports").MEASURE_HEADINGS
    measure_rows = [
        SummaryRow("Eligible pupils", [str(m["subjects"][s.key]["eligible"]) for s in subjects]),
        SummaryRow(headings["met"], [c["met"] for c in own["subjects"]]),
        SummaryRow(headings["higher"], [c["higher"] for c in own["subjects"]]),
    ]
    combined = {
        "subjects": ", ".join(definition.subject(k).label for k in m["combined"]["subjects"]),
        "eligible": m["combined"]["eligible"],
        "met": _share(m["combined"]["met"], m["combined"]["met_percent"]),
        "higher": _share(m["combined"]["higher"], m["combined"]["higher_percent"]),
    }
    comparison = None
    if comparisons:
        comparison = la_comparison(collection, school, [s.key for s in subjects],
                                   [("met", headings["met"]), ("higher", headings["higher"])])  # fmt: skip
    return Summary(
        pupils=m["pupils"],
        subjects=[s.label for s in subjects],
        codes=code_rows,
        measures=measure_rows,
        combined=combined,
        comparison=comparison,
    )
