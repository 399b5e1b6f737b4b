"""The phonics screening check's headline measures as DfE computes them (spec phonics.md §5):
Year 1 and the Year 2 re-check against the threshold, "by the end of Year 2" across two years,
and the mark distribution. Every setting is the definition's (`[threshold]`, `[measures]`,
`[measures.groups]`, `[measures.buckets]`, `[measures.by_end_y2]`); docs/measures.md explains
them. The functions have the signatures of every collection's `measures` module, so the app
calls `collections.module_of(definition, "measures")` and never asks which collection it is.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from keystage.engine import definition as definitions
from keystage.engine.collections.phonics.rules import CODE, MARK
from keystage.engine.definition import Definition
from keystage.engine.measures import (
    UNKNOWN,
    EesColumn,
    MeasureSettingsError,
    Needs,
    bucket_words,
    checked_once,
    percent,
    read_buckets,
    rounded,
)
from keystage.engine.records import PupilRecord
from keystage.engine.words import digits_only, plural

__all__ = [
    "UNKNOWN",
    "Counts",
    "count_by_group",
    "count_pupils",
    "ees_columns",
    "ees_row",
    "from_json",
    "headlines",
    "measures",
    "needs",
    "settings",
    "to_json",
]

# A pupil's outcome in a group, as counted: met or working towards (a mark at or above the
# threshold, or below it), an outcome code given instead of a mark (upper-cased), or UNKNOWN.
MET, WORKING_TOWARDS = "met", "working_towards"
# Bucket values in the definition that are computed rather than lists of codes.
_COMPUTED = ("eligible", MET, WORKING_TOWARDS, UNKNOWN)
# What a group that reads more than this year's records may lack (`Counts.uncounted`).
LAST_YEAR, OTHER_COLLECTION = "last_year", "other_collection"
# How the Year 2 cohort of "by the end of Year 2" is found ([measures.by_end_y2] year2_cohort).
OTHER_COLLECTION_RULE, RESULTS_RULE = "collection", "results"
_COHORT_RULES = (OTHER_COLLECTION_RULE, RESULTS_RULE)


@dataclass(frozen=True)
class Group:
    """One group of [measures.groups]: a year group's check (`nc_year`), or, with no NC year,
    the pupils of the Year 2 cohort by the end of Year 2 (across this year and last)."""

    key: str
    label: str
    nc_year: str | None


@dataclass(frozen=True)
class PhonicsSettings:
    """The definition's threshold and [measures] tables, checked."""

    low: int
    high: int
    threshold: int
    published: dt.date | None
    valid: frozenset[str]  # outcome codes, upper-cased
    instead_of_mark: frozenset[str]  # the codes that stand in place of a mark
    out: frozenset[str]  # outcomes that take a pupil out of the eligible pupils
    groups: tuple[Group, ...]
    buckets: dict[str, str | frozenset[str]]
    column: str
    percent_column: str
    keystage_only: frozenset[str]
    first_year: str  # the NC year of the first check (last year's results are its)
    year2_cohort: str
    year2_cohort_collection: str | None
    previous: str | None

    def bucket_of(self, outcome: str) -> str | None:
        """The bucket an outcome is counted in (None for one out of the eligible pupils)."""
        for name, value in self.buckets.items():
            if value == outcome or (isinstance(value, frozenset) and outcome in value):
                return name
        return None

    @property
    def eligible_bucket(self) -> str:
        return next(n for n, v in self.buckets.items() if v == "eligible")


_CHECKED: dict[int, tuple[Definition, PhonicsSettings]] = {}


def settings(definition: Definition) -> PhonicsSettings:
    """Read and check the definition's phonics measures. Raises `MeasureSettingsError` when an
    outcome code would be counted in no bucket, or in two, or a table is missing."""
    return checked_once(_CHECKED, definition, _settings)


def _upper(codes: Iterable[str]) -> frozenset[str]:
    return frozenset(str(c).strip().upper() for c in codes)


