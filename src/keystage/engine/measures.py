"""Headline KS1 measures as DfE computes them (spec §7.1): counts per subject and code, shares of
eligible pupils, the combined reading/writing/maths measures, the EES column layout and rounding.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from keystage.engine.definition import Definition
from keystage.engine.records import PupilRecord

__all__ = [
    "UNKNOWN",
    "Counts",
    "EesColumn",
    "MeasureSettings",
    "MeasureSettingsError",
    "Needs",
    "count_pupils",
    "ees_columns",
    "ees_row",
    "measures",
    "percent",
    "rounded",
    "settings",
    "wilson_interval",
]

T = TypeVar("T")

# The code a pupil is counted under when a subject has no code, or one not valid for it this
# year. Lower case, so it can never clash with a real (upper-cased) outcome code.
UNKNOWN = "unknown"

# Bucket values in the definition that are computed rather than lists of codes.
_COMPUTED = ("eligible", "met", "higher", UNKNOWN)


class MeasureSettingsError(ValueError):
    """The definition's [measures] table cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Needs:
    """What a collection's measures read beyond this year's pupil records, which the caller
    fetches and passes to its `count_pupils` (docs/measures.md, "One entry point"):
    `last_year`, the id of last year's definition of the same collection, whose pupils by UPN
    go in as `last_year=`; `other_collection`, the id of another collection of the same year,
    whose pupils' UPNs go in as `other_collection=`. None when not read."""

    last_year: str | None = None
    other_collection: str | None = None


@dataclass(frozen=True)
class MeasureSettings:
    """The definition's [measures] table, checked against its subjects."""

    not_eligible: frozenset[str]
    unknown_eligible: bool
    combined: tuple[str, ...]
    combined_short: str
    column: str
    buckets: dict[str, str | frozenset[str]]
    keystage_only: frozenset[str]

    def out_of_denominator(self, valid: Iterable[str]) -> frozenset[str]:
        """The codes of a subject (with `valid` codes) that take a pupil out of its eligible pupils."""
        codes = set(self.not_eligible & frozenset(valid))
        if not self.unknown_eligible:
            codes.add(UNKNOWN)
        return frozenset(codes)


# Checked settings per definition object (a definition is immutable once parsed); reports
# work out hundreds of measures a page. The definition is kept with them, so its id is never
# reused for another while cached.
_CHECKED: dict[int, tuple[Definition, MeasureSettings]] = {}


def settings(definition: Definition) -> MeasureSettings:
    """Read and check the definition's [measures] table. Raises `MeasureSettingsError` when a
    code valid for a subject would be counted in no bucket, or in two: a figure that silently
    drops pupils is worse than one that refuses to run."""
    return checked_once(_CHECKED, definition, _settings)


def checked_once(kept: dict, definition: Definition, read: Callable[[Definition], T]) -> T:
    """`read(definition)`, kept in `kept` for as long as that very definition object lives (a
    definition is immutable once loaded; a few dozen are ever kept)."""
    found = kept.get(id(definition))
    if found is not None and found[0] is definition:
        return found[1]
    checked = read(definition)
    if len(kept) > 64:
        kept.clear()
    kept[id(definition)] = (definition, checked)
    return checked


def read_buckets(
    raw: Mapping[str, Any], computed: Iterable[str], where: str
) -> dict[str, str | frozenset[str]]:
    """A definition's [measures.buckets]: each bucket one of the `computed` names, or a list
    of outcome codes (upper-cased). Raises `MeasureSettingsError` naming the bucket otherwise."""
    computed = tuple(computed)
    buckets: dict[str, str | frozenset[str]] = {}
    for name, value in raw.items():
        if isinstance(value, str):
            if value not in computed:
                raise MeasureSettingsError(
                    f"{where}: [measures.buckets] {name} = {value!r}; use a list of codes "
                    f"or one of {', '.join(computed)}"
                )
            buckets[name] = value
        else:
            buckets[name] = frozenset(str(c).strip().upper() for c in value)
    return buckets


