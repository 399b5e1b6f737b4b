"""The EYFS profile's headline measures as DfE computes them (spec eyfsp.md §4): a good level of
development (expected in every goal of the areas `[measures] gld_areas`: the prime areas,
literacy and mathematics, ELG 01-12), expected in all 17 goals, the average number of goals at
expected and the share at expected in every goal of each area. Only children judged in every
goal count: a child not assessed (`A`) is left out of every figure, and so is a record still
lacking a goal or holding a judgement that is not valid (counted apart as `unknown`, for the
school to correct). The goals, areas and codes are the definition's (`[[subjects]]`,
`[[areas]]`, `[codes]`, `[measures]`); docs/measures.md explains them. The functions have the
signatures of every collection's `measures` module (`collections.module_of(definition,
"measures")`)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from keystage.engine.definition import Definition
from keystage.engine.measures import (
    UNKNOWN,
    EesColumn,
    MeasureSettingsError,
    Needs,
    checked_once,
    percent,
    rounded,
)
from keystage.engine.records import PupilRecord
from keystage.engine.words import plural

__all__ = [
    "UNKNOWN",
    "Counts",
    "count_by_group",
    "count_pupils",
    "ees_row",
    "from_json",
    "headlines",
    "measures",
    "needs",
    "settings",
    "to_json",
]

# DfE publishes the profile's percentages and the average number of goals to one decimal place.
PLACES = 1
GLD, ALL_GOALS = "gld", "all_goals"  # the headline rows' keys in [measures.rows]


@dataclass(frozen=True)
class Area:
    """One area of learning of `[[areas]]`: its goals and whether it is a prime area."""

    key: str
    label: str
    prime: bool
    code: str
    goals: tuple[str, ...]


@dataclass(frozen=True)
class Row:
    """One row of the reports: a measure met by a child at expected in every one of `goals`."""

    key: str
    label: str
    goals: tuple[str, ...]


@dataclass(frozen=True)
class ProfileSettings:
    """The definition's goals, areas, codes and [measures] table, checked."""

    goals: tuple[str, ...]
    labels: dict[str, str]
    valid: dict[str, frozenset[str]]  # per goal, upper-cased
    expected: frozenset[str]
    not_assessed: frozenset[str]
    areas: tuple[Area, ...]
    rows: tuple[Row, ...]  # GLD, all goals, then each area
    column: str
    percent_column: str
    average_column: str

    def row(self, key: str) -> Row:
        return next(r for r in self.rows if r.key == key)


_CHECKED: dict[int, tuple[Definition, ProfileSettings]] = {}


def settings(definition: Definition) -> ProfileSettings:
    """Read and check the definition's profile measures. Raises `MeasureSettingsError` naming
    what to fix: an area naming no goal or an unknown one, a goal in no area or in two, GLD
    areas that are not areas, a goal with no expected code."""
    return checked_once(_CHECKED, definition, _settings)


def _upper(codes: Iterable[str]) -> frozenset[str]:
    return frozenset(str(c).strip().upper() for c in codes)


