"""The validation rules of spec §5 that every collection needs (file, return header,
establishment, pupil identity, checks across schools), and the runners that apply a
collection's rules to a file, a return header, a school, a pupil or a whole cohort.

How it fits together:

* A rule is a function in the module for its scope (`header`, `establishment`, `identity`,
  `cohort` here; a collection's own rules in `engine/collections/<name>/rules.py`), registered
  by a decorator (`pupil_rule("P02", "error", field=...)`) that records a `Rule` in a
  `RuleBook` (`engine/rulebook.py`). The rules here are registered by number in `SHARED`; each
  collection's book takes them under its prefix (prefix, hyphen, number), so rule ids in data
  and outputs are the collection's. `RULES` holds every collection's rules by id. Nothing else lists them.
* A check takes (subject, ctx) and returns None when it passes; a message string (one finding
  on the rule's own field, valued from the subject); or a `Hit` or a list of `Hit`s when it names
  the field and value itself (e.g. an outcome rule that can fire once per subject). The
  subject is: file: `RejectedFile`; header: `ReturnHeaderCase`; school: `SchoolCase`; return:
  the list of LAESTABs in a return; pupil: `PupilRecord`; cohort: the list of `CohortEntry`s.
* Severity and on/off are data. The definition's [rules] table may override a rule's severity
  ("error" or "query") and `enabled = false` switches it off; rules read their settings from
  the same table. `RuleContext` holds everything precomputed from one `Definition` (code sets,
  bounds, resolved severities, the ids of the shared rules in its collection: `ctx.ids["P12"]`)
  and is built once per definition.
* Runners: `file_rejected` (F01), `check_return_header` (H01-H08), `check_school` (E01, E02,
  E04, E05), `check_establishments` (E03), `check_pupil` (the pupil rules: identity and the
  collection's own) and `check_cohort` (P03, P14). Speed matters for `check_pupil` (650,000
  pupils in the national import): a pupil rule declares the record attributes it `reads`, and
  the rules that read only the date of birth, or only the outcomes, run once per distinct
  value (`rulebook._CachedGroup`).
* Where one rule is a more precise form of another, only the precise one fires while it is
  enabled: P12 over P11, E01 over E02 (and a collection's own, e.g. an outdated code over an
  invalid one). P02 (check letter) is only checked when the rest of the UPN is well formed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from keystage.engine import collections as collection_packages
from keystage.engine.definition import Definition
from keystage.engine.records import FileHeader, Finding, PupilRecord, RejectedFile
from keystage.engine.rulebook import (
    SCOPES,
    SEVERITIES,
    SPEC_STATUSES,
    Hit,
    LastYear,
    LastYearRecord,
    Rule,
    RuleBook,
    RuleContext,
    SchoolOf,
    findings,
    keyed_findings,
    pupil_findings,
)


@dataclass(frozen=True)
class SchoolInfo:
    """What the school register (GIAS) says about an establishment."""

    la: str
    estab: str
    urn: str = ""
    name: str = ""
    type_name: str = ""
    phase_name: str = ""
    status_name: str = ""
    low_age: int | None = None
    high_age: int | None = None

    @property
    def laestab(self) -> str:
        # An early-years setting has no establishment number: its URN stands for its LAESTAB.
        return f"{self.la}{self.estab}" if self.estab else self.urn


@dataclass(frozen=True)
class SchoolCase:
    header: FileHeader
    school: SchoolInfo | None
    pupil_count: int
    expected_cohort: int | None


@dataclass(frozen=True)
class ReturnHeaderCase:
    values: Mapping[str, str]
    la: str  # the LA the return is made for
    now: dt.datetime

    def get(self, name: str) -> str:
        return (self.values.get(name) or "").strip()


class CohortEntry(NamedTuple):
    """One current pupil record of an LA, for the cross-record rules. `key` is the caller's."""

    key: Any
    laestab: str
    upn: str
    surname: str
    forename: str
    dob: str
    # The school's name, so that a message about another record says where it is in words
    # ("Downs Infant School (9382002)"); "" names the school by its LAESTAB only.
    school: str = ""
    nc_year: str = ""
    former_upn: str = ""
    # Only for the rules that read results across a school (`cohort_reads`); None: not given.
    outcomes: Mapping[str, str] | None = None


