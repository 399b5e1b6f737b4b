"""The phonics screening check's own rules (spec phonics.md §4): the mark and the outcome code.
Every code set, the mark's range and the threshold are the definition's (`[[subjects]]`
`mark` and `psc_code`, `[codes]`, `[threshold]`); the identity, header, establishment and
cross-school rules every collection needs are in `engine/rules/`, and `BOOK` takes them under
the PSC prefix (the NC year and date-of-birth rules read the check's two year groups)."""

from __future__ import annotations

import datetime as dt

from keystage.engine.records import PupilRecord
from keystage.engine.rulebook import Hit, RuleBook, RuleContext, SchoolOf
from keystage.engine.words import digits_only, either

MARK, CODE = "mark", "psc_code"  # the definitions' two items


class PhonicsContext:
    """What the phonics rules look up, worked out once per definition (`ctx.own`)."""

    def __init__(self, ctx: RuleContext):
        d = ctx.definition
        self.low, self.high = ctx.subjects[MARK].marks or (0, 40)
        self.codes = tuple(ctx.subjects[CODE].valid)  # as written, for messages
        self.valid = ctx.valid[CODE]
        upper = {name: frozenset(c.upper() for c in cs) for name, cs in d.codes.items()}
        self.instead_of_mark = upper.get("instead_of_mark", frozenset())
        self.working_at = upper.get("working_at", frozenset())
        self.working_towards = upper.get("working_towards", frozenset())
        self.maladministration = upper.get("maladministration", frozenset())
        threshold = d.raw.get("threshold", {})
        self.threshold = threshold.get("mark")
        published = threshold.get("published")
        self.published = dt.date.fromisoformat(str(published)) if published else None
        self.school_codes = tuple(
            c for c in self.codes if c.upper() in self.instead_of_mark - self.maladministration
        )


BOOK = RuleBook("PSC", context=PhonicsContext)
pupil_rule = BOOK.pupil_rule


def _mark(pupil: PupilRecord) -> str:
    return (pupil.outcomes.get(MARK) or "").strip()


def _code(pupil: PupilRecord, ctx: RuleContext) -> str:
    return ctx.code(pupil.outcomes.get(CODE))


def _raw_code(pupil: PupilRecord) -> str:
    return (pupil.outcomes.get(CODE) or "").strip()


def _on_code(pupil: PupilRecord, message: str) -> Hit:
    """A finding on the outcome code, valued as the school wrote it."""
    return Hit(CODE, pupil.outcomes.get(CODE, ""), message)


def _whole_mark(value: str, own: PhonicsContext) -> int | None:
    return int(value) if digits_only(value) and own.low <= int(value) <= own.high else None


@pupil_rule("R01", "error", field=MARK, title="No mark and no outcome code",
            spec_status="UNCERTAIN", reads=("outcomes",))  # fmt: skip