def _settings(d: Definition) -> ProfileSettings:
    where = f"collection definition {d.id!r} ({d.source or 'in memory'})"
    raw = d.raw.get("measures")
    if not isinstance(raw, dict) or not d.raw.get("areas"):
        raise MeasureSettingsError(f"{where} needs [[areas]] and [measures]; see docs/measures.md")
    goals = d.subject_keys
    expected = _upper(d.codes.get("expected", ()))
    if not expected:
        raise MeasureSettingsError(f"{where}: [codes] expected lists the code of 'expected'")
    try:
        areas = tuple(
            Area(str(a["key"]), str(a["label"]), bool(a.get("prime", False)),
                 str(a.get("code", "")), tuple(a["goals"]))
            for a in d.raw["areas"]
        )  # fmt: skip
        gld_areas = tuple(raw["gld_areas"])
        headline = raw["rows"]
        found_rows = {GLD: headline[GLD], ALL_GOALS: headline[ALL_GOALS]}
        column, percent_column = str(raw["column"]), str(raw["percent_column"])
        average_column = str(raw["average_column"])
    except KeyError as e:
        raise MeasureSettingsError(
            f"{where}: [measures] or [[areas]] needs {e.args[0]!r}"
        ) from None
    homes = Counter(g for a in areas for g in a.goals)
    for a in areas:
        unknown = [g for g in a.goals if g not in goals]
        if not a.goals or unknown:
            raise MeasureSettingsError(
                f"{where}: area {a.key!r} names {', '.join(unknown) or 'no goal'}; its goals "
                f"are keys of [[subjects]] ({', '.join(goals)})"
            )
    for g in goals:
        if homes[g] != 1:
            raise MeasureSettingsError(
                f"{where}: goal {g!r} is in {homes[g]} areas; every goal is in exactly one"
            )
        if not d.subject(g).met <= set(d.subject(g).valid):
            raise MeasureSettingsError(f"{where}: goal {g!r} counts as met a code it does not take")
    by_key = {a.key: a for a in areas}
    missing = [k for k in gld_areas if k not in by_key]
    if missing or not gld_areas:
        raise MeasureSettingsError(
            f"{where}: [measures] gld_areas names {', '.join(missing) or 'no area'}; use keys of "
            f"[[areas]] ({', '.join(by_key)})"
        )
    gld_goals = tuple(g for k in gld_areas for g in by_key[k].goals)
    rows = (
        Row(GLD, str(found_rows[GLD].get("label", GLD)), gld_goals),
        Row(ALL_GOALS, str(found_rows[ALL_GOALS].get("label", ALL_GOALS)), goals),
        *(Row(a.key, a.label, a.goals) for a in areas),
    )
    return ProfileSettings(
        goals=goals, labels={s.key: s.label for s in d.subjects},
        valid={s.key: _upper(s.valid) for s in d.subjects}, expected=expected,
        not_assessed=_upper(d.codes.get("not_assessed", ())), areas=areas, rows=rows,
        column=column, percent_column=percent_column, average_column=average_column,
    )  # fmt: skip


def needs(definition: Definition) -> Needs:
    """The profile's measures read only this year's records."""
    return Needs()


