"""Reads for the LA dashboard: the collection's dates, each expected school's state, the counts.

Every read is narrowed by `keystage.accounts.scope` to what the signed-in user may see.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.db.models import Count, Max, Q

from keystage.accounts.scope import scoped
from keystage.checking.queries import CheckState, check_statuses
from keystage.collection.models import ExpectedCohort, LaCollectionSettings
from keystage.engine import definition as definitions
from keystage.orgs.models import ExpectedSchool, LocalAuthority, School
from keystage.submissions.models import Collection, Finding, PupilRecord, Upload

# A school whose file holds fewer pupils than this share of the expected cohort is flagged.
DEFAULT_SHORTFALL_SHARE = 0.9


def establishment_words(definition) -> dict[str, str]:
    """How a collection's pages speak of the establishments that send it: "Schools" for one of
    schools alone; "Schools and settings" for one that also takes early-years settings, which
    have a URN in place of a LAESTAB (`[establishments] setting_word`)."""
    word = definition.establishments.get("setting_word")
    if not word:
        return {"schools": "Schools", "school": "School", "number": "LAESTAB"}
    return {"schools": f"Schools and {word}s", "school": f"School or {word}",
            "number": "LAESTAB or URN"}  # fmt: skip


def shortfall_share() -> float:
    return float(getattr(settings, "KEYSTAGE_COHORT_SHORTFALL_SHARE", DEFAULT_SHORTFALL_SHARE))


class SchoolState(StrEnum):
    NOT_RECEIVED = "not_received"
    # Every file the school sent was rejected: nothing usable is held, so it is chased as
    # not yet received (with the reason in the Data Errors report).
    REJECTED = "rejected"
    ERRORS = "errors"
    QUERIES = "queries"
    CLEAN = "clean"
    # The school confirmed its released data (no errors, and no data change since).
    CHECKED = "checked"
    # Later issues: "in_return" (the LA included it in the statutory return) comes after
    # CHECKED; add it here and in `school_state`.


STATE_LABELS = {
    SchoolState.NOT_RECEIVED: "Not received",
    SchoolState.REJECTED: "File rejected",
    SchoolState.ERRORS: "Received with errors",
    SchoolState.QUERIES: "Queries to explain",
    SchoolState.CLEAN: "Clean",
    SchoolState.CHECKED: "Checked by school",
}
# Order used when sorting by state: what needs chasing first.
STATE_ORDER = {state: n for n, state in enumerate(SchoolState)}
CHASE_STATES = (SchoolState.NOT_RECEIVED, SchoolState.REJECTED, SchoolState.ERRORS)
# The states of a school whose data is held; the others are not yet received.
RECEIVED_STATES = (SchoolState.ERRORS, SchoolState.QUERIES, SchoolState.CLEAN,
                   SchoolState.CHECKED)  # fmt: skip


def school_state(
    *, received: bool, errors: int, queries: int, checked: bool = False, rejected: bool = False
) -> SchoolState:
    """A school's place in the collection. A school with no usable file is not received, with
    a state of its own when it did send a file that was rejected (`rejected`). `errors` counts
    a rejected file not yet replaced, so a school whose newer file was rejected is chased."""
    if not received:
        return SchoolState.REJECTED if rejected else SchoolState.NOT_RECEIVED
    if errors:
        return SchoolState.ERRORS
    if checked:
        # Confirmed by the school: its queries are the school's own answer now.
        return SchoolState.CHECKED
    if queries:
        return SchoolState.QUERIES
    # Here: IN_RETURN once the LA has put it in the return (comes with the returns issue).
    return SchoolState.CLEAN


@dataclass
class SchoolRow:
    school_id: int
    urn: str
    laestab: str
    name: str
    expected: bool  # expected to submit this collection (`ExpectedSchool`)
    received: bool
    last_upload: dt.datetime | None
    pupils: int
    errors: int
    queries: int
    expected_pupils: int | None
    state: SchoolState
    shortfall: bool
    # The school check loop (`keystage.checking.queries.CheckStatus`): released, confirmed...
    check: object = None

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


@dataclass
class Timeline:
    opens: dt.date | None
    school_deadline: dt.date | None
    school_deadline_is_own: bool  # False: the definition's suggested date
    national_deadline: dt.date | None
    national_return: bool  # False: the collection sends nothing to the national collection


def timeline(user, la: LocalAuthority, collection: Collection) -> Timeline:
    definition = definitions.load(collection.code)
    dates = definition.dates
    own = (
        scoped(user, LaCollectionSettings)
        .filter(la=la, collection=collection, school_deadline__isnull=False)
        .values_list("school_deadline", flat=True)
        .first()
    )
    return Timeline(
        opens=dates.get("opens"),
        school_deadline=own or dates.get("school_deadline"),
        school_deadline_is_own=own is not None,
        national_deadline=dates.get("national_deadline"),
        national_return=definition.national_return,
    )


def school_rows(user, la: LocalAuthority, collection: Collection) -> list[SchoolRow]:
    """Every school of the LA the user may see that is expected to submit the collection
    (`ExpectedSchool`, from the schools register) or has sent a file."""
    expected_ids = set(
        scoped(user, ExpectedSchool)
        .filter(collection=collection.code, school__la=la)
        .values_list("school_id", flat=True)
    )
    uploads = scoped(user, Upload).filter(collection=collection, la=la, school__isnull=False)
    latest = {
        r["school_id"]: r
        for r in uploads.values("school_id").annotate(
            last_ok=Max("uploaded_at", filter=~Q(state=Upload.State.REJECTED)),
            last_rejected=Max("uploaded_at", filter=Q(state=Upload.State.REJECTED)),
            current=Count("id", filter=Q(state=Upload.State.CURRENT)),
        )
    }
    schools = (
        scoped(user, School)
        .filter(la=la)
        .filter(pk__in=list(expected_ids | latest.keys()))
        .order_by("laestab")
    )
    findings: dict[tuple[int, str], int] = {
        (r["school_id"], r["severity"]): r["n"]
        for r in scoped(user, Finding)
        .filter(collection=collection, la=la, is_current=True, school__isnull=False)
        # A query confirmed correct with an explanation needs nothing more from anyone.
        .exclude(severity="query", explanation__gt="")
        .values("school_id", "severity")
        .annotate(n=Count("id"))
    }
    pupils = dict(
        scoped(user, PupilRecord)
        .filter(collection=collection, la=la, is_current=True)
        .values("school_id")
        .annotate(n=Count("id"))
        .values_list("school_id", "n")
    )
    expected = dict(
        scoped(user, ExpectedCohort)
        .filter(collection=collection, la=la)
        .values_list("school_id", "pupils")
    )
    share = shortfall_share()
    checks = check_statuses(user, collection, schools)
    rows = []
    for s in schools:
        up = latest.get(s.pk, {})
        received = bool(up.get("current"))
        rejected_open = up.get("last_rejected") is not None and (
            up.get("last_ok") is None or up["last_rejected"] > up["last_ok"]
        )
        errors = findings.get((s.pk, "error"), 0) + (1 if rejected_open else 0)
        queries = findings.get((s.pk, "query"), 0)
        n_pupils = pupils.get(s.pk, 0)
        want = expected.get(s.pk)
        check = checks[s.pk]
        state = school_state(received=received, errors=errors, queries=queries,
                             checked=check.state == CheckState.CONFIRMED,
                             rejected=up.get("last_rejected") is not None)  # fmt: skip
        rows.append(
            SchoolRow(
                school_id=s.pk,
                urn=s.urn,
                laestab=s.laestab,
                name=s.name,
                expected=s.pk in expected_ids,
                received=received,
                last_upload=max(
                    (t for t in (up.get("last_ok"), up.get("last_rejected")) if t), default=None
                ),
                pupils=n_pupils,
                errors=errors,
                queries=queries,
                expected_pupils=want,
                state=state,
                shortfall=bool(received and want and n_pupils < share * want),
                check=check,
            )
        )
    return rows


def counts(rows: list[SchoolRow]) -> dict[str, int]:
    """The dashboard's counts of schools. Each school expected to submit is in exactly one
    state, so the states add up to `expected`, and `received` + `not_yet` does too. A school
    not expected to submit that sent a file anyway is counted apart (`unexpected`)."""
    expected = [r for r in rows if r.expected]
    by_state = {state.value: sum(1 for r in expected if r.state == state) for state in SchoolState}
    return {
        "expected": len(expected),
        **by_state,
        "received": sum(by_state[s] for s in RECEIVED_STATES),
        "not_yet": by_state[SchoolState.NOT_RECEIVED] + by_state[SchoolState.REJECTED],
        "unexpected": sum(1 for r in rows if not r.expected),
        "pupils": sum(r.pupils for r in rows),
        "shortfall": sum(1 for r in rows if r.shortfall),
    }


SORTS = {
    "laestab": lambda r: (r.laestab,),
    "name": lambda r: (r.name.casefold(), r.laestab),
    "state": lambda r: (STATE_ORDER[r.state], r.laestab),
    "errors": lambda r: (r.errors, r.queries, r.laestab),
}


def filter_and_sort(
    rows: list[SchoolRow], *, state: str = "", search: str = "", sort: str = "laestab", desc=False
) -> list[SchoolRow]:
    if state == "chase":
        rows = [r for r in rows if r.state in CHASE_STATES]
    elif state == "shortfall":
        rows = [r for r in rows if r.shortfall]
    elif state:
        rows = [r for r in rows if r.state == state]
    if search := search.strip().casefold():
        rows = [r for r in rows if search in r.name.casefold() or search in r.laestab]
    return sorted(rows, key=SORTS.get(sort, SORTS["laestab"]), reverse=desc)


@dataclass(frozen=True)
class CollectionRow:
    """One collection the service offers, as the home page lists it for a user."""

    code: str
    name: str
    statutory: bool
    national_return: bool
    opens: dt.date | None
    school_deadline: dt.date | None
    national_deadline: dt.date | None
    closes: dt.date | None
    phase: str  # "not yet open", "open", "closed"
    pupils: int  # current pupil records the user may see in it


def phase(dates: dict, today: dt.date) -> str:
    """Where a collection stands on `today` by its definition's dates."""
    opens, closes = dates.get("opens"), dates.get("closes")
    if opens and today < opens:
        return "not yet open"
    if closes and today > closes:
        return "closed"
    return "open"


def collections_for(user, codes, today: dt.date | None = None) -> list[CollectionRow]:
    """The collections `codes` (the service's, in order), with their dates, where each stands
    today and how many current pupil records the user may see in each."""
    today = today or dt.date.today()
    counts = dict(
        scoped(user, PupilRecord)
        .filter(is_current=True, collection__code__in=list(codes))
        .values_list("collection__code")
        .annotate(n=Count("id"))
    )
    rows = []
    for code in codes:
        d = definitions.load(code)
        rows.append(
            CollectionRow(
                code=code,
                name=d.name,
                statutory=d.statutory,
                national_return=d.national_return,
                opens=d.dates.get("opens"),
                school_deadline=d.dates.get("school_deadline"),
                national_deadline=d.dates.get("national_deadline"),
                closes=d.dates.get("closes"),
                phase=phase(d.dates, today),
                pupils=counts.get(code, 0),
            )  # fmt: skip
        )
    return rows