# The rules every collection needs, by number; a collection's book gives them its prefix.
SHARED = RuleBook("")
file_rule = SHARED.file_rule
header_rule = SHARED.header_rule
school_rule = SHARED.school_rule
return_rule = SHARED.return_rule
pupil_rule = SHARED.pupil_rule
cohort_rule = SHARED.cohort_rule

# Every collection's rules by id (filled below, once the rule modules are imported).
RULES: dict[str, Rule] = {}


def book_for(definition: Definition) -> RuleBook:
    """The rule book of a definition's collection (its own rules and the shared ones)."""
    book = collection_packages.module_of(definition, "rules").BOOK
    book.include(SHARED)
    return book


_CONTEXTS: dict[int, RuleContext] = {}


def context_for(definition: Definition) -> RuleContext:
    """The cached RuleContext of a definition (Definition holds dicts, so it is not hashable)."""
    ctx = _CONTEXTS.get(id(definition))
    if ctx is None or ctx.definition is not definition:
        ctx = RuleContext(definition, book_for(definition))
        if len(_CONTEXTS) > 64:
            _CONTEXTS.clear()
        _CONTEXTS[id(definition)] = ctx
    return ctx


def rule_id(definition: Definition, number: str) -> str:
    """The id a shared rule has in a definition's collection ("F01" -> its file rule's id)."""
    return book_for(definition).id_of(number)


def severity_of(rule_id: str, definition: Definition) -> str:
    """The severity a definition gives a rule (its default unless the [rules] table says)."""
    return definition.rules.get(rule_id, {}).get("severity", RULES[rule_id].severity)


def is_enabled(rule_id: str, definition: Definition) -> bool:
    return definition.rules.get(rule_id, {}).get("enabled", True) is not False


def file_only_rules() -> dict[str, Rule]:
    """The rules, of any collection, whose findings rest on what only a school's file showed
    (kept until the LA edits their field; never carried by a return)."""
    return {r.id: r for r in RULES.values() if r.file_only}


def _run(
    scope: str, subject: Any, definition: Definition, default_value: str = ""
) -> list[Finding]:
    ctx = context_for(definition)
    out: list[Finding] = []
    for rule, severity in ctx.by_scope[scope]:
        result = rule.check(subject, ctx)
        if result:
            out.extend(findings(rule, severity, result, default_value))
    return out


# -- runners ---------------------------------------------------------------------------------


def check_pupil(
    pupil: PupilRecord, definition: Definition, *, school: SchoolInfo | None = None
) -> list[Finding]:
    """Every pupil-scope rule on one record. `school` is accepted for rules that will need the
    school's details; none does yet."""
    ctx = context_for(definition)
    out: list[Finding] = []
    for rule, severity, group in ctx.pupil_plan:
        if group is not None:
            found = group.check(pupil, ctx)
            if found:
                out.extend(found)
        else:
            result = rule.check(pupil, ctx)
            if result:
                out.extend(pupil_findings(rule, severity, pupil, result))
    return out


def check_school(
    header: FileHeader,
    school: SchoolInfo | None,
    pupil_count: int,
    definition: Definition,
    *,
    expected_cohort: int | None = None,
) -> list[Finding]:
    """The school rules (E01, E02, E04, E05) for one school's file. `school` is None when the register does not
    know the LAESTAB; `expected_cohort` is e.g. the January census year 2 count."""
    return _run("school", SchoolCase(header, school, pupil_count, expected_cohort), definition)


def check_establishments(
    laestabs: Iterable[str], definition: Definition
) -> list[tuple[str, Finding]]:
    """The return rule (E03) over the LAESTABs of one return, keyed by LAESTAB."""
    ctx = context_for(definition)
    listed = list(laestabs)
    out: list[tuple[str, Finding]] = []
    for rule, severity in ctx.by_scope["return"]:
        result = rule.check(listed, ctx)
        if result:
            out.extend(keyed_findings(rule, severity, result))
    return out