def _settings(definition: Definition) -> MeasureSettings:
    where = f"collection definition {definition.id!r} ({definition.source or 'in memory'})"
    raw = definition.raw.get("measures")
    if not isinstance(raw, dict):
        raise MeasureSettingsError(f"{where} has no [measures] table; see docs/measures.md")
    try:
        buckets = read_buckets(raw["buckets"], _COMPUTED, where)
        found = MeasureSettings(
            not_eligible=frozenset(str(c).strip().upper() for c in raw.get("not_eligible", ())),
            unknown_eligible=bool(raw.get("unknown_eligible", True)),
            combined=tuple(raw["combined"]),
            combined_short=str(raw["combined_short"]),
            column=str(raw["column"]),
            buckets=buckets,
            keystage_only=frozenset(raw.get("keystage_only", ())),
        )
    except KeyError as e:
        raise MeasureSettingsError(f"{where}: [measures] needs {e.args[0]!r}") from None
    keys = set(definition.subject_keys)
    for key in found.combined:
        if key not in keys:
            raise MeasureSettingsError(f"{where}: [measures] combined names {key!r}, not a subject")
    computed = {v for v in buckets.values() if isinstance(v, str)}
    for needed in ("eligible", "met", "higher"):
        if needed not in computed:
            raise MeasureSettingsError(f"{where}: [measures.buckets] needs a {needed!r} bucket")
    for subject in definition.subjects:
        if not subject.higher <= subject.met:
            raise MeasureSettingsError(
                f"{where}: {subject.key} counts {sorted(subject.higher - subject.met)} as "
                "higher but not as met"
            )
        for code in subject.valid:
            homes = [n for n, v in buckets.items() if not isinstance(v, str) and code in v]
            if code in subject.met:
                homes.append("met")
            if len(homes) != 1:
                raise MeasureSettingsError(
                    f"{where}: {subject.key} code {code} is counted in "
                    f"{' and '.join(homes) if homes else 'no bucket'}; it must be in exactly "
                    "one [measures.buckets] list or in the subject's met set"
                )
    return found


@dataclass(frozen=True)
class Counts:
    """Pupils counted per subject and outcome code, plus the combined measure's counts.

    `codes[subject][code]` is how many pupils have that code (`UNKNOWN` for none or an invalid
    one); every pupil has exactly one code per subject, so each subject's counts sum to `pupils`.
    Zero counts are never stored, so two equal cohorts give equal `Counts`. Adding two gives
    the counts of both cohorts together: an LA is the sum of its schools, England of its LAs,
    which makes every figure pupil-weighted, never a mean of percentages.
    """

    pupils: int = 0
    codes: dict[str, dict[str, int]] = field(default_factory=dict)
    combined_eligible: int = 0
    combined_met: int = 0
    combined_higher: int = 0

    def at(self, subject: str, code: str) -> int:
        return self.codes.get(subject, {}).get(code, 0)

    def __add__(self, other: object) -> Counts:
        if not isinstance(other, Counts):
            return NotImplemented
        codes: dict[str, dict[str, int]] = {k: dict(v) for k, v in self.codes.items()}
        for subject, tally in other.codes.items():
            mine = codes.setdefault(subject, {})
            for code, n in tally.items():
                mine[code] = mine.get(code, 0) + n
        return Counts(
            pupils=self.pupils + other.pupils,
            codes=codes,
            combined_eligible=self.combined_eligible + other.combined_eligible,
            combined_met=self.combined_met + other.combined_met,
            combined_higher=self.combined_higher + other.combined_higher,
        )

    def __radd__(self, other: object) -> Counts:
        # sum(counts) starts from 0
        if other == 0:
            return self
        return NotImplemented


