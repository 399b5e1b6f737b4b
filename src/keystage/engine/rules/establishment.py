"""Establishment rules (spec §5.2): is the school that sent a file one that should be in the
return, and did it send the pupils we expect? E03 looks across a whole return.

A collection that takes settings without an establishment number (the EYFS profile's PVI
settings) says how their URN looks in its definition (`[establishments] setting_urn`, a
pattern, and `setting_word`): a file identified by such a URN alone passes E01, and E02 looks
for the setting by its URN (the caller's register gives `SchoolInfo.urn`)."""

from __future__ import annotations

from collections import Counter

from keystage.engine import words
from keystage.engine.rules import Hit, RuleContext, SchoolCase, SchoolInfo, return_rule, school_rule
from keystage.engine.words import digits_only


def _estab_ok(estab: str) -> bool:
    return len(estab) == 4 and digits_only(estab)


def setting_urn(header, ctx: RuleContext) -> str:
    """The file's URN when it identifies a setting of the collection (`[establishments]
    setting_urn`) and the file gives no establishment number; "" otherwise."""
    urn = (header.urn or "").strip()
    if header.estab.strip():
        return ""
    return urn if ctx.definition.is_setting_urn(urn) else ""


def _setting_word(ctx: RuleContext) -> str:
    return str(ctx.definition.establishments.get("setting_word", "setting"))


def _named(school: SchoolInfo) -> str:
    if not school.estab.strip() and school.urn:  # a setting: its URN is its number
        return f"URN {school.urn} ({school.name})" if school.name else f"URN {school.urn}"
    return f"{school.laestab} ({school.name})" if school.name else school.laestab


def _folded(values) -> frozenset[str]:
    return frozenset(v.casefold() for v in values)


@school_rule(
    "E01",
    "error",
    field="laestab",
    title="Establishment number not 4 digits",
    spec_status="LIKELY",
)
def estab_invalid(case: SchoolCase, ctx: RuleContext) -> Hit | None:
    estab = case.header.estab.strip()
    if _estab_ok(estab) or setting_urn(case.header, ctx):
        return None
    settings = ctx.definition.establishments.get("setting_urn_words")
    if not estab:
        message = (
            "The file does not give the school's DfE establishment number: enter the 4-digit "
            "number (the last 4 digits of the LAESTAB) or ask the school to export again."
        )
        if settings:  # a collection that also takes settings
            word = _setting_word(ctx)
            urn = case.header.urn.strip()
            given = f" (the file gives URN {urn}, which is not one)" if urn else ""
            message = message[:-1] + f"; a {word} gives {settings} instead{given}."
    else:
        message = (
            f"Establishment number '{estab}' is not 4 digits: correct it to the school's DfE "
            "number (the last 4 digits of the LAESTAB)."
        )
    return Hit("laestab", estab, message)


@school_rule(
    "E02",
    "error",
    field="laestab",
    title="Establishment not recognised for this LA",
    spec_status="LIKELY",
)
def establishment_unknown(case: SchoolCase, ctx: RuleContext) -> Hit | None:
    header, school = case.header, case.school
    urn = setting_urn(header, ctx)
    if ctx.enabled(ctx.ids["E01"]) and not _estab_ok(header.estab.strip()) and not urn:
        return None  # the number itself is wrong: E01 says so
    laestab = header.laestab
    if school is None and urn:
        word = _setting_word(ctx)
        return Hit(
            "laestab",
            urn,
            f"The {word} with URN {urn} is not in the register of {word}s: check the URN in "
            f"the file, or add the {word} to the register if it is new.",
        )
    if school is None:
        return Hit(
            "laestab",
            laestab,
            f"LAESTAB {laestab} is not in the school register: check the DfE number in the "
            "file, or update the register if the school has just opened.",
        )
    rules = ctx.definition.establishments
    if header.la.strip() and school.la != header.la.strip():
        problem = f"belongs to LA {school.la}, not {header.la.strip()}"
        action = "send the file to that LA, or correct the LA number in the file"
    elif school.status_name.casefold() not in _folded(rules.get("open_statuses", ())):
        problem = f"is '{school.status_name or 'not open'}' in the school register"
        action = "check the school is open, or leave it out of the return"
    elif school.type_name.casefold() not in _folded(rules.get("state_funded_types", ())):
        problem = f"is a '{school.type_name or 'unknown type of'}' establishment, not state-funded"
        action = "leave it out of the return, or correct its type in the school register"
    else:
        return None
    what = _setting_word(ctx).capitalize() if urn else "School"
    return Hit("laestab", urn or laestab, f"{what} {_named(school)} {problem}: {action}.")