def _settings(d: Definition) -> PhonicsSettings:
    where = f"collection definition {d.id!r} ({d.source or 'in memory'})"
    raw = d.raw.get("measures")
    threshold = d.raw.get("threshold")
    if not isinstance(raw, dict) or not isinstance(threshold, dict):
        raise MeasureSettingsError(
            f"{where} needs [threshold] and [measures] tables; see docs/measures.md"
        )
    try:
        mark = d.subject(str(raw.get("distribution", MARK)))
        low, high = mark.marks or (0, 0)
        if mark.marks is None:
            raise MeasureSettingsError(f"{where}: [measures] distribution names {mark.key!r}, "
                                       "which has no marks = { min, max }")  # fmt: skip
        buckets = read_buckets(raw["buckets"], _COMPUTED, where)
        groups = tuple(
            Group(key, str(g.get("label", key)), str(g["nc_year"]) if "nc_year" in g else None)
            for key, g in raw["groups"].items()
        )
        published = threshold.get("published")
        by_end = raw.get("by_end_y2", {})
        found = PhonicsSettings(
            low=low,
            high=high,
            threshold=int(threshold["mark"]),
            published=dt.date.fromisoformat(str(published)) if published else None,
            valid=_upper(d.subject(CODE).valid),
            instead_of_mark=_upper(d.codes.get("instead_of_mark", ())),
            out=_upper(raw.get("not_eligible", ()))
            | (frozenset() if raw.get("maladministration_eligible", True)
               else _upper(d.codes.get("maladministration", ())))
            | (frozenset() if raw.get("unknown_eligible", True) else frozenset({UNKNOWN})),
            groups=groups,
            buckets=buckets,
            column=str(raw["column"]),
            percent_column=str(raw["percent_column"]),
            keystage_only=frozenset(raw.get("keystage_only", ())),
            first_year=d.nc_year,
            year2_cohort=str(by_end.get("year2_cohort", RESULTS_RULE)),
            year2_cohort_collection=by_end.get("year2_cohort_collection") or None,
            previous=d.previous or None,
        )  # fmt: skip
    except KeyError as e:
        raise MeasureSettingsError(f"{where}: [measures] needs {e.args[0]!r}") from None
    computed = {v for v in buckets.values() if isinstance(v, str)}
    for needed in ("eligible", MET, WORKING_TOWARDS):
        if needed not in computed:
            raise MeasureSettingsError(f"{where}: [measures.buckets] needs a {needed!r} bucket")
    for code in (*sorted(found.instead_of_mark), UNKNOWN):
        homes = [n for n, v in buckets.items() if v == code or (
            isinstance(v, frozenset) and code in v)]  # fmt: skip
        # An outcome out of the eligible pupils may still have a bucket (its count is shown,
        # with no percentage); one in the eligible pupils needs exactly one.
        if len(homes) > 1 or (not homes and code not in found.out):
            raise MeasureSettingsError(
                f"{where}: outcome {code} is counted in "
                f"{' and '.join(homes) if homes else 'no bucket'}; it must be in exactly one "
                "[measures.buckets] list, or in [measures] not_eligible"
            )
    if found.year2_cohort not in _COHORT_RULES:
        raise MeasureSettingsError(
            f"{where}: [measures.by_end_y2] year2_cohort = {found.year2_cohort!r}; use "
            f"{' or '.join(repr(r) for r in _COHORT_RULES)}"
        )
    if found.year2_cohort == OTHER_COLLECTION_RULE and not found.year2_cohort_collection:
        raise MeasureSettingsError(
            f"{where}: [measures.by_end_y2] year2_cohort = 'collection' needs "
            "year2_cohort_collection, the id of the collection whose pupils are the cohort"
        )
    if sum(g.nc_year is None for g in groups) > 1:
        raise MeasureSettingsError(
            f"{where}: [measures.groups] has more than one group without an nc_year; only the "
            "group by the end of the last year (read across two years) has none"
        )
    return found


def needs(definition: Definition) -> Needs:
    """What `count_pupils` reads beyond this year's records: last year's results (for the
    group by the end of Year 2) and, when the Year 2 cohort is another collection's pupils,
    that collection."""
    s = settings(definition)
    if not any(g.nc_year is None for g in s.groups):
        return Needs()
    other = s.year2_cohort_collection if s.year2_cohort == OTHER_COLLECTION_RULE else None
    return Needs(last_year=s.previous, other_collection=other)