# -- counting ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """Children counted: `pupils` every record; `not_assessed` those with the not-assessed code
    in any goal and `unknown` those lacking a goal or with a judgement not valid for it (both
    left out of every figure); `assessed` the rest, judged in every goal. `met[row]`: assessed
    children at expected in every goal of the row (GLD, all goals, each area); `goals[goal]`:
    assessed children at expected in that goal; `at_expected`: goals at expected summed over
    the assessed children (the average's numerator). Zero counts are never stored; adding two
    gives the counts of both together, so an LA is the sum of its schools and England of its
    LAs, every figure pupil-weighted."""

    pupils: int = 0
    assessed: int = 0
    not_assessed: int = 0
    unknown: int = 0
    at_expected: int = 0
    met: dict[str, int] = field(default_factory=dict)
    goals: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: object) -> Counts:
        if not isinstance(other, Counts):
            return NotImplemented
        return Counts(
            pupils=self.pupils + other.pupils,
            assessed=self.assessed + other.assessed,
            not_assessed=self.not_assessed + other.not_assessed,
            unknown=self.unknown + other.unknown,
            at_expected=self.at_expected + other.at_expected,
            met=_add(self.met, other.met),
            goals=_add(self.goals, other.goals),
        )

    def __radd__(self, other: object) -> Counts:
        if other == 0:  # sum(counts) starts from 0
            return self
        return NotImplemented


def _add(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    out = dict(a)
    for key, n in b.items():
        out[key] = out.get(key, 0) + n
    return {k: n for k, n in out.items() if n}


def to_json(counts: Counts) -> dict[str, Any]:
    """Counts as JSON data, for a fact table."""
    return {
        "pupils": counts.pupils, "assessed": counts.assessed,
        "not_assessed": counts.not_assessed, "unknown": counts.unknown,
        "at_expected": counts.at_expected, "met": dict(counts.met), "goals": dict(counts.goals),
    }  # fmt: skip


def from_json(data: Mapping[str, Any]) -> Counts:
    """The `Counts` of `to_json` (zero counts dropped)."""
    return Counts(
        pupils=int(data["pupils"]), assessed=int(data.get("assessed", 0)),
        not_assessed=int(data.get("not_assessed", 0)), unknown=int(data.get("unknown", 0)),
        at_expected=int(data.get("at_expected", 0)),
        met={k: int(n) for k, n in data.get("met", {}).items() if n},
        goals={k: int(n) for k, n in data.get("goals", {}).items() if n},
    )  # fmt: skip


def _outcomes(pupil: PupilRecord | Mapping[str, str]) -> Mapping[str, str]:
    return pupil.outcomes if isinstance(pupil, PupilRecord) else pupil


def judgements(pupil: PupilRecord | Mapping[str, str], s: ProfileSettings) -> dict[str, str] | str:
    """A child's judgement per goal (upper-cased) when they are judged in every goal; else
    why they are left out: the not-assessed code (in any goal), or UNKNOWN (a goal missing or
    not valid)."""
    outcomes = _outcomes(pupil)
    found: dict[str, str] = {}
    unknown = False
    for goal in s.goals:
        raw = outcomes.get(goal)
        code = raw.strip().upper() if raw else ""
        if code in s.not_assessed:
            return code
        if code not in s.valid[goal]:
            unknown = True
        found[goal] = code
    return UNKNOWN if unknown else found


class _Tally:
    def __init__(self) -> None:
        self.pupils = self.assessed = self.not_assessed = self.unknown = self.at_expected = 0
        self.met: Counter[str] = Counter()
        self.goals: Counter[str] = Counter()

    def add(self, pupil: PupilRecord | Mapping[str, str], s: ProfileSettings) -> None:
        self.pupils += 1
        found = judgements(pupil, s)
        if found == UNKNOWN:
            self.unknown += 1
            return
        if isinstance(found, str):
            self.not_assessed += 1
            return
        self.assessed += 1
        at = {g for g, c in found.items() if c in s.expected}
        self.at_expected += len(at)
        self.goals.update(at)
        for row in s.rows:
            if all(g in at for g in row.goals):
                self.met[row.key] += 1

    def counts(self) -> Counts:
        return Counts(
            pupils=self.pupils, assessed=self.assessed, not_assessed=self.not_assessed,
            unknown=self.unknown, at_expected=self.at_expected,
            met={k: n for k, n in self.met.items() if n},
            goals={k: n for k, n in self.goals.items() if n},
        )  # fmt: skip


def count_pupils(
    pupils: Iterable[PupilRecord] | Iterable[Mapping[str, str]],
    definition: Definition,
    *,
    last_year: Mapping[str, Any] | None = None,
    other_collection: Iterable[Any] | None = None,
) -> Counts:
    """Count one area's (a school's) records: each a `PupilRecord` or a mapping of goal key ->
    judgement as written. The profile reads nothing beyond this year's records, so the
    cross-year arguments are accepted and not used."""
    s = settings(definition)
    tally = _Tally()
    for pupil in pupils:
        tally.add(pupil, s)
    return tally.counts()


def count_by_group(
    pupils: Iterable[PupilRecord],
    definition: Definition,
    group_of: Callable[[PupilRecord], Iterable[str]],
    *,
    last_year: Mapping[str, Any] | None = None,
    other_collection: Iterable[Any] | None = None,
) -> dict[str, Counts]:
    """`count_pupils` for each pupil group `group_of(record)` puts a record in ("all",
    "sex:F", "term:autumn", "fsm:Y", "sen:K", "eal:Y", "ethnicity:...")."""
    s = settings(definition)
    tallies: dict[str, _Tally] = {}
    for pupil in pupils:
        for group in group_of(pupil):
            tallies.setdefault(group, _Tally()).add(pupil, s)
    return {group: t.counts() for group, t in tallies.items()}


# -- measures ------------------------------------------------------------------------------------


def _share(n: int, d: int) -> dict[str, Any]:
    value = percent(n, d)
    return {"count": n, "percent": value, "rounded": rounded(value, PLACES)}


def measures(
    counts: Counts, definition: Definition, *, as_of: dt.date | None = None
) -> dict[str, Any]:
    """Every measure of a cohort as plain data:

    {"pupils", "assessed", "not_assessed", "unknown",
     "rows": {key: {"label", "eligible", "met", "met_percent", "met_rounded", "area"}},
     "average_goals": {"total", "mean", "rounded"},
     "goals": {goal: {"label", "met", "met_percent", "met_rounded", "area"}}}

    `rows` are GLD, all goals, then each area (`area` True for an area's row); their
    eligible children are the assessed ones. Percentages of the assessed children and the
    mean unrounded (None with none assessed), `*_rounded` as DfE publishes them (one decimal
    place, half up). `as_of` is accepted for the common signature: nothing is held back."""
    s = settings(definition)
    n = counts.assessed
    area_keys = {a.key for a in s.areas}
    rows = {}
    for row in s.rows:
        share = _share(counts.met.get(row.key, 0), n)
        rows[row.key] = {
            "label": row.label, "eligible": n, "met": share["count"],
            "met_percent": share["percent"], "met_rounded": share["rounded"],
            "area": row.key in area_keys,
        }  # fmt: skip
    mean = counts.at_expected / n if n else None
    goals = {}
    area_of = {goal: a.key for a in s.areas for goal in a.goals}
    for goal in s.goals:
        share = _share(counts.goals.get(goal, 0), n)
        goals[goal] = {"label": s.labels[goal], "met": share["count"],
                       "met_percent": share["percent"], "met_rounded": share["rounded"],
                       "area": area_of.get(goal, "")}  # fmt: skip
    return {
        "pupils": counts.pupils,
        "assessed": n,
        "not_assessed": counts.not_assessed,
        "unknown": counts.unknown,
        "rows": rows,
        "average_goals": {
            "total": counts.at_expected,
            "mean": mean,
            "rounded": rounded(mean, PLACES),
        },  # fmt: skip
        "goals": goals,
    }


def ees_row(
    counts: Counts,
    definition: Definition,
    *,
    keystage_columns: bool = True,
    as_of: dt.date | None = None,
) -> dict[str, int | float | None]:
    """The counts in an EES-style column layout (the definition's `[measures] column`,
    `percent_column` and `average_column`): per row the children eligible (assessed) and at
    expected (`t_eyfsp_gld_eligible`, `t_eyfsp_gld_met`...), its percentage to one decimal
    place (`pt_eyfsp_gld_met`), then the average number of goals at expected.
    `keystage_columns=False` leaves out the children Keystage counts apart (not assessed,
    unknown), which DfE's files do not give."""
    s = settings(definition)
    found = measures(counts, definition)
    row: dict[str, int | float | None] = {}
    for r in s.rows:
        m = found["rows"][r.key]
        row[s.column.format(row=r.key, bucket="eligible")] = m["eligible"]
        row[s.column.format(row=r.key, bucket="met")] = m["met"]
        row[s.percent_column.format(row=r.key)] = m["met_rounded"]
    row[s.average_column] = found["average_goals"]["rounded"]
    if keystage_columns:
        row[s.column.format(row="all", bucket="not_assessed")] = counts.not_assessed
        row[s.column.format(row="all", bucket="unknown")] = counts.unknown
    return row


def ees_columns(definition: Definition, *, keystage_columns: bool = True) -> list[EesColumn]:
    """The columns of `ees_row`, in its order, with their words for the EES metadata file: per
    row (GLD, all goals, each area) its children assessed and at expected, and its percentage
    (one decimal place, of the children assessed); then the average number of goals at
    expected (one place) and, with `keystage_columns`, the children Keystage counts apart."""
    s = settings(definition)
    out = []
    for r in s.rows:
        of = s.column.format(row=r.key, bucket="eligible")
        out += [
            EesColumn(of, f"{r.label}: children assessed", r.label),
            EesColumn(s.column.format(row=r.key, bucket="met"), f"{r.label}: at expected",
                      r.label),
            EesColumn(s.percent_column.format(row=r.key), f"{r.label}: % of children assessed",
                      r.label, unit="%", dp=1, of=of),
        ]  # fmt: skip
    out.append(EesColumn(s.average_column, "Average number of goals at expected",
                         "All goals", dp=1))  # fmt: skip
    if keystage_columns:
        out += [
            EesColumn(s.column.format(row="all", bucket="not_assessed"), "Children not assessed",
                      "All children"),
            EesColumn(s.column.format(row="all", bucket="unknown"),
                      "Children with judgements still to correct", "All children"),
        ]  # fmt: skip
    return out


def headlines(
    counts: Counts, definition: Definition, *, as_of: dt.date | None = None
) -> list[tuple[str, str]]:
    """The figures a person checks before sending these children on (the return's check your
    answers page): the children and those assessed, GLD, all goals and the average number of
    goals at expected."""
    found = measures(counts, definition)
    if not found["pupils"]:
        return []
    left_out = []
    if found["not_assessed"]:
        left_out.append(f"{found['not_assessed']:,} not assessed")
    if found["unknown"]:
        left_out.append(f"{found['unknown']:,} with goals to correct")
    children = plural(found["pupils"], "child", "children")
    out = [("Children", f"{children}, {found['assessed']:,} assessed"
            + (f" ({', '.join(left_out)})" if left_out else ""))]  # fmt: skip
    if not found["assessed"]:
        return out
    for key in (GLD, ALL_GOALS):
        r = found["rows"][key]
        out.append((r["label"], f"{r['met']:,} of {r['eligible']:,} ({r['met_rounded']}%)"))
    mean = found["average_goals"]["rounded"]
    out.append(("Average number of goals at the expected level", f"{mean}"))
    return out
