"""The validation rules of spec §5: one small named function per rule, all registered in `RULES`,
and the runners that apply them to a file, a return header, a school, a pupil or a whole cohort.

How it fits together:

* A rule is a function in the module for its scope (`header`, `establishment`, `identity`,
  `outcomes`, `cohort`), registered by a decorator (`pupil_rule("KS1-P02", "error", field=...)`)
  that records a `Rule` in `RULES`. Nothing else lists the rules.
* A check takes (subject, ctx) and returns None when it passes; a message string (one finding
  on the rule's own field, valued from the subject); or a `Hit` or a list of `Hit`s when it names
  the field and value itself (e.g. KS1-T05, which can fire once per subject). The subject is:
  file: `RejectedFile`; header: `ReturnHeaderCase`; school: `SchoolCase`; return: the list of
  LAESTABs in a return; pupil: `PupilRecord`; cohort: the list of `CohortEntry`s.
* Severity and on/off are data. The definition's [rules] table may override a rule's severity
  ("error" or "query") and `enabled = false` switches it off; rules read their settings (e.g.
  KS1-T11 `max_spread`) from the same table. `RuleContext` holds everything precomputed from one
  `Definition` (code sets, bounds, resolved severities) and is built once per definition.
* Runners: `file_rejected` (F01), `check_return_header` (H01-H08), `check_school` (E01, E02,
  E04, E05), `check_establishments` (E03), `check_pupil` (P01-P15 but P03/P14, T01-T14) and
  `check_cohort` (P03, P14). Speed matters for `check_pupil` (650,000 pupils in the national
  import): a pupil rule declares the record attributes it `reads`, and the rules that read only
  the date of birth, or only the outcomes, run once per distinct value (`_CachedGroup`).
* Where one rule is a more precise form of another, only the precise one fires while it is
  enabled: KS1-P12 over KS1-P11, KS1-T07 over KS1-T05/T06, KS1-T14 over KS1-T01..T04, KS1-E01
  over KS1-E02. KS1-P02 (check letter) is only checked when the rest of the UPN is well formed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from keystage.engine import upn as upn_module
from keystage.engine.definition import Definition
from keystage.engine.records import FileHeader, Finding, PupilRecord, RejectedFile

SEVERITIES = ("error", "query")
SCOPES = ("file", "header", "school", "return", "pupil", "cohort")
SPEC_STATUSES = ("CONFIRMED", "LIKELY", "UNCERTAIN")
# Report order of rule ids: file, header, establishment, pupil identity, outcomes.
_ID_ORDER = {"F": 0, "H": 1, "E": 2, "P": 3, "T": 4}


@dataclass(frozen=True)
class Rule:
    id: str
    scope: str
    severity: str  # the default; a definition's [rules] table may override it
    field: str
    title: str
    spec_status: str
    dfe_ref: str
    check: Callable[..., Any]
    reads: tuple[str, ...] = ()  # PupilRecord attributes a pupil rule looks at; () = any


class Hit(NamedTuple):
    """A rule result that names its own field and value; `key` is the caller's record key for
    rules over many records (cohort, return)."""

    field: str
    value: str
    message: str
    key: Any = None


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
        return f"{self.la}{self.estab}"


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


RULES: dict[str, Rule] = {}


def _register(
    scope: str,
    rule_id: str,
    severity: str,
    *,
    field: str,
    title: str,
    spec_status: str,
    dfe_ref: str = "",
    reads: tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    if severity not in SEVERITIES or spec_status not in SPEC_STATUSES:
        raise ValueError(f"{rule_id}: bad severity {severity!r} or spec status {spec_status!r}")

    def register(check: Callable[..., Any]) -> Callable[..., Any]:
        if rule_id in RULES:
            raise ValueError(f"rule {rule_id} is registered twice")
        RULES[rule_id] = Rule(
            rule_id, scope, severity, field, title, spec_status, dfe_ref, check, tuple(reads)
        )
        return check

    return register


def file_rule(rule_id: str, severity: str, **kw: Any):
    return _register("file", rule_id, severity, **kw)


def header_rule(rule_id: str, severity: str, **kw: Any):
    return _register("header", rule_id, severity, **kw)


def school_rule(rule_id: str, severity: str, **kw: Any):
    return _register("school", rule_id, severity, **kw)


def return_rule(rule_id: str, severity: str, **kw: Any):
    return _register("return", rule_id, severity, **kw)


def pupil_rule(rule_id: str, severity: str, **kw: Any):
    return _register("pupil", rule_id, severity, **kw)


def cohort_rule(rule_id: str, severity: str, **kw: Any):
    return _register("cohort", rule_id, severity, **kw)


# -- per-definition context ------------------------------------------------------------------

CORE_SUBJECTS = ("reading", "writing", "maths")  # "R/W/M" in spec §5.4
SCIENCE = "science"


class RuleContext:
    """Everything the rules need from one Definition, worked out once: resolved severities,
    enabled rules by scope, and code sets and bounds in the shape the checks look them up."""

    def __init__(self, definition: Definition):
        self.definition = definition
        unknown = sorted(set(definition.rules) - set(RULES))
        if unknown:
            raise ValueError(
                f"definition {definition.id}: [rules] names unknown rules {', '.join(unknown)}"
            )
        self.severity: dict[str, str] = {}
        by_scope: dict[str, list[tuple[Rule, str]]] = {s: [] for s in SCOPES}
        for rule in RULES.values():
            settings = definition.rules.get(rule.id, {})
            if settings.get("enabled", True) is False:
                continue
            severity = settings.get("severity", rule.severity)
            if severity not in SEVERITIES:
                raise ValueError(
                    f"definition {definition.id}: {rule.id} severity must be 'error' or "
                    f"'query', not {severity!r}"
                )
            self.severity[rule.id] = severity
            by_scope[rule.scope].append((rule, severity))
        self.by_scope = {s: tuple(v) for s, v in by_scope.items()}

        d = definition
        self.upn_la_codes = d.upn_la_codes
        self.name_max_length = d.name_max_length
        self.name_extra = frozenset(d.name_extra_characters)
        self.sex_codes = frozenset(c.upper() for c in d.sex_codes)
        self.nc_year = d.nc_year.strip().upper()
        self.subjects = {s.key: s for s in d.subjects}
        self.valid = {s.key: frozenset(c.upper() for c in s.valid) for s in d.subjects}
        self.legacy = {
            s.key: (frozenset(c.upper() for c in s.legacy) | d.legacy_codes) - self.valid[s.key]
            for s in d.subjects
        }
        self.order = {s.key: {c.upper(): i for i, c in enumerate(s.order)} for s in d.subjects}
        self.core = tuple(k for k in CORE_SUBJECTS if k in self.subjects)
        self.has_science = SCIENCE in self.subjects
        codes = d.codes
        self.engagement = codes.get("engagement_model", frozenset())
        self.pre_key_stage = codes.get("pre_key_stage", frozenset())
        self.not_assessed = codes.get("not_assessed", frozenset())
        self.maladministration = codes.get("maladministration", frozenset())
        # Codes a school may enter, for messages: the LA-only maladministration code is left out.
        self.school_codes = {
            s.key: tuple(c for c in s.valid if c.upper() not in self.maladministration)
            for s in d.subjects
        }
        # Canonical spellings map to themselves so the common case skips strip().upper().
        self._normal = {c: c for s in d.subjects for c in s.valid} | {"": ""}
        self._upn_memo: tuple[str, tuple[str, ...]] = ("", ("1500",))
        self.pupil_plan = self._pupil_plan()

    def _pupil_plan(self) -> tuple[tuple[Rule | None, str, _CachedGroup | None], ...]:
        """The pupil rules in report order, with the rules that read only the date of birth, or
        only the outcomes, gathered into one cached step each (see `_CachedGroup`)."""
        subject_keys = tuple(self.subjects)

        def outcomes_key(pupil: PupilRecord) -> tuple[str | None, ...] | None:
            if pupil.duplicate_outcomes or pupil.wrong_parameters:
                return None  # rare: not worth remembering
            return tuple(map(pupil.outcomes.get, subject_keys))

        def dob_key(pupil: PupilRecord) -> str:
            return pupil.dob

        groups: dict[str, _CachedGroup] = {}
        plan: list[tuple[Rule | None, str, _CachedGroup | None]] = []
        for rule, severity in self.by_scope["pupil"]:
            reads = frozenset(rule.reads)
            if reads == {"dob"}:
                name, key_of = "dob", dob_key
            elif reads and reads <= _OUTCOME_READS:
                name, key_of = "outcomes", outcomes_key
            else:
                plan.append((rule, severity, None))
                continue
            if name not in groups:
                groups[name] = _CachedGroup(key_of)
                plan.append((None, "", groups[name]))
            groups[name].rules.append((rule, severity))
        return tuple(plan)

    def enabled(self, rule_id: str) -> bool:
        return rule_id in self.severity

    def setting(self, rule_id: str, name: str, default: Any = None) -> Any:
        return self.definition.rule_setting(rule_id, name, default)

    def code(self, raw: str | None) -> str:
        """An outcome code as compared: trimmed and upper-cased."""
        if raw is None:
            return ""
        code = self._normal.get(raw)
        return code if code is not None else raw.strip().upper()

    def upn_problems(self, value: str) -> tuple[str, ...]:
        # Five rules ask about the same UPN in a row; remember the last answer.
        memo = self._upn_memo
        if memo[0] == value:
            return memo[1]
        result = tuple(upn_module.problems(value, self.upn_la_codes))
        self._upn_memo = (value, result)
        return result


_OUTCOME_READS = frozenset({"outcomes", "duplicate_outcomes", "wrong_parameters"})


class _CachedGroup:
    """Pupil rules whose findings depend only on values that repeat from pupil to pupil (a date
    of birth, a set of four outcome codes). They run once per distinct value and the findings,
    which are immutable, are reused: the national import checks 650,000 pupils."""

    LIMIT = 50_000  # distinct values remembered before starting afresh

    def __init__(self, key_of: Callable[[PupilRecord], Any]):
        self.key_of = key_of
        self.rules: list[tuple[Rule, str]] = []
        self.found: dict[Any, tuple[Finding, ...]] = {}

    def check(self, pupil: PupilRecord, ctx: RuleContext) -> tuple[Finding, ...]:
        key = self.key_of(pupil)
        if key is not None:
            found = self.found.get(key)
            if found is not None:
                return found
        found = tuple(
            finding
            for rule, severity in self.rules
            for finding in _pupil_findings(rule, severity, pupil, rule.check(pupil, ctx))
        )
        if key is not None:
            if len(self.found) >= self.LIMIT:
                self.found.clear()
            self.found[key] = found
        return found


_CONTEXTS: dict[int, RuleContext] = {}


def context_for(definition: Definition) -> RuleContext:
    """The cached RuleContext of a definition (Definition holds dicts, so it is not hashable)."""
    ctx = _CONTEXTS.get(id(definition))
    if ctx is None or ctx.definition is not definition:
        ctx = RuleContext(definition)
        if len(_CONTEXTS) > 64:
            _CONTEXTS.clear()
        _CONTEXTS[id(definition)] = ctx
    return ctx


def severity_of(rule_id: str, definition: Definition) -> str:
    """The severity a definition gives a rule (its default unless the [rules] table says)."""
    return definition.rules.get(rule_id, {}).get("severity", RULES[rule_id].severity)


def is_enabled(rule_id: str, definition: Definition) -> bool:
    return definition.rules.get(rule_id, {}).get("enabled", True) is not False


# -- turning check results into findings -----------------------------------------------------

_PUPIL_ATTRIBUTES = frozenset({"upn", "surname", "forename", "dob", "sex", "nc_year", "former_upn"})


def pupil_value(pupil: PupilRecord, field: str) -> str:
    if field in _PUPIL_ATTRIBUTES:
        return getattr(pupil, field)
    return pupil.outcomes.get(field, "")


def _hits(rule: Rule, result: Any, default_value: str) -> list[Hit]:
    if isinstance(result, str):
        return [Hit(rule.field, default_value, result)]
    if isinstance(result, Hit):
        return [result]
    return list(result)


def _findings(rule: Rule, severity: str, result: Any, default_value: str = "") -> list[Finding]:
    return [
        Finding(rule.id, severity, h.field, h.value, h.message)
        for h in _hits(rule, result, default_value)
    ]


def _pupil_findings(rule: Rule, severity: str, pupil: PupilRecord, result: Any) -> list[Finding]:
    if not result:
        return []
    value = pupil_value(pupil, rule.field) if isinstance(result, str) else ""
    return _findings(rule, severity, result, value)


def _keyed_findings(rule: Rule, severity: str, result: Any) -> list[tuple[Any, Finding]]:
    return [
        (h.key, Finding(rule.id, severity, h.field, h.value, h.message))
        for h in _hits(rule, result, "")
    ]


def _run(
    scope: str, subject: Any, definition: Definition, default_value: str = ""
) -> list[Finding]:
    ctx = context_for(definition)
    out: list[Finding] = []
    for rule, severity in ctx.by_scope[scope]:
        result = rule.check(subject, ctx)
        if result:
            out.extend(_findings(rule, severity, result, default_value))
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
                out.extend(_pupil_findings(rule, severity, pupil, result))
    return out


def check_school(
    header: FileHeader,
    school: SchoolInfo | None,
    pupil_count: int,
    definition: Definition,
    *,
    expected_cohort: int | None = None,
) -> list[Finding]:
    """KS1-E01, E02, E04, E05 for one school's file. `school` is None when the register does not
    know the LAESTAB; `expected_cohort` is e.g. the January census year 2 count."""
    return _run("school", SchoolCase(header, school, pupil_count, expected_cohort), definition)


def check_establishments(
    laestabs: Iterable[str], definition: Definition
) -> list[tuple[str, Finding]]:
    """KS1-E03 over the LAESTABs of one return, keyed by LAESTAB."""
    ctx = context_for(definition)
    listed = list(laestabs)
    out: list[tuple[str, Finding]] = []
    for rule, severity in ctx.by_scope["return"]:
        result = rule.check(listed, ctx)
        if result:
            out.extend(_keyed_findings(rule, severity, result))
    return out


def check_cohort(
    entries: Iterable[CohortEntry], definition: Definition
) -> list[tuple[Any, Finding]]:
    """KS1-P03 and P14 over all current pupils of an LA: (entry key, finding) for every record
    involved."""
    ctx = context_for(definition)
    listed = [e if isinstance(e, CohortEntry) else CohortEntry(*e) for e in entries]
    out: list[tuple[Any, Finding]] = []
    for rule, severity in ctx.by_scope["cohort"]:
        result = rule.check(listed, ctx)
        if result:
            out.extend(_keyed_findings(rule, severity, result))
    return out


def check_return_header(
    header: Mapping[str, str], definition: Definition, *, la: str, now: dt.datetime
) -> list[Finding]:
    """KS1-H01..H08 on the header of an LA -> COLLECT return (element name -> text)."""
    return _run("header", ReturnHeaderCase(header, la.strip(), now), definition)


def file_rejected(
    reason: str | RejectedFile,
    definition: Definition,
    *,
    file_name: str = "",
    line: int | None = None,
) -> list[Finding]:
    """KS1-F01: the finding that records a rejected file (field "file", value the file name).
    Empty if the definition switches KS1-F01 off."""
    rejected = reason if isinstance(reason, RejectedFile) else RejectedFile(reason, line=line)
    return _run("file", rejected, definition, default_value=file_name)


# The rule modules register themselves on import; they need the names above.
from keystage.engine.rules import (  # noqa: E402
    cohort,
    establishment,
    header,
    identity,
    outcomes,
)

_ordered = sorted(RULES.items(), key=lambda kv: (_ID_ORDER.get(kv[0][4:5], 9), kv[0]))
RULES.clear()
RULES.update(_ordered)
del _ordered

__all__ = [
    "RULES",
    "CohortEntry",
    "Hit",
    "ReturnHeaderCase",
    "Rule",
    "RuleContext",
    "SchoolCase",
    "SchoolInfo",
    "check_cohort",
    "check_establishments",
    "check_pupil",
    "check_return_header",
    "check_school",
    "cohort",
    "context_for",
    "establishment",
    "file_rejected",
    "header",
    "identity",
    "is_enabled",
    "outcomes",
    "severity_of",
]
