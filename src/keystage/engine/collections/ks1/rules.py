"""KS1's own rules: the teacher-assessment outcome rules (spec §5.4): missing, invalid, old and
duplicated codes, and the cross-subject queries. Codes are compared trimmed and upper-cased;
findings keep the value as the school wrote it. The identity, header and establishment rules
every collection needs are in `engine/rules/`; `BOOK` takes them under the KS1 prefix.
Where one rule is a more precise form of another, only the precise one fires while it is
enabled: KS1-T07 over KS1-T05/T06, KS1-T14 over KS1-T01..T04."""

from __future__ import annotations

from keystage.engine.records import PupilRecord
from keystage.engine.rulebook import Hit, RuleBook, RuleContext
from keystage.engine.words import either

CORE_SUBJECTS = ("reading", "writing", "maths")  # "R/W/M" in spec §5.4
SCIENCE = "science"


class Ks1Context:
    """What KS1's rules look up, worked out once per definition (`ctx.own`)."""

    def __init__(self, ctx: RuleContext):
        codes = ctx.definition.codes
        self.core = tuple(k for k in CORE_SUBJECTS if k in ctx.subjects)
        self.has_science = SCIENCE in ctx.subjects
        self.engagement = codes.get("engagement_model", frozenset())
        self.pre_key_stage = codes.get("pre_key_stage", frozenset())


BOOK = RuleBook("KS1", context=Ks1Context)
pupil_rule = BOOK.pupil_rule


def label(ctx: RuleContext, key: str) -> str:
    """A subject's name for the start of a sentence ("English reading", "Science")."""
    return ctx.subjects[key].label


def inline(ctx: RuleContext, key: str) -> str:
    """A subject's name mid-sentence: "English" keeps its capital, "science" does not."""
    text = ctx.subjects[key].label
    return text if text.startswith("English") else text.lower()


# -- missing results -------------------------------------------------------------------------


def _missing(pupil: PupilRecord, ctx: RuleContext, key: str) -> str | None:
    if key not in ctx.subjects or ctx.code(pupil.outcomes.get(key)):
        return None
    if key in pupil.wrong_parameters and ctx.enabled("KS1-T14"):
        return None  # the result is there with the wrong Stage/Year/Method: KS1-T14 says so
    judgements = [c for c in ctx.school_codes[key] if c not in ctx.not_assessed]
    absent = "/".join(sorted(ctx.not_assessed)) or "A"
    return (
        f"No {inline(ctx, key)} result: enter the pupil's teacher assessment "
        f"({either(judgements)}, or {absent} if there is not enough evidence for a judgement)."
    )