def check_cohort(
    entries: Iterable[CohortEntry], definition: Definition, *, last_year: LastYear | None = None
) -> list[tuple[Any, Finding]]:
    """The rules across records (P03, P14, a collection's own) over all current pupils of an
    LA: (entry key, finding) for every record involved, or (`SchoolOf`, finding) for a finding
    about a school as a whole. `last_year`: last year's records of these pupils, for the rules
    that compare with them; None when last year's collection is not held (they do not run)."""
    ctx = context_for(definition)
    if last_year is not None:
        ctx = ctx.given(last_year)
    listed = [e if isinstance(e, CohortEntry) else CohortEntry(*e) for e in entries]
    out: list[tuple[Any, Finding]] = []
    for rule, severity in ctx.by_scope["cohort"]:
        result = rule.check(listed, ctx)
        if result:
            out.extend(keyed_findings(rule, severity, result))
    return out


def cohort_reads(definition: Definition) -> frozenset[str]:
    """The record attributes the enabled rules across records read beyond the identity items
    (e.g. "outcomes", "nc_year"): what a caller must put in each `CohortEntry`, and which
    edits call for the checks across the LA's schools again. "last_year": a rule compares
    pupils with last year's records (`LastYear`)."""
    ctx = context_for(definition)
    return frozenset(name for rule, _ in ctx.by_scope["cohort"] for name in rule.reads)


def last_year_nc_years(definition: Definition) -> frozenset[str]:
    """The NC years of the pupils the enabled rules across years compare with last year (each
    names its own in its `nc_year` setting; none: every pupil), so that a caller looks up last
    year's records of those pupils only."""
    ctx = context_for(definition)
    years = set()
    for rule, _ in ctx.by_scope["cohort"]:
        if "last_year" in rule.reads:
            year = str(ctx.setting(rule.id, "nc_year", "")).strip()
            if not year:
                return frozenset()
            years.add(year)
    return frozenset(years)


def check_return_header(
    header: Mapping[str, str], definition: Definition, *, la: str, now: dt.datetime
) -> list[Finding]:
    """The header rules (H01-H08) on the header of an LA -> COLLECT return (element name -> text)."""
    return _run("header", ReturnHeaderCase(header, la.strip(), now), definition)


def file_rejected(
    reason: str | RejectedFile,
    definition: Definition,
    *,
    file_name: str = "",
    line: int | None = None,
) -> list[Finding]:
    """The file rule (F01): the finding that records a rejected file (field "file", value the
    file name). Empty if the definition switches it off."""
    rejected = reason if isinstance(reason, RejectedFile) else RejectedFile(reason, line=line)
    return _run("file", rejected, definition, default_value=file_name)


# The shared rule modules register themselves on import; they need the names above. Then each
# collection's book takes them, and RULES holds every collection's rules by id.
from keystage.engine.rules import (  # noqa: E402
    cohort,
    establishment,
    header,
    identity,
)

for _module in collection_packages.rule_modules():
    _module.BOOK.include(SHARED)
    RULES.update(_module.BOOK.rules)
del _module

__all__ = [
    "RULES",
    "SCOPES",
    "SEVERITIES",
    "SHARED",
    "SPEC_STATUSES",
    "CohortEntry",
    "Hit",
    "LastYear",
    "LastYearRecord",
    "ReturnHeaderCase",
    "Rule",
    "RuleContext",
    "SchoolCase",
    "SchoolInfo",
    "SchoolOf",
    "book_for",
    "check_cohort",
    "cohort_reads",
    "last_year_nc_years",
    "check_establishments",
    "check_pupil",
    "check_return_header",
    "check_school",
    "cohort",
    "context_for",
    "establishment",
    "file_only_rules",
    "file_rejected",
    "header",
    "identity",
    "is_enabled",
    "rule_id",
    "severity_of",
]
