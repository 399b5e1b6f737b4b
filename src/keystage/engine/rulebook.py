"""The machinery of validation rules, shared by every collection: a `Rule`, the `RuleBook` a
collection registers its rules in, the `RuleContext` worked out once per definition, and how a
check's result becomes findings. No rule lives here: the rules every collection needs are in
`engine/rules/`, each collection's own in `engine/collections/<name>/rules.py`.

Rule ids: a shared rule is registered under its number alone ("P01"); a collection's book
gives it the collection's prefix (the book's prefix, a hyphen, the number), so the ids in data
and outputs are the collection's. A collection's own rules are registered with the book's prefix too.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from keystage.engine import upn as upn_module
from keystage.engine.definition import Definition
from keystage.engine.records import Finding, PupilRecord

SEVERITIES = ("error", "query")
SCOPES = ("file", "header", "school", "return", "pupil", "cohort")
SPEC_STATUSES = ("CONFIRMED", "LIKELY", "UNCERTAIN")
# Report order of rule numbers: file, header, establishment, pupil identity, then the
# collection's own rules (any other letter).
_NUMBER_ORDER = {"F": 0, "H": 1, "E": 2, "P": 3}


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
    # A finding that rests on what only the school's file showed (e.g. a result given twice):
    # an edit cannot reproduce it, so it is kept until the LA edits its field, and it never
    # travels in the return. The text says why, for the returns page.
    file_only: str = ""
    # The PupilRecord attribute a kept file-only finding is put back into when the pupil's
    # rules run again ("" = none): {field: value} of the findings.
    restores: str = ""


class Hit(NamedTuple):
    """A rule result that names its own field and value; `key` is the caller's record key for
    rules over many records (cohort, return)."""

    field: str
    value: str
    message: str
    key: Any = None


class SchoolOf(NamedTuple):
    """The key of a finding of the checks across an LA's schools that is about one school as
    a whole, not a pupil (e.g. its marks all alike): the school's LAESTAB."""

    laestab: str


class LastYearRecord(NamedTuple):
    """One current record of last year's collection, as a rule across years reads it."""

    upn: str
    nc_year: str
    outcomes: Mapping[str, str]


class LastYear:
    """Last year's collection as Keystage holds it, for the rules that compare a pupil with
    their record a year before (the phonics re-check). The caller builds it from last year's
    current records whose UPN is a UPN or former UPN of this year's pupils (looked up across
    every LA: a pupil may have moved), and passes None when it does not hold last year's
    collection at all, so that those rules do not run rather than find every pupil missing.
    `definition` is last year's: its threshold and codes say what a result meant then."""

    def __init__(self, definition: Definition, records: Iterable[LastYearRecord]):
        self.definition = definition
        self.by_upn: dict[str, list[LastYearRecord]] = {}
        for r in records:
            self.by_upn.setdefault(r.upn.strip().upper(), []).append(r)

    def of(self, upn: str, former_upn: str = "") -> tuple[str, tuple[LastYearRecord, ...]]:
        """(the UPN that matched, last year's records under it): the pupil's own UPN first,
        then their former UPN(s) (several may be given, separated by commas or spaces);
        ("", ()) when last year holds none of them."""
        for candidate in (upn, *former_upn.replace(",", " ").split()):
            key = candidate.strip().upper()
            found = self.by_upn.get(key) if key else None
            if found:
                return candidate.strip(), tuple(found)
        return "", ()


def _number(rule_id: str) -> str:
    return rule_id.rsplit("-", 1)[-1]


def _report_order(rule_id: str) -> tuple[int, str]:
    return (_NUMBER_ORDER.get(_number(rule_id)[:1], 9), rule_id)