def count_pupils(
    pupils: Iterable[Mapping[str, str]] | Iterable[PupilRecord], definition: Definition
) -> Counts:
    """Count a cohort: each pupil is a `PupilRecord` or a mapping of subject key -> code as
    written. Codes are compared trimmed and upper-cased; a code not valid for the subject in
    this collection, or none, is counted as `UNKNOWN`."""
    config = settings(definition)
    plan = [(s.key, frozenset(s.valid), Counter[str]()) for s in definition.subjects]
    combined = []
    for key in config.combined:
        s = definition.subject(key)
        combined.append((key, s.met, s.higher, config.out_of_denominator(s.valid)))
    n = eligible_all = met_all = higher_all = 0
    for pupil in pupils:
        outcomes = pupil.outcomes if isinstance(pupil, PupilRecord) else pupil
        n += 1
        seen: dict[str, str] = {}
        for key, valid, tally in plan:
            raw = outcomes.get(key)
            code = raw.strip().upper() if raw else ""
            if code not in valid:
                code = UNKNOWN
            tally[code] += 1
            seen[key] = code
        if all(seen[key] not in out for key, _, _, out in combined):
            eligible_all += 1
            if all(seen[key] in met for key, met, _, _ in combined):
                met_all += 1
                if all(seen[key] in higher for key, _, higher, _ in combined):
                    higher_all += 1
    return Counts(
        pupils=n,
        codes={key: {c: k for c, k in tally.items() if k} for key, _, tally in plan if tally},
        combined_eligible=eligible_all,
        combined_met=met_all,
        combined_higher=higher_all,
    )


def percent(n: int, d: int) -> float | None:
    """100 * n / d, unrounded; None when there is nobody to count (d == 0)."""
    if d == 0:
        return None
    # 100 * n is exact, so a share that is exactly x.5 per cent stays exactly x.5 for rounded().
    return 100 * n / d


def rounded(value: float | None, places: int = 0) -> int | float | None:
    """Round half up, as DfE publishes percentages (whole numbers in its headline tables):
    68.5 -> 69, 0.5 -> 1. Python's round() rounds half to even (68.5 -> 68, 0.5 -> 0) and must
    not be used for published figures. Negative values round half away from zero (-2.5 -> -3).
    The float's exact binary value is rounded, so 0.49999999999999994 stays 0."""
    if value is None:
        return None
    step = Decimal(1).scaleb(-places)
    result = Decimal(value).quantize(step, rounding=ROUND_HALF_UP)
    return int(result) if places <= 0 else float(result)


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval for k of n pupils, as percentages (0-100); z = 1.96 gives 95%.
    Unlike the normal approximation it stays inside 0-100 and is sensible for small schools
    and for 0 or n hits. None when n == 0."""
    if n < 0 or not 0 <= k <= max(n, 0):
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return None
    p = k / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    # At k == 0 (k == n) the lower (upper) bound is exactly 0 (100): centre and half-width are
    # equal there, but computed apart they can differ in the last bit.
    low = 0.0 if k == 0 else 100 * max(0.0, centre - half)
    high = 100.0 if k == n else 100 * min(1.0, centre + half)
    return (low, high)


def _share(n: int, d: int) -> dict[str, Any]:
    return {"count": n, "percent": percent(n, d)}


def measures(counts: Counts, definition: Definition) -> dict[str, Any]:
    """Every measure of a cohort, as plain data (percentages unrounded; None when no pupil is
    eligible):

    {"pupils": n,
     "subjects": {key: {"eligible", "met", "met_percent", "higher", "higher_percent",
                        "codes": {code: {"count", "percent"}}}},
     "combined": {"subjects", "eligible", "met", "met_percent", "higher", "higher_percent"}}

    `codes` lists every code valid for the subject, then `UNKNOWN`; a code that takes pupils out
    of the denominator has percent None. A subject with no greater-depth code (science) has
    higher and higher_percent None.
    """
    config = settings(definition)
    subjects: dict[str, Any] = {}
    for s in definition.subjects:
        tally = counts.codes.get(s.key, {})
        out = config.out_of_denominator(s.valid)
        eligible = counts.pupils - sum(tally.get(c, 0) for c in out)
        met = sum(tally.get(c, 0) for c in s.met)
        higher = sum(tally.get(c, 0) for c in s.higher) if s.higher else None
        subjects[s.key] = {
            "eligible": eligible,
            "met": met,
            "met_percent": percent(met, eligible),
            "higher": higher,
            "higher_percent": None if higher is None else percent(higher, eligible),
            "codes": {
                code: {
                    "count": tally.get(code, 0),
                    "percent": None if code in out else percent(tally.get(code, 0), eligible),
                }
                for code in (*s.valid, UNKNOWN)
            },
        }
    return {
        "pupils": counts.pupils,
        "subjects": subjects,
        "combined": {
            "subjects": list(config.combined),
            "eligible": counts.combined_eligible,
            "met": counts.combined_met,
            "met_percent": percent(counts.combined_met, counts.combined_eligible),
            "higher": counts.combined_higher,
            "higher_percent": percent(counts.combined_higher, counts.combined_eligible),
        },
    }


@dataclass(frozen=True)
class EesColumn:
    """One column of the EES open data and its row of the EES metadata file (`.meta.csv`):
    `label` the words EES shows for it, `grouping` its indicator group (the subject or year
    group), `unit` "" for a number of pupils or "%" for a percentage, `dp` the decimal places
    EES shows, and `of` the column of eligible pupils a percentage is taken of (None for a
    count), so that a percentage of no pupils can be written as not applicable."""

    name: str
    label: str
    grouping: str
    unit: str = ""
    dp: int = 0
    of: str | None = None


def bucket_words(bucket: str) -> str:
    """The words of a bucket's name: `met_expected_standard` -> "met expected standard"."""
    return bucket.replace("_", " ")