@school_rule(
    "E04",
    "query",
    field="laestab",
    title="No or too few pupils",
    spec_status="UNCERTAIN",
)
def too_few_pupils(case: SchoolCase, ctx: RuleContext) -> Hit | None:
    named = _named(case.school) if case.school else case.header.laestab
    count, expected = case.pupil_count, case.expected_cohort
    if count <= 0:
        return Hit(
            "laestab",
            str(count),
            f"No pupils were received for {named}: check the school has sent its "
            f"{ctx.cohort_words['file']}, or explain why it has no {ctx.cohort_words['cohort']}.",
        )
    share = float(ctx.setting(ctx.ids["E04"], "min_share_of_expected", 0.5))
    if expected and count < share * expected:
        return Hit(
            "laestab",
            str(count),
            f"Only {words.plural(count, 'pupil')} {'was' if count == 1 else 'were'} received for "
            f"{named}, against about {expected} expected: "
            f"check the school has sent every {ctx.cohort_words['each']}, or explain the "
            "difference.",
        )
    return None


def _covers_ks1(school: SchoolInfo, ctx: RuleContext) -> bool:
    # Year 2 pupils are 6 at the start of the year and 7 by its end; a junior school (7-11)
    # starts after them, an infant school (4-7) ends with them.
    start = int(ctx.setting(ctx.ids["E05"], "year2_start_age", 6))
    end = int(ctx.setting(ctx.ids["E05"], "year2_end_age", 7))
    if school.low_age is not None and school.low_age > start:
        return False
    return not (school.high_age is not None and school.high_age < end)


@school_rule(
    "E05",
    "query",
    field="laestab",
    title="School does not normally have the collection's pupils",
    spec_status="UNCERTAIN",
)
def phase_without_ks1(case: SchoolCase, ctx: RuleContext) -> Hit | None:
    school = case.school
    if school is None:
        return None
    rules = ctx.definition.establishments
    phase = school.phase_name.strip()
    phase_ok = phase.casefold() in _folded(rules.get("phases_with_ks1", ()))
    if phase_ok and _covers_ks1(school, ctx):
        return None
    if school.low_age is not None and school.high_age is not None:
        ages = f", ages {school.low_age}-{school.high_age},"
    else:
        ages = ""
    return Hit(
        "laestab",
        phase,
        f"School {_named(school)} is a '{phase or 'unknown'}' phase school{ages} which does not "
        f"normally have {ctx.cohort_words['phase']}: check the file came from the right school, "
        f"or explain why it has {ctx.cohort_words['phase']}.",
    )


@return_rule(
    "E03",
    "error",
    field="laestab",
    title="Establishment twice in one return",
    spec_status="LIKELY",
)
def establishment_repeated(laestabs: list[str], ctx: RuleContext) -> list[Hit]:
    counts = Counter(x.strip() for x in laestabs)
    return [
        Hit(
            "laestab",
            laestab,
            f"LAESTAB {laestab} appears {n} times in this return: combine its pupils into one "
            "establishment and generate the return again.",
            key=laestab,
        )
        for laestab, n in counts.items()
        if n > 1
    ]