@pupil_rule(
    "T01",
    "error",
    field="reading",
    title="Reading result missing",
    spec_status="LIKELY",
    reads=("outcomes", "wrong_parameters"),
)
def reading_missing(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    return _missing(pupil, ctx, "reading")


@pupil_rule(
    "T02",
    "error",
    field="writing",
    title="Writing result missing",
    spec_status="LIKELY",
    reads=("outcomes", "wrong_parameters"),
)
def writing_missing(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    return _missing(pupil, ctx, "writing")


@pupil_rule(
    "T03",
    "error",
    field="maths",
    title="Maths result missing",
    spec_status="LIKELY",
    reads=("outcomes", "wrong_parameters"),
)
def maths_missing(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    return _missing(pupil, ctx, "maths")


@pupil_rule(
    "T04",
    "error",
    field="science",
    title="Science result missing",
    spec_status="LIKELY",
    reads=("outcomes", "wrong_parameters"),
)
def science_missing(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    return _missing(pupil, ctx, "science")


# -- invalid and old codes -------------------------------------------------------------------


def suggestion(code: str, key: str, ctx: RuleContext, rule_id: str) -> str | None:
    """The code the school probably meant, when that is obvious: the same letters without
    spaces or punctuation ("PK 4", "E.X.S"), or a spelling listed in the rule's `hints`
    (compared the same way)."""
    valid = ctx.valid[key]
    squeezed = "".join(ch for ch in code if ch.isalnum())
    if squeezed in valid:
        return squeezed
    hints = ctx.setting(rule_id, "hints", {})
    hinted = hints.get(squeezed)
    return hinted if hinted in valid else None


def _invalid(pupil: PupilRecord, ctx: RuleContext, keys: tuple[str, ...], rule_id: str):
    hits: list[Hit] = []
    legacy_reported = ctx.enabled("KS1-T07")
    for key in keys:
        raw = pupil.outcomes.get(key)
        code = ctx.code(raw)
        if not code or code in ctx.valid[key]:
            continue
        if legacy_reported and code in ctx.legacy[key]:
            continue
        hint = suggestion(code, key, ctx, rule_id)
        codes = either(ctx.school_codes[key])
        action = f"did you mean {hint}? Use one of {codes}" if hint else f"use one of {codes}"
        hits.append(
            Hit(key, raw, f"{label(ctx, key)} result '{raw}' is not a valid code: {action}.")
        )
    return hits


@pupil_rule(
    "T05",
    "error",
    field="reading",
    title="Invalid reading, writing or maths code",
    spec_status="CONFIRMED",
    reads=("outcomes",),
)
def core_code_invalid(pupil: PupilRecord, ctx: RuleContext) -> list[Hit]:
    return _invalid(pupil, ctx, ctx.own.core, "KS1-T05")


@pupil_rule(
    "T06",
    "error",
    field="science",
    title="Invalid science code",
    spec_status="CONFIRMED",
    reads=("outcomes",),
)
def science_code_invalid(pupil: PupilRecord, ctx: RuleContext) -> list[Hit]:
    return _invalid(pupil, ctx, (SCIENCE,), "KS1-T06") if ctx.own.has_science else []


@pupil_rule(
    "T07",
    "error",
    field="reading",
    title="Code not used in 2023",
    spec_status="CONFIRMED",
    reads=("outcomes",),
)
def legacy_code(pupil: PupilRecord, ctx: RuleContext) -> list[Hit]:
    hits: list[Hit] = []
    year = ctx.definition.year
    for key, legacy in ctx.legacy.items():
        raw = pupil.outcomes.get(key)
        if raw and ctx.code(raw) in legacy:
            codes = either(ctx.school_codes[key])
            hits.append(
                Hit(
                    key,
                    raw,
                    f"{label(ctx, key)} result '{raw}' is a code not used for {inline(ctx, key)} "
                    f"in {year}: replace it with one of {codes}.",
                )
            )
    return hits


@pupil_rule(
    "T08",
    "error",
    field="reading",
    title="More than one result",
    spec_status="LIKELY",
    reads=("outcomes", "duplicate_outcomes"),
    file_only="the return carries only the result that was used",
)
def duplicate_result(pupil: PupilRecord, ctx: RuleContext) -> list[Hit]:
    hits: list[Hit] = []
    for key, seen in pupil.duplicate_outcomes.items():
        kept = pupil.outcomes.get(key, "")
        name = label(ctx, key) if key in ctx.subjects else key
        hits.append(
            Hit(
                key,
                kept,
                f"{name} was given {len(seen)} times ({', '.join(seen)}; '{kept}' was used): "
                "check which result is right and ask the school to send only that one.",
            )
        )
    return hits


@pupil_rule(
    "T14",
    "error",
    field="reading",
    title="Wrong assessment parameters",
    spec_status="LIKELY",
    reads=("outcomes", "wrong_parameters"),
    file_only="the return carries no result of another year or assessment, so the national "
    "collection counts these as missing results",
    restores="wrong_parameters",
)
def wrong_parameters(pupil: PupilRecord, ctx: RuleContext) -> list[Hit]:
    d = ctx.definition
    wanted = f"{d.stage} {d.method} {d.year}"
    hits: list[Hit] = []
    for key, found in pupil.wrong_parameters.items():
        if ctx.code(pupil.outcomes.get(key)):
            continue  # a usable result was found as well
        name = inline(ctx, key) if key in ctx.subjects else key
        hits.append(
            Hit(
                key,
                found,
                f"The {name} result was sent with {found} instead of {wanted}: ask the school to "
                f"export the {d.year} key stage 1 teacher assessments again, or enter the result.",
            )
        )
    return hits


# -- cross-subject queries -------------------------------------------------------------------


def _core_codes(pupil: PupilRecord, ctx: RuleContext) -> list[tuple[str, str]]:
    code = ctx.code
    outcomes = pupil.outcomes
    return [(key, code(outcomes.get(key))) for key in ctx.own.core]


@pupil_rule(
    "T09",
    "query",
    field="reading",
    title="EM in some subjects only",
    spec_status="UNCERTAIN",
    reads=("outcomes",),
)
def engagement_model_partial(pupil: PupilRecord, ctx: RuleContext) -> Hit | None:
    codes = [(key, code) for key, code in _core_codes(pupil, ctx) if code]  # missing: T01-T03
    em = [key for key, code in codes if code in ctx.own.engagement]
    if not em or len(em) == len(codes):
        return None
    others = [(key, code) for key, code in codes if code not in ctx.own.engagement]
    key = others[0][0]
    rest = " and ".join(f"{inline(ctx, k)} is {pupil.outcomes[k].strip()}" for k, _ in others)
    return Hit(
        key,
        pupil.outcomes.get(key, ""),
        f"The engagement model (EM) is recorded for {' and '.join(inline(ctx, k) for k in em)} "
        f"but {rest}: check the results, as EM normally applies in reading, writing "
        "and maths alike.",
    )


@pupil_rule(
    "T10",
    "query",
    field="science",
    title="Science EXS with EM or PK results",
    spec_status="UNCERTAIN",
    reads=("outcomes",),
)
def science_met_below_standard(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    if not ctx.own.has_science:
        return None
    science = ctx.code(pupil.outcomes.get(SCIENCE))
    if science not in ctx.subjects[SCIENCE].met:
        return None
    low = ctx.own.engagement | ctx.own.pre_key_stage
    below = [(key, code) for key, code in _core_codes(pupil, ctx) if code in low]
    if not below:
        return None
    named = " and ".join(f"{inline(ctx, k)} is {c}" for k, c in below)
    return (
        f"Science is {science} but {named}: check the results, as a pupil working below the "
        "key stage 1 standard rarely meets the expected standard in science."
    )


@pupil_rule(
    "T11",
    "query",
    field="reading",
    title="Unusual spread of results",
    spec_status="UNCERTAIN",
    reads=("outcomes",),
)
def wide_spread(pupil: PupilRecord, ctx: RuleContext) -> Hit | None:
    placed = [
        (ctx.order[key][code], key, code)
        for key, code in _core_codes(pupil, ctx)
        if code in ctx.order[key]
    ]
    if len(placed) < 2:
        return None
    top, bottom = min(placed), max(placed)
    spread = bottom[0] - top[0]
    if spread <= int(ctx.setting("KS1-T11", "max_spread", 3)):
        return None
    return Hit(
        bottom[1],
        pupil.outcomes.get(bottom[1], ""),
        f"Results are {spread} steps apart ({inline(ctx, top[1])} {top[2]}, "
        f"{inline(ctx, bottom[1])} {bottom[2]}): check both results are right, or explain the "
        "difference.",
    )


@pupil_rule(
    "T12",
    "query",
    field="reading",
    title="Absent in every subject",
    spec_status="UNCERTAIN",
    reads=("outcomes",),
)
def absent_everywhere(pupil: PupilRecord, ctx: RuleContext) -> Hit | None:
    keys = tuple(ctx.subjects)
    if not keys or not all(ctx.code(pupil.outcomes.get(k)) in ctx.not_assessed for k in keys):
        return None
    return Hit(
        keys[0],
        pupil.outcomes.get(keys[0], ""),
        f"The pupil is recorded as A (not assessed) in all {len(keys)} subjects: check they "
        "should be in the return, and explain why they could not be assessed.",
    )


@pupil_rule(
    "T13",
    "query",
    field="reading",
    title="Maladministration code Q",
    spec_status="UNCERTAIN",
    reads=("outcomes",),
)
def maladministration(pupil: PupilRecord, ctx: RuleContext) -> Hit | None:
    found = [
        key for key in ctx.subjects if ctx.code(pupil.outcomes.get(key)) in ctx.maladministration
    ]
    if not found:
        return None
    return Hit(
        found[0],
        pupil.outcomes.get(found[0], ""),
        f"Q (maladministration) is recorded for {' and '.join(inline(ctx, k) for k in found)}: "
        "confirm that LA moderation found maladministration, and add a note saying so.",
    )