def nothing_given(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    own, code = ctx.own, _code(pupil, ctx)
    beside_a_mark = own.working_at | own.working_towards
    if _mark(pupil) or (code and code not in beside_a_mark):
        return None
    enter = (
        f"enter the pupil's mark ({own.low} to {own.high}), or "
        f"{either(own.school_codes)} if they did not take the check."
    )
    if code:  # Wa or Wt alone: they go beside a mark, and DfE drops them
        raw = _raw_code(pupil)
        return f"No phonics mark: {raw} only goes beside a mark, which is what is sent on; {enter}"
    return f"No phonics mark and no outcome code: {enter}"


@pupil_rule("R02", "error", field=MARK, title="Mark not a whole number in range",
            spec_status="UNCERTAIN", reads=("outcomes",))  # fmt: skip
def mark_out_of_range(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    value, own = _mark(pupil), ctx.own
    if not value or _whole_mark(value, own) is not None:
        return None
    return (
        f"Mark '{value}' is not a whole number from {own.low} to {own.high}: enter the number "
        "of words the pupil read correctly."
    )


@pupil_rule("R03", "error", field=CODE, title="A mark and a code that stands instead of one",
            spec_status="UNCERTAIN", reads=("outcomes",))  # fmt: skip
def mark_and_code(pupil: PupilRecord, ctx: RuleContext) -> Hit | None:
    value, code = _mark(pupil), _code(pupil, ctx)
    if not value or code not in ctx.own.instead_of_mark:
        return None
    return _on_code(
        pupil,
        f"Both a mark ({value}) and outcome code {code} are given: keep the mark if the pupil "
        f"took the check, or the code if they did not.",
    )


@pupil_rule("R04", "error", field=CODE, title="Outcome code not valid",
            spec_status="UNCERTAIN", reads=("outcomes",))  # fmt: skip
def code_invalid(pupil: PupilRecord, ctx: RuleContext) -> Hit | None:
    code = _code(pupil, ctx)
    if not code or code in ctx.own.valid:
        return None
    raw = _raw_code(pupil)
    return _on_code(
        pupil,
        f"Outcome code '{raw}' is not valid: enter {either(ctx.own.codes)}, or leave it "
        "empty when the mark is given.",
    )


def today() -> dt.date:
    return dt.date.today()


# Not cached with the other outcome rules (reads nothing in particular): its answer changes on
# the day the threshold is published.
@pupil_rule("R05", "query", field=CODE, title="Working at or towards disagrees with the mark",
            spec_status="UNCERTAIN")  # fmt: skip
def code_disagrees_with_mark(pupil: PupilRecord, ctx: RuleContext) -> Hit | None:
    own = ctx.own
    if own.threshold is None or own.published is None or today() < own.published:
        return None  # the threshold is not published yet: nothing to check against
    mark, code = _whole_mark(_mark(pupil), own), _code(pupil, ctx)
    if mark is None:
        return None
    if code in own.working_at and mark < own.threshold:
        said = "working at"
    elif code in own.working_towards and mark >= own.threshold:
        said = "working towards"
    else:
        return None
    raw = _raw_code(pupil)
    return _on_code(
        pupil,
        f"Code {raw} says {said} the expected standard, but the mark {mark} is "
        f"{'below' if mark < own.threshold else 'at or above'} the threshold of "
        f"{own.threshold}: check the mark (the code is not sent on; DfE applies the threshold).",
    )


@pupil_rule("R06", "query", field=CODE, title="Maladministration code from a school",
            spec_status="UNCERTAIN", reads=("outcomes",))  # fmt: skip
def maladministration(pupil: PupilRecord, ctx: RuleContext) -> Hit | None:
    code = _code(pupil, ctx)
    if code not in ctx.own.maladministration:
        return None
    return _on_code(
        pupil,
        f"{code} (maladministration) is decided by STA or the LA, not by a school: confirm "
        "that it was, and add a note saying so, or enter the pupil's mark.",
    )


# -- across years: a Year 2 pupil's record last year (PSC-R08, R09) ---------------------------
# Checks across the LA's pupils (cohort scope), as they need last year's records of every pupil:
# the caller looks them up once per LA (`rules.LastYear`) and passes none when Keystage does
# not hold last year's collection, and then these rules do not run. Which NC year is checked
# and which year's record is looked for are the rules' settings (`nc_year`, `last_year_nc_year`);
# what "met" meant is last year's definition's threshold.

cohort_rule = BOOK.cohort_rule


def _who(entry) -> str:
    name = f"{entry.forename.strip()} {entry.surname.strip()}".strip() or "A pupil with no name"
    return f"{name} (UPN {entry.upn.strip()})" if entry.upn.strip() else name


def _last_year_of(ctx: RuleContext, rule_id: str, entries) -> list:
    """(entry, the UPN matched, last year's records of it in the NC year looked for) for
    each entry in the NC year the rule checks; [] when last year's records are not given."""
    last = ctx.last_year
    if last is None:
        return []
    nc_year = str(ctx.setting(rule_id, "nc_year", "")).strip().upper()
    before = str(ctx.setting(rule_id, "last_year_nc_year", "")).strip().upper()
    out = []
    for entry in entries:
        if not nc_year or entry.nc_year.strip().upper() != nc_year:
            continue
        matched, records = last.of(entry.upn, entry.former_upn)
        then = [r for r in records if r.nc_year.strip().upper() == before]
        out.append((entry, matched if then else "", then))
    return out


def _former(entry, matched: str) -> str:
    """Says so when last year's record was found under the pupil's former UPN."""
    if matched and matched.upper() != entry.upn.strip().upper():
        return f" under their former UPN {matched}"
    return ""


@cohort_rule("R08", "query", field="nc_year", title="Met the standard last year, checked again",
             spec_status="UNCERTAIN", reads=("nc_year", "former_upn", "last_year"))  # fmt: skip
def met_last_year(entries, ctx: RuleContext) -> list[Hit]:
    last = ctx.last_year
    if last is None:
        return []
    then_def = last.definition
    threshold = then_def.raw.get("threshold", {}).get("mark")
    if threshold is None:
        return []
    # Last year's mark range: a mark beyond it was an error then, not a result.
    high = max((s.marks[1] for s in then_def.subjects if s.key == MARK and s.marks), default=None)
    before = str(ctx.setting("PSC-R08", "last_year_nc_year", "")).strip()
    hits = []
    for entry, matched, then in _last_year_of(ctx, "PSC-R08", entries):
        marks = [(r.outcomes.get(MARK) or "").strip() for r in then]
        met = [int(m) for m in marks if digits_only(m) and int(m) >= threshold]
        met = [m for m in met if high is None or m <= high]
        if not met:
            continue
        hits.append(Hit(
            "nc_year", entry.nc_year,
            f"{_who(entry)} met the expected standard in Year {before} last year: mark "
            f"{max(met)} in {then_def.name}{_former(entry, matched)}, where the threshold was "
            f"{threshold}. A pupil who met it does not take the check again: check the pupil's "
            "NC year, and their UPN if last year's result is another child's; if the school "
            "did check them again, confirm why.",
            key=entry.key,
        ))  # fmt: skip
    return hits


@cohort_rule("R09", "query", field="nc_year", title="No result last year for a Year 2 pupil",
             spec_status="UNCERTAIN", reads=("nc_year", "former_upn", "last_year"))  # fmt: skip
def nothing_last_year(entries, ctx: RuleContext) -> list[Hit]:
    last = ctx.last_year
    if last is None:
        return []
    before = str(ctx.setting("PSC-R09", "last_year_nc_year", "")).strip()
    return [
        Hit(
            "nc_year",
            entry.nc_year,
            f"{_who(entry)} is in Year {entry.nc_year.strip()} but has no Year {before} result in "
            f"{last.definition.name}: if they took the check last year, correct their UPN (or "
            "give their former UPN) so that last year's result is found; if they did not (e.g. "
            "they were not at a school in England), confirm that.",
            key=entry.key,
        )  # fmt: skip
        for entry, _, then in _last_year_of(ctx, "PSC-R09", entries)
        if not then
    ]


# -- across a school: marks all alike (PSC-R11) -------------------------------------------------
# A finding about a school as a whole (`SchoolOf`), from its current pupils. "The LA's rate" is
# that of the pupils with a mark in the main NC year (`cohort.nc_year`) at the LA's other
# schools, as Keystage holds them when the checks across the LA's schools run (after each
# import, and after every edit of a mark).


def _school_name(entry) -> str:
    name = entry.school.strip()
    return f"{name} ({entry.laestab})" if name else entry.laestab


@cohort_rule("R11", "query", field=MARK, title="A school's marks all alike or none met",
             spec_status="UNCERTAIN", reads=("outcomes", "nc_year"))  # fmt: skip
def marks_alike(entries, ctx: RuleContext) -> list[Hit]:
    own = ctx.own
    min_pupils = int(ctx.setting("PSC-R11", "min_pupils", 5))
    rate_at_least = float(ctx.setting("PSC-R11", "la_rate_at_least", 1.0))
    main = ctx.nc_year
    # school -> (an entry naming it, its whole marks, its main-year marks)
    schools: dict[str, tuple] = {}
    for entry in entries:
        if entry.outcomes is None:
            continue
        value = (entry.outcomes.get(MARK) or "").strip()
        mark = _whole_mark(value, own)
        if mark is None:
            continue
        found = schools.setdefault(entry.laestab, (entry, [], []))
        found[1].append(mark)
        if entry.nc_year.strip().upper() == main:
            found[2].append(mark)
    published = own.threshold is not None and own.published is not None and today() >= own.published
    main_met = sum(m >= own.threshold for s in schools.values() for m in s[2]) if published else 0
    main_all = sum(len(s[2]) for s in schools.values())
    hits = []
    for laestab, (entry, marks, main_marks) in schools.items():
        if len(marks) >= min_pupils and len(set(marks)) == 1:
            hits.append(Hit(
                MARK, str(marks[0]),
                f"All {len(marks)} pupils with a phonics mark at {_school_name(entry)} have the "
                f"same mark, {marks[0]}: check that each pupil's own mark was exported (one mark "
                "for everyone is a likely export mistake) and send the file again if not; if "
                "the marks are right, confirm them.",
                key=SchoolOf(laestab),
            ))  # fmt: skip
            continue
        if not published or len(main_marks) < min_pupils:
            continue
        met_here = sum(m >= own.threshold for m in main_marks)
        others = main_all - len(main_marks)
        if met_here or not others:
            continue
        rate = (main_met - met_here) / others
        if rate < rate_at_least:
            continue
        hits.append(Hit(
            MARK, "",
            f"None of the {len(main_marks)} Year {main} pupils with a mark at "
            f"{_school_name(entry)} reached the threshold of {own.threshold}, while "
            f"{round(rate * 100)}% of Year {main} pupils with a mark at the LA's other schools "
            "did: check that the marks exported are the pupils' phonics check marks (a likely "
            "export mistake) and send the file again if not; if the marks are right, confirm "
            "them.",
            key=SchoolOf(laestab),
        ))  # fmt: skip
    return hits