def ees_columns(
    definition: Definition, *, combined_label: str, keystage_columns: bool = True
) -> list[EesColumn]:
    """The columns of `ees_row`, in its order, with their words for the EES metadata file: each
    subject's counts under the subject's label, then the combined measure's under
    `combined_label`. All are whole numbers of pupils."""
    config = settings(definition)
    names = list(ees_row(Counts(), definition, keystage_columns=keystage_columns))
    found: dict[str, EesColumn] = {}
    for s in definition.subjects:
        for bucket in config.buckets:
            name = config.column.format(short=s.short, bucket=bucket)
            found[name] = EesColumn(name, f"{s.label}: {bucket_words(bucket)}", s.label)
    for bucket in config.buckets:
        name = config.column.format(short=config.combined_short, bucket=bucket)
        found.setdefault(
            name, EesColumn(name, f"{combined_label}: {bucket_words(bucket)}", combined_label)
        )
    return [found[n] for n in names]


def ees_row(
    counts: Counts, definition: Definition, *, keystage_columns: bool = True
) -> dict[str, int]:
    """The counts in the column layout of DfE's EES KS1 files (`t_readta_eligible_pupils`,
    `t_readta_met_expected_standard`...), subject by subject, then the combined measure
    (`t_rwm_...`). A subject has a column only for buckets that can hold one of its codes.
    `keystage_columns=False` leaves out the buckets DfE's files do not have (maladministration,
    unknown)."""
    config = settings(definition)
    row: dict[str, int] = {}
    for s in definition.subjects:
        tally = counts.codes.get(s.key, {})
        out = config.out_of_denominator(s.valid)
        for bucket, value in config.buckets.items():
            if not keystage_columns and bucket in config.keystage_only:
                continue
            if value == "eligible":
                n = counts.pupils - sum(tally.get(c, 0) for c in out)
            elif value == "met":
                n = sum(tally.get(c, 0) for c in s.met)
            elif value == "higher":
                if not s.higher:
                    continue
                n = sum(tally.get(c, 0) for c in s.higher)
            elif value == UNKNOWN:
                n = tally.get(UNKNOWN, 0)
            else:
                codes = value & frozenset(s.valid)
                if not codes:
                    continue
                n = sum(tally.get(c, 0) for c in codes)
            row[config.column.format(short=s.short, bucket=bucket)] = n
    combined = {
        "eligible": counts.combined_eligible,
        "met": counts.combined_met,
        "higher": counts.combined_higher,
    }
    for bucket, value in config.buckets.items():
        if isinstance(value, str) and value in combined:
            row[config.column.format(short=config.combined_short, bucket=bucket)] = combined[value]
    return row