# -- counting ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """Pupils counted per group (`y1`, `y2`, `by_end_y2`) and outcome, and per mark.

    `outcomes[group][outcome]`: pupils counted in the group with that outcome (`met`,
    `working_towards`, an outcome code such as `A`, or `unknown`); `marks[group][mark]`: the
    pupils of a year group counted at each mark. `uncounted[group]` says what was not given
    to count a group that reads beyond this year's records (`last_year`, `other_collection`).
    Zero counts are never stored, so equal cohorts give equal `Counts`; adding two gives the
    counts of both together (a school's pupils with its own Year 2 cohort), so an LA is the
    sum of its schools and England of its LAs. A group uncounted anywhere in a sum stays so.
    """

    pupils: int = 0
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    marks: dict[str, dict[int, int]] = field(default_factory=dict)
    uncounted: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def at(self, group: str, outcome: str) -> int:
        return self.outcomes.get(group, {}).get(outcome, 0)

    def __add__(self, other: object) -> Counts:
        if not isinstance(other, Counts):
            return NotImplemented
        uncounted = dict(self.uncounted)
        for group, missing in other.uncounted.items():
            uncounted[group] = tuple(sorted({*uncounted.get(group, ()), *missing}))
        return Counts(
            pupils=self.pupils + other.pupils,
            outcomes=_add(self.outcomes, other.outcomes),
            marks=_add(self.marks, other.marks),
            uncounted=uncounted,
        )

    def __radd__(self, other: object) -> Counts:
        if other == 0:  # sum(counts) starts from 0
            return self
        return NotImplemented


def _add(a: dict[str, dict], b: dict[str, dict]) -> dict[str, dict]:
    out = {k: dict(v) for k, v in a.items()}
    for group, tally in b.items():
        mine = out.setdefault(group, {})
        for key, n in tally.items():
            mine[key] = mine.get(key, 0) + n
    return out


def to_json(counts: Counts) -> dict[str, Any]:
    """Counts as JSON data (marks as text keys), for a fact table."""
    return {
        "pupils": counts.pupils,
        "outcomes": counts.outcomes,
        "marks": {g: {str(m): n for m, n in t.items()} for g, t in counts.marks.items()},
        "uncounted": {g: list(v) for g, v in counts.uncounted.items()},
    }


def from_json(data: Mapping[str, Any]) -> Counts:
    """The `Counts` of `to_json` (zero counts dropped)."""
    return Counts(
        pupils=int(data["pupils"]),
        outcomes={g: {k: n for k, n in t.items() if n}
                  for g, t in data.get("outcomes", {}).items() if any(t.values())},
        marks={g: {int(m): n for m, n in t.items() if n}
               for g, t in data.get("marks", {}).items() if any(t.values())},
        uncounted={g: tuple(v) for g, v in data.get("uncounted", {}).items()},
    )  # fmt: skip


def _outcomes(pupil: PupilRecord | Mapping[str, str]) -> Mapping[str, str]:
    return pupil.outcomes if isinstance(pupil, PupilRecord) else pupil


def classify(pupil: PupilRecord | Mapping[str, str], s: PhonicsSettings) -> tuple[str, int | None]:
    """(outcome, mark): a whole-number mark in range is met or working towards (its mark kept
    for the distribution); with no mark, a code given instead of one is that code. Anything
    else is UNKNOWN: no mark and no such code, a mark out of range, `Wa`/`Wt` alone, or a mark
    and a code that stands instead of one (an error the school must correct: until it does
    the pupil is eligible and not met)."""
    outcomes = _outcomes(pupil)
    mark_text = (outcomes.get(MARK) or "").strip()
    code = (outcomes.get(CODE) or "").strip().upper()
    if mark_text:
        digits = digits_only(mark_text)  # not "²", which int() refuses
        if not digits or not s.low <= int(mark_text) <= s.high:
            return UNKNOWN, None
        if code in s.instead_of_mark:
            return UNKNOWN, None
        mark = int(mark_text)
        return (MET if mark >= s.threshold else WORKING_TOWARDS), mark
    if code in s.instead_of_mark and code in s.valid:
        return code, None
    return UNKNOWN, None


def _upn(value: str) -> str:
    return (value or "").strip().upper()


class _Tally:
    def __init__(self) -> None:
        self.outcomes: dict[str, Counter[str]] = {}
        self.marks: dict[str, Counter[int]] = {}

    def add(self, group: str, outcome: str, mark: int | None = None) -> None:
        self.outcomes.setdefault(group, Counter())[outcome] += 1
        if mark is not None:
            self.marks.setdefault(group, Counter())[mark] += 1


@dataclass(frozen=True)
class _Member:
    """One pupil of the Year 2 cohort: this year's later-year record, if any, and last
    year's first-year result, if any."""

    this_year: PupilRecord | None
    last_year: PupilRecord | Mapping[str, str] | None


@dataclass(frozen=True)
class _Cohort:
    """The Year 2 cohort (key -> member) and the other collection's records by UPN; or, when
    it cannot be found, what is missing."""

    members: dict[str, _Member] = field(default_factory=dict)
    records: dict[str, PupilRecord] = field(default_factory=dict)
    missing: tuple[str, ...] = ()


def _cohort(
    pupils: list[PupilRecord],
    s: PhonicsSettings,
    last_year: Mapping[str, PupilRecord | Mapping[str, str]] | None,
    other_collection: Iterable[str | PupilRecord] | None,
) -> _Cohort:
    missing = []
    if last_year is None:
        missing.append(LAST_YEAR)
    if s.year2_cohort == OTHER_COLLECTION_RULE and other_collection is None:
        missing.append(OTHER_COLLECTION)
    if missing or last_year is None:
        return _Cohort(missing=tuple(missing))
    earlier = {_upn(k): v for k, v in last_year.items() if _is_first_year(v, s)}
    later: dict[str, PupilRecord] = {}
    unmatched: list[PupilRecord] = []  # this year's later-year records without a UPN
    for p in pupils:
        if (p.nc_year or "").strip() in (s.first_year, ""):
            continue
        upn = _upn(p.upn)
        if not upn:
            unmatched.append(p)
        else:
            later.setdefault(upn, p)
    records: dict[str, PupilRecord] = {}
    if s.year2_cohort == OTHER_COLLECTION_RULE:
        upns = []
        for item in other_collection or ():
            upn = _upn(item.upn if isinstance(item, PupilRecord) else item)
            if upn:
                upns.append(upn)
                if isinstance(item, PupilRecord):
                    records.setdefault(upn, item)
    else:
        upns = [*later, *earlier]
    members = {u: _Member(later.get(u), earlier.get(u)) for u in dict.fromkeys(upns)}
    if s.year2_cohort == RESULTS_RULE:
        for i, p in enumerate(unmatched):
            members[f"\x00{i}"] = _Member(p, None)  # no UPN: cannot be someone else's key
    return _Cohort(members, records)


def _is_first_year(record: PupilRecord | Mapping[str, str], s: PhonicsSettings) -> bool:
    if isinstance(record, PupilRecord) and record.nc_year.strip():
        return record.nc_year.strip() == s.first_year
    return True  # an outcomes mapping: the caller gave last year's first-year results


@cache
def _shipped(definition_id: str) -> Definition | None:
    """A shipped definition, or None when Keystage has none by that id (looked up once: a
    national rebuild counts thousands of schools)."""
    return definitions.load(definition_id) if definition_id in definitions.available() else None


def _last_year_settings(s: PhonicsSettings) -> PhonicsSettings:
    """Last year's definition's settings when Keystage has it (its threshold and marks);
    else this year's (the threshold has been 32 since 2012)."""
    found = _shipped(s.previous) if s.previous else None
    return settings(found) if found is not None else s


def _by_end(member: _Member, s: PhonicsSettings, last: PhonicsSettings) -> str:
    """A cohort pupil's outcome by the end of Year 2: met in either year; else this year's
    outcome, else last year's; UNKNOWN with neither."""
    now = classify(member.this_year, s)[0] if member.this_year is not None else None
    before = classify(member.last_year, last)[0] if member.last_year is not None else None
    if MET in (now, before):
        return MET
    for outcome in (now, before):
        if outcome is not None and outcome != UNKNOWN:
            return outcome
    return UNKNOWN


def _counted(pupils: list[PupilRecord], s: PhonicsSettings, cohort: _Cohort) -> Counts:
    tally = _Tally()
    by_year = {g.nc_year: g.key for g in s.groups if g.nc_year is not None}
    for p in pupils:
        group = by_year.get((p.nc_year or "").strip())
        if group is not None:
            tally.add(group, *classify(p, s))
    uncounted: dict[str, tuple[str, ...]] = {}
    across = [g.key for g in s.groups if g.nc_year is None]
    for group in across:
        if cohort.missing:
            uncounted[group] = cohort.missing
            continue
        last = _last_year_settings(s)
        for member in cohort.members.values():
            tally.add(group, _by_end(member, s, last))
    return Counts(
        pupils=len(pupils),
        outcomes={g: {k: n for k, n in t.items() if n} for g, t in tally.outcomes.items()},
        marks={g: dict(sorted(t.items())) for g, t in tally.marks.items()},
        uncounted=uncounted,
    )


def count_pupils(
    pupils: Iterable[PupilRecord],
    definition: Definition,
    *,
    last_year: Mapping[str, PupilRecord | Mapping[str, str]] | None = None,
    other_collection: Iterable[str | PupilRecord] | None = None,
) -> Counts:
    """Count this year's pupil records (Year 1 and the Year 2 re-check by their NC year) and
    the Year 2 cohort by the end of Year 2.

    `last_year`: UPN -> last year's Year 1 result of the same collection (a `PupilRecord`, or
    its outcomes), for the pupils whose cohort is being counted (a school's: its Year 2
    pupils' last year results, and with the "results" rule its last year's Year 1 pupils).
    `other_collection`: with the "collection" rule, the UPNs (or records) of the Year 2
    cohort, the pupils of `needs(definition).other_collection` at the same school.
    Without what the rule needs, the group by the end of Year 2 is `uncounted`."""
    s = settings(definition)
    pupils = list(pupils)
    return _counted(pupils, s, _cohort(pupils, s, last_year, other_collection))


def count_by_group(
    pupils: Iterable[PupilRecord],
    definition: Definition,
    group_of: Callable[[PupilRecord], Iterable[str]],
    *,
    last_year: Mapping[str, PupilRecord | Mapping[str, str]] | None = None,
    other_collection: Iterable[str | PupilRecord] | None = None,
) -> dict[str, Counts]:
    """`count_pupils` for each pupil group (`group_of(record)` gives a record's groups, e.g.
    "all", "sex:F", "fsm:Y"). A cohort pupil by the end of Year 2 is in the groups of this
    year's record, else of the other collection's record, else of last year's; with none of
    them (a UPN alone) in those of an empty record with that UPN."""
    s = settings(definition)
    pupils = list(pupils)
    found = _cohort(pupils, s, last_year, other_collection)
    groups_of_pupil = [tuple(group_of(p)) for p in pupils]
    names = list(dict.fromkeys(g for gs in groups_of_pupil for g in gs))
    cohort_groups: dict[str, tuple[str, ...]] = {}
    for key, m in found.members.items():
        known = m.this_year or found.records.get(key)
        if known is None and isinstance(m.last_year, PupilRecord):
            known = m.last_year
        cohort_groups[key] = tuple(group_of(known or PupilRecord(line=0, upn=key)))
    names += [g for gs in cohort_groups.values() for g in gs]
    out: dict[str, Counts] = {}
    for name in dict.fromkeys(names):
        mine = [p for p, gs in zip(pupils, groups_of_pupil, strict=True) if name in gs]
        members = {k: m for k, m in found.members.items() if name in cohort_groups[k]}
        out[name] = _counted(mine, s, _Cohort(members, found.records, found.missing))
    return out


# -- measures ------------------------------------------------------------------------------------


def _long_date(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def threshold_reason(definition: Definition, as_of: dt.date | None = None) -> str | None:
    """Why "met" figures are not shown on `as_of` (today when None), or None once the
    threshold is published."""
    s = settings(definition)
    as_of = as_of or dt.date.today()
    if s.published is None:
        return "the threshold is not yet published"
    if as_of < s.published:
        return f"the threshold is not yet published; it will be on {_long_date(s.published)}"
    return None


def _name(definition_id: str | None, fallback: str) -> str:
    """A definition's name for a message ("Key stage 1 ... 2023"), or its id when Keystage has
    no such definition."""
    if not definition_id:
        return fallback
    found = _shipped(definition_id)
    return found.name if found is not None else definition_id


def _missing_reason(s: PhonicsSettings, missing: tuple[str, ...], group: Group) -> str:
    parts, can_load = [], []
    if LAST_YEAR in missing:
        if s.previous and _shipped(s.previous) is not None:
            parts.append(f"last year's results ({_name(s.previous, 'last year')}) are not loaded")
            can_load.append(True)
        else:  # Keystage has no collection to load them into: nothing the LA can do
            parts.append(
                f"Keystage holds no collection of last year's results ({s.previous or 'last year'})"
            )
            can_load.append(False)
    if OTHER_COLLECTION in missing:
        other = _name(s.year2_cohort_collection, "another collection")
        parts.append(f"the Year 2 cohort is the pupils of {other}, which is not loaded")
        can_load.append(True)
    then = "; load them to see it" if all(can_load) else ""
    return f"{group.label} cannot be worked out: {' and '.join(parts)}{then}"


def _all_out(value: str | frozenset[str], s: PhonicsSettings) -> bool:
    """Whether a bucket counts only pupils out of the eligible pupils (no percentage)."""
    codes = value if isinstance(value, frozenset) else frozenset({value})
    return bool(codes) and codes <= s.out


def _share(n: int | None, d: int | None) -> dict[str, Any]:
    value = None if n is None or d is None else percent(n, d)
    return {"count": n, "percent": value, "rounded": rounded(value)}


def measures(
    counts: Counts, definition: Definition, *, as_of: dt.date | None = None
) -> dict[str, Any]:
    """Every measure of a cohort as plain data, per group of [measures.groups]:

    {"pupils": n,
     "threshold": {"mark", "published", "reason"},
     "groups": {key: {"label", "reason", "pupils", "eligible", "not_eligible",
                      "met", "met_percent", "met_rounded",
                      "buckets": {bucket: {"count", "percent", "rounded"}},
                      "distribution": {"marks": {mark: n}, "threshold", "pupils"} or None}}}

    Percentages are of eligible pupils, unrounded (`rounded` is DfE's whole number, half up).
    Before the threshold is published (`as_of`, today when None) the met and working towards
    counts and every percentage are None and `reason` says why; the eligible pupils, the
    other buckets and the distribution (with `threshold` None) are still given. A group
    `uncounted` has every figure None and a `reason` naming what to load."""
    s = settings(definition)
    not_yet = threshold_reason(definition, as_of)
    hidden = {n for n, v in s.buckets.items() if v in (MET, WORKING_TOWARDS)}
    groups: dict[str, Any] = {}
    for g in s.groups:
        tally = counts.outcomes.get(g.key, {})
        missing = counts.uncounted.get(g.key)
        total = sum(tally.values())
        out_n = sum(n for k, n in tally.items() if k in s.out)
        eligible = None if missing else total - out_n
        buckets: dict[str, Any] = {}
        for name, value in s.buckets.items():
            if missing:
                n = None
            elif value == "eligible":
                n = eligible
            else:
                n = sum(c for k, c in tally.items() if s.bucket_of(k) == name)
                if not_yet and name in hidden:
                    n = None
            no_share = not_yet or value == "eligible" or _all_out(value, s)
            buckets[name] = _share(n, None if no_share else eligible)
        met_bucket = next(n for n, v in s.buckets.items() if v == MET)
        distribution = None
        if g.nc_year is not None:
            marks = counts.marks.get(g.key, {})
            distribution = {
                "marks": {m: marks.get(m, 0) for m in range(s.low, s.high + 1)},
                "threshold": None if not_yet else s.threshold,
                "pupils": sum(marks.values()),
            }
        groups[g.key] = {
            "label": g.label,
            "reason": _missing_reason(s, missing, g) if missing else not_yet,
            "pupils": None if missing else total,
            "eligible": eligible,
            "not_eligible": None if missing else out_n,
            "met": buckets[met_bucket]["count"],
            "met_percent": buckets[met_bucket]["percent"],
            "met_rounded": buckets[met_bucket]["rounded"],
            "buckets": buckets,
            "distribution": distribution,
        }
    return {
        "pupils": counts.pupils,
        "threshold": {"mark": s.threshold, "published": s.published, "reason": not_yet},
        "groups": groups,
    }


def ees_row(
    counts: Counts,
    definition: Definition,
    *,
    keystage_columns: bool = True,
    as_of: dt.date | None = None,
) -> dict[str, int | None]:
    """The counts in the column layout of DfE's EES phonics files, group by group: the
    counts (`t_phonics_y1_eligible_pupils`, `t_phonics_y1_met_expected_standard`...), then the
    percentages of eligible pupils as DfE publishes them, whole numbers rounded half up
    (`pt_phonics_y1_met_expected_standard`...). Every column is always there; a value that
    cannot be given (the threshold not yet published, a group uncounted) is None.
    `keystage_columns=False` leaves out the buckets DfE's files do not have."""
    s = settings(definition)
    found = measures(counts, definition, as_of=as_of)["groups"]
    row: dict[str, int | None] = {}
    names = [n for n in s.buckets if keystage_columns or n not in s.keystage_only]
    for g in s.groups:
        buckets = found[g.key]["buckets"]
        for name in names:
            row[s.column.format(group=g.key, bucket=name)] = buckets[name]["count"]
        for name in names:
            if name != s.eligible_bucket:
                row[s.percent_column.format(group=g.key, bucket=name)] = buckets[name]["rounded"]
    return row


def ees_columns(definition: Definition, *, keystage_columns: bool = True) -> list[EesColumn]:
    """The columns of `ees_row`, in its order, with their words for the EES metadata file:
    per group (under the group's label) its counts, then its whole-number percentages of the
    group's eligible pupils."""
    s = settings(definition)
    names = [n for n in s.buckets if keystage_columns or n not in s.keystage_only]
    out = []
    for g in s.groups:
        of = s.column.format(group=g.key, bucket=s.eligible_bucket)
        for name in names:
            column = s.column.format(group=g.key, bucket=name)
            out.append(EesColumn(column, f"{g.label}: {bucket_words(name)}", g.label))
        for name in names:
            if name != s.eligible_bucket:
                column = s.percent_column.format(group=g.key, bucket=name)
                label = f"{g.label}: {bucket_words(name)}, % of eligible pupils"
                out.append(EesColumn(column, label, g.label, unit="%", of=of))
    return out


def headlines(
    counts: Counts, definition: Definition, *, as_of: dt.date | None = None
) -> list[tuple[str, str]]:
    """The figures a person checks before sending these pupils on (the return's check your
    answers page): (label, words) per group of [measures.groups] that was counted and has
    pupils. A group that needs what was not passed in (by the end of Year 2 without last
    year's results) is left out: it is no figure of the return."""
    out = []
    for g in measures(counts, definition, as_of=as_of)["groups"].values():
        if not g["pupils"]:
            continue
        text = f"{plural(g['pupils'], 'pupil')}, {g['eligible']:,} eligible"
        if g["met"] is None:
            text += f": {g['reason']}" if g["reason"] else ""
        else:
            share = f" ({g['met_rounded']}%)" if g["met_rounded"] is not None else ""
            text += f", {g['met']:,} met the expected standard{share}"
        out.append((g["label"], text))
    return out
