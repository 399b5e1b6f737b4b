"""The phonics screening check's own rules (spec phonics.md §4): the mark and the outcome code.
Every code set, the mark's range and the threshold are the definition's (`[[subjects]]`
`mark` and `psc_code`, `[codes]`, `[threshold]`); the identity, header, establishment and
cross-school rules every collection needs are in `engine/rules/`, and `BOOK` takes them under
the PSC prefix (the NC year and date-of-birth rules read the check's two year groups)."""

from __future__ import annotations

import datetime as dt

from keystage.engine.records import PupilRecord
from keystage.engine.rulebook import Hit, RuleBook, RuleContext
from keystage.engine.words import either

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
    return int(value) if value.isdigit() and own.low <= int(value) <= own.high else None


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