class RuleBook:
    """The rules of one collection by id, in report order: the shared rules under the book's
    prefix, then its own. `context` (optional) makes the collection's own part of a
    `RuleContext` (`ctx.own`), worked out once per definition."""

    def __init__(self, prefix: str, *, context: Callable[[RuleContext], Any] | None = None):
        self.prefix = prefix
        self.context = context
        self.own: dict[str, Rule] = {}
        self._rules: dict[str, Rule] | None = None
        self._shared: RuleBook | None = None

    def id_of(self, number: str) -> str:
        return f"{self.prefix}-{number}" if self.prefix else number

    def register(
        self,
        scope: str,
        number: str,
        severity: str,
        *,
        field: str,
        title: str,
        spec_status: str,
        dfe_ref: str = "",
        reads: tuple[str, ...] = (),
        file_only: str = "",
        restores: str = "",
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        rule_id = self.id_of(number)
        if severity not in SEVERITIES or spec_status not in SPEC_STATUSES or scope not in SCOPES:
            raise ValueError(
                f"{rule_id}: bad scope {scope!r}, severity {severity!r} or spec status "
                f"{spec_status!r}"
            )

        def add(check: Callable[..., Any]) -> Callable[..., Any]:
            if rule_id in self.own:
                raise ValueError(f"rule {rule_id} is registered twice")
            self.own[rule_id] = Rule(
                rule_id, scope, severity, field, title, spec_status, dfe_ref, check,
                tuple(reads), file_only, restores,
            )  # fmt: skip
            self._rules = None
            return check

        return add

    def file_rule(self, number: str, severity: str, **kw: Any):
        return self.register("file", number, severity, **kw)

    def header_rule(self, number: str, severity: str, **kw: Any):
        return self.register("header", number, severity, **kw)

    def school_rule(self, number: str, severity: str, **kw: Any):
        return self.register("school", number, severity, **kw)

    def return_rule(self, number: str, severity: str, **kw: Any):
        return self.register("return", number, severity, **kw)

    def pupil_rule(self, number: str, severity: str, **kw: Any):
        return self.register("pupil", number, severity, **kw)

    def cohort_rule(self, number: str, severity: str, **kw: Any):
        return self.register("cohort", number, severity, **kw)

    def include(self, shared: RuleBook) -> None:
        """Take the shared rules (a book without prefix) under this book's prefix."""
        self._shared = shared
        self._rules = None

    @property
    def rules(self) -> dict[str, Rule]:
        if self._rules is None:
            found = dict(self.own)
            for rule in self._shared.own.values() if self._shared else ():
                full = self.id_of(rule.id)
                if full in found:
                    raise ValueError(f"rule {full} is both shared and the collection's own")
                found[full] = replace(rule, id=full)
            self._rules = dict(sorted(found.items(), key=lambda kv: _report_order(kv[0])))
        return self._rules


class RuleContext:
    """Everything the rules need from one Definition, worked out once: resolved severities,
    enabled rules by scope, and code sets and bounds in the shape the checks look them up."""

    def __init__(self, definition: Definition, book: RuleBook):
        self.definition = definition
        self.book = book
        rules = book.rules
        unknown = sorted(set(definition.rules) - set(rules))
        if unknown:
            raise ValueError(
                f"definition {definition.id}: [rules] names unknown rules {', '.join(unknown)}"
            )
        # Shared rules name each other by number ("P12"): their ids in this collection.
        self.ids = {_number(rule_id): rule_id for rule_id in rules}
        self.severity: dict[str, str] = {}
        by_scope: dict[str, list[tuple[Rule, str]]] = {s: [] for s in SCOPES}
        for rule in rules.values():
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
        self.nc_years = frozenset(y.strip().upper() for y in d.nc_years)
        # Words for the collection's pupils in shared rules' messages ([cohort] words).
        self.cohort_words = {**_COHORT_WORDS, **d.raw.get("cohort", {}).get("words", {})}
        self.subjects = {s.key: s for s in d.subjects}
        self.valid = {s.key: frozenset(c.upper() for c in s.valid) for s in d.subjects}
        self.legacy = {
            s.key: (frozenset(c.upper() for c in s.legacy) | d.legacy_codes) - self.valid[s.key]
            for s in d.subjects
        }
        self.order = {s.key: {c.upper(): i for i, c in enumerate(s.order)} for s in d.subjects}
        codes = d.codes
        self.not_assessed = codes.get("not_assessed", frozenset())
        self.maladministration = codes.get("maladministration", frozenset())
        # Codes a school may enter, for messages: the LA-only maladministration code is left out.
        self.school_codes = {
            s.key: tuple(c for c in s.valid if c.upper() not in self.maladministration)
            for s in d.subjects
        }
        # Canonical spellings map to themselves so the common case skips strip().upper().
        self._normal = {c: c.strip().upper() for s in d.subjects for c in s.valid} | {"": ""}
        self._upn_memo: tuple[str, tuple[str, ...]] = ("", ("1500",))
        self.own = book.context(self) if book.context else None
        self.pupil_plan = self._pupil_plan()

    def _pupil_plan(self) -> tuple[tuple[Rule | None, str, _CachedGroup | None], ...]:
        """The pupil rules in report order, with the rules that read only the date of birth (and
        NC year), or only the outcomes, gathered into one cached step each (`_CachedGroup`)."""
        subject_keys = tuple(self.subjects)

        def outcomes_key(pupil: PupilRecord) -> tuple[str | None, ...] | None:
            if pupil.duplicate_outcomes or pupil.wrong_parameters:
                return None  # rare: not worth remembering
            return tuple(map(pupil.outcomes.get, subject_keys))

        def dob_key(pupil: PupilRecord) -> tuple[str, str]:
            return pupil.dob, pupil.nc_year

        groups: dict[str, _CachedGroup] = {}
        plan: list[tuple[Rule | None, str, _CachedGroup | None]] = []
        for rule, severity in self.by_scope["pupil"]:
            reads = frozenset(rule.reads)
            if reads and reads <= {"dob", "nc_year"}:
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

    # Last year's records of the pupils checked (`rules.LastYear`), for the rules across
    # years; None when the caller does not hold last year's collection.
    last_year: Any = None

    def given(self, last_year: Any) -> RuleContext:
        """This context with last year's records of the pupils being checked: a shallow copy,
        so that the context cached for the definition never holds one caller's pupils."""
        ctx = copy.copy(self)
        ctx.last_year = last_year
        return ctx

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

# How shared rules speak of a collection's pupils unless its definition says ([cohort] words).
_COHORT_WORDS = {
    "pupil": "a pupil of this collection",
    "this_year": "the pupil belongs in this year's collection",
    # E04 and E05, about a school's file as a whole.
    "file": "file for this collection",
    "cohort": "pupils of this collection",
    "each": "pupil of this collection",
    "phase": "pupils of this collection",
}


class _CachedGroup:
    """Pupil rules whose findings depend only on values that repeat from pupil to pupil (a date
    of birth, a set of outcome codes). They run once per distinct value and the findings,
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
            for finding in pupil_findings(rule, severity, pupil, rule.check(pupil, ctx))
        )
        if key is not None:
            if len(self.found) >= self.LIMIT:
                self.found.clear()
            self.found[key] = found
        return found


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


def findings(rule: Rule, severity: str, result: Any, default_value: str = "") -> list[Finding]:
    return [
        Finding(rule.id, severity, h.field, h.value, h.message)
        for h in _hits(rule, result, default_value)
    ]


def pupil_findings(rule: Rule, severity: str, pupil: PupilRecord, result: Any) -> list[Finding]:
    if not result:
        return []
    value = pupil_value(pupil, rule.field) if isinstance(result, str) else ""
    return findings(rule, severity, result, value)


def keyed_findings(rule: Rule, severity: str, result: Any) -> list[tuple[Any, Finding]]:
    return [
        (h.key, Finding(rule.id, severity, h.field, h.value, h.message))
        for h in _hits(rule, result, "")
    ]
