"""Pupil identity rules (spec §5.3): UPN, names, date of birth, sex and NC year of one record.
The cross-record identity rules (P03, P14) are in `cohort`."""

from __future__ import annotations

import datetime as dt
import unicodedata

from keystage.engine import upn
from keystage.engine.records import PupilRecord
from keystage.engine.rules import RuleContext, pupil_rule
from keystage.engine.words import either, long_date
from keystage.engine.year_groups import nc_year_key

_DIGITS = frozenset("0123456789")
_FIX_UPN = "check it against the pupil's records and correct it"


# -- UPN -------------------------------------------------------------------------------------


@pupil_rule(
    "P01",
    "error",
    field="upn",
    title="UPN missing",
    spec_status="CONFIRMED",
    dfe_ref="1500",
    reads=("upn",),
)
def upn_missing(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    if "1500" in ctx.upn_problems(pupil.upn):
        return (
            "UPN is missing: add the pupil's UPN from the school's records (a temporary UPN if "
            "the permanent one is not known)."
        )
    return None


@pupil_rule(
    "P02",
    "error",
    field="upn",
    title="Wrong UPN check letter",
    spec_status="CONFIRMED",
    dfe_ref="1510",
    reads=("upn",),
)
def upn_check_letter(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    if "1510" in ctx.upn_problems(pupil.upn):
        return (
            f"UPN {pupil.upn} has the wrong check letter: {_FIX_UPN} (the first letter is "
            "worked out from the other 12 characters)."
        )
    return None


@pupil_rule(
    "P04",
    "error",
    field="upn",
    title="UPN characters 2-4 not an LA code",
    spec_status="CONFIRMED",
    dfe_ref="1530",
    reads=("upn",),
)
def upn_la_code(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    # A UPN too short to hold an LA code is reported once, by P06.
    if "1530" in ctx.upn_problems(pupil.upn) and len(pupil.upn.strip()) >= 4:
        la = pupil.upn.strip()[1:4]
        return f"UPN {pupil.upn} has '{la}' in characters 2-4, which is not an LA code: {_FIX_UPN}."
    return None


@pupil_rule(
    "P05",
    "error",
    field="upn",
    title="UPN characters 5-12 not all digits",
    spec_status="CONFIRMED",
    dfe_ref="1540",
    reads=("upn",),
)
def upn_digits(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    # Too short but digits as far as it goes is a length problem only (P06).
    if "1540" not in ctx.upn_problems(pupil.upn):
        return None
    if any(ch not in _DIGITS for ch in pupil.upn.strip()[4:12]):
        return f"UPN {pupil.upn} should have digits only in characters 5-12: {_FIX_UPN}."
    return None


@pupil_rule(
    "P06",
    "error",
    field="upn",
    title="UPN wrong length or last character",
    spec_status="CONFIRMED",
    dfe_ref="1550",
    reads=("upn",),
)
def upn_last_character(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    if "1550" not in ctx.upn_problems(pupil.upn):
        return None
    value = pupil.upn.strip()
    if len(value) != 13:
        return f"UPN {value} is {len(value)} characters long, not 13: {_FIX_UPN}."
    return (
        f"UPN {value} ends in '{value[12]}', which is not allowed (the last character is a digit, "
        f"or for a temporary UPN a letter other than I, O and S): {_FIX_UPN}."
    )


@pupil_rule(
    "P07", "query", field="upn", title="Temporary UPN", spec_status="UNCERTAIN", reads=("upn",)
)
def upn_temporary(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    # Only a well-formed temporary UPN: a broken one is already an error above.
    if not ctx.upn_problems(pupil.upn) and upn.is_temporary(pupil.upn):
        return (
            f"UPN {pupil.upn.strip()} is a temporary UPN: replace it with the pupil's permanent "
            "UPN if the school knows it, or explain why it is not known."
        )
    return None


# -- names -----------------------------------------------------------------------------------

_FORMULA_STARTS = ("=", "+", "@")


def _shown(ch: str) -> str:
    return f"'{ch}'" if ch.isprintable() and not ch.isspace() or ch == " " else f"U+{ord(ch):04X}"


def name_problem(value: str, ctx: RuleContext) -> str | None:
    """What is wrong with a legal name, as the end of a sentence, or None if it is fine."""
    if not value.strip():
        return "is missing"
    if value.isalpha():  # nearly every name: letters of any alphabet, accented or not
        return None if len(value) <= ctx.name_max_length else _too_long(value, ctx)
    if value.startswith(_FORMULA_STARTS):
        return f"starts with '{value[0]}', which spreadsheets treat as a formula"
    if any(ch.isdigit() for ch in value):
        return "contains a digit"
    bad: list[str] = []
    letters = 0
    previous = ""
    for ch in value:
        if ch.isalpha():
            letters += 1
        elif ch in ctx.name_extra:
            pass
        elif unicodedata.combining(ch) and previous.isalpha():
            pass  # a decomposed accent (e + U+0308 for ë) belongs to the letter before it
        elif _shown(ch) not in bad:
            bad.append(_shown(ch))
        if not unicodedata.combining(ch):
            previous = ch
    if bad:
        return (
            f"contains {', '.join(bad)}, which a name cannot have (only letters, spaces, "
            "hyphens, apostrophes and full stops)"
        )
    if not letters:
        return "has no letters"
    if len(value) > ctx.name_max_length:
        return _too_long(value, ctx)
    return None


def _too_long(value: str, ctx: RuleContext) -> str:
    return f"is {len(value)} characters long, more than the {ctx.name_max_length} allowed"


def _name_message(item: str, value: str, problem: str) -> str:
    if problem == "is missing":
        return f"{item.capitalize()} is missing: add the pupil's {item} as in the school's records."
    return (
        f"{item.capitalize()} '{value}' {problem}: correct it to the pupil's {item} as in the "
        "school's records."
    )


@pupil_rule(
    "P08",
    "error",
    field="surname",
    title="Surname missing or invalid",
    spec_status="LIKELY",
    reads=("surname",),
)
def surname_invalid(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    problem = name_problem(pupil.surname, ctx)
    return _name_message("legal surname", pupil.surname, problem) if problem else None


@pupil_rule(
    "P09",
    "error",
    field="forename",
    title="Forename missing or invalid",
    spec_status="LIKELY",
    reads=("forename",),
)
def forename_invalid(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    problem = name_problem(pupil.forename, ctx)
    return _name_message("legal forename", pupil.forename, problem) if problem else None


# -- date of birth ---------------------------------------------------------------------------


@pupil_rule(
    "P10",
    "error",
    field="dob",
    title="Date of birth missing or invalid",
    spec_status="LIKELY",
    reads=("dob",),
)
def dob_invalid(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    if pupil.dob_date is not None:
        return None
    if not pupil.dob.strip():
        return "Date of birth is missing: add it from the pupil's records."
    return (
        f"Date of birth '{pupil.dob}' is not a real date: correct it from the pupil's records "
        "(for example 2016-01-14 or 14/01/2016)."
    )


def _dob_implausible(dob: dt.date, ctx: RuleContext) -> bool:
    d = ctx.definition
    return not d.dob_plausible_from <= dob <= d.dob_plausible_to


@pupil_rule(
    "P11",
    "query",
    field="dob",
    title="Date of birth outside usual cohort",
    spec_status="LIKELY",
    reads=("dob", "nc_year"),
)
def dob_unusual(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    dob = pupil.dob_date
    if dob is None:
        return None
    # The usual range of the pupil's own NC year when the collection has several (phonics:
    # Year 1 and the Year 2 re-check), else the collection's one range.
    d = ctx.definition
    year = nc_year_key(pupil.nc_year) if pupil.nc_year else ""
    by_year = d.dob_usual_by_nc_year
    if year in by_year:
        start, end = by_year[year]
    elif len(by_year) == 1:
        ((year, (start, end)),) = by_year.items()
    else:  # an NC year not the collection's (P15 says so): any of its years
        start, end, year = d.dob_usual_from, d.dob_usual_to, either(sorted(by_year))
    if start <= dob <= end:
        return None
    if ctx.enabled(ctx.ids["P12"]) and _dob_implausible(dob, ctx):
        return None  # P12 reports it as an error
    return (
        f"Date of birth {long_date(dob)} is outside the usual range for year {year} "
        f"({long_date(start)} to {long_date(end)}): confirm {ctx.cohort_words['this_year']}, "
        "or correct the date."
    )


@pupil_rule(
    "P12",
    "error",
    field="dob",
    title="Date of birth implausible for the collection",
    spec_status="UNCERTAIN",
    reads=("dob",),
)
def dob_implausible(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    dob = pupil.dob_date
    if dob is None or not _dob_implausible(dob, ctx):
        return None
    d = ctx.definition
    return (
        f"Date of birth {long_date(dob)} is not possible for {ctx.cohort_words['pupil']} (it should be "
        f"between {long_date(d.dob_plausible_from)} and {long_date(d.dob_plausible_to)}): "
        "correct it from the pupil's records."
    )


# -- sex and NC year -------------------------------------------------------------------------


@pupil_rule(
    "P13",
    "error",
    field="sex",
    title="Sex missing or invalid",
    spec_status="LIKELY",
    reads=("sex",),
)
def sex_invalid(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    value = pupil.sex.strip()
    if value.upper() in ctx.sex_codes:
        return None
    codes = " or ".join(ctx.definition.raw.get("identity", {}).get("sex_codes", ())) or " or ".join(
        sorted(ctx.sex_codes)
    )
    if not value:
        return f"Sex is missing: enter {codes} as in the school's records."
    if value[0].upper() in ctx.sex_codes and value.isalpha():  # "Male", "female"
        return f"Sex '{value}' should be one letter: enter {value[0].upper()}."
    return f"Sex '{value}' is not a valid value: enter {codes}."


@pupil_rule(
    "P15",
    "query",
    field="nc_year",
    title="NC year not the collection's",
    spec_status="UNCERTAIN",
    reads=("nc_year",),
)
def nc_year_not_the_collections(pupil: PupilRecord, ctx: RuleContext) -> str | None:
    value = pupil.nc_year
    if not value or value in ctx.nc_years or nc_year_key(value) in ctx.nc_years:
        return None
    years = either(sorted(ctx.nc_years))
    if ctx.severity.get(ctx.ids.get("P15", "")) == "error":  # nothing to confirm: correct it
        return (
            f"NC year '{value}' is not year {years}: correct the NC year, or remove the pupil "
            f"from the return if they are not {ctx.cohort_words['pupil']}."
        )
    return (
        f"NC year '{value}' is not year {years}: confirm {ctx.cohort_words['this_year']}, or "
        "remove them from the return."
    )
