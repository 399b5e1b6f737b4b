"""Provisional England and regional figures while LAs are still loading (issue 17;
docs/measures.md, "Provisional national figures").

For one measure (one report row, measure and pupil group) it takes every LA's loaded counts,
expected pupils and last year's published figure, and gives England and each region:

- the **difference estimate**: each LA not yet loaded is predicted at last year's figure plus
  the pupil-weighted mean change of the loaded LAs that have last year's figure (an LA with no
  figure last year at the pooled figure of the loaded LAs), and the loaded LAs count as they
  are;
- its **95% interval** from the spread of the changes between LAs (quasi-binomial), with the
  finite-population correction for the share of expected pupils loaded and a t quantile;
- beside it, the **pooled figure** of the loaded LAs with its Wilson interval (what the page
  showed before), the mean change, the LAs loaded and the coverage, and whether the pooled
  figure lies further from the estimate than the interval's half-width (the LAs loaded so far
  are not like the rest).

An LA counts as **loaded** once its pupils reach a share (the definition's
`[provisional] loaded_share`, e.g. 0.9) of its expected pupils; LAs with fewer are partly
loaded, reported apart and left out of the estimate (their pupils count as not yet loaded).

Pure Python: no Django, and nothing about any collection; which published series gives last
year's figures is the collection definition's `[provisional]` table (`settings`, `last_year`).
Percentages are 0-100.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from keystage.engine.definition import Definition, DefinitionError
from keystage.engine.measures import checked_once, wilson_interval
from keystage.engine.student_t import t_quantile

__all__ = [
    "NOT_LIKE_THE_REST",
    "AreaEstimate",
    "LaFigures",
    "PartlyLoaded",
    "Provisional",
    "ProvisionalSettings",
    "estimate",
    "la_status",
    "last_year",
    "load_steps",
    "mean_change_as_loaded",
    "settings",
]

ENGLAND = "england"
# What the page says when the pooled figure is further from the estimate than the interval's
# half-width.
NOT_LIKE_THE_REST = (
    "The LAs loaded so far are not like the rest: their own figure is outside the "
    "estimate's interval."
)
# The measures a report row has (the reports' "met" and "higher" columns).
MEASURE_KEYS = ("met", "higher")


# -- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LaFigures:
    """One LA's figures for one measure, as loaded so far.

    `pupils`: its pupils loaded (every pupil of the collection, whatever the measure), which
    say whether it counts as loaded. `expected`: its expected pupils (its expected cohort, else
    last year's pupils); None when neither is known, and then the LA counts as loaded as soon
    as it has any pupil, and as nothing while it has none. `eligible` and `met`: its loaded
    pupils eligible for the measure and, of them, those meeting it. `last_year`: last year's
    published LA percentage for the measure, None when there is none."""

    code: str
    region: str
    pupils: int
    expected: int | None
    eligible: int
    met: int
    last_year: float | None = None


@dataclass(frozen=True, slots=True)
class PartlyLoaded:
    """An LA with some pupils loaded, but fewer than the share that counts."""

    code: str
    region: str
    pupils: int
    expected: int
    share: float  # pupils / expected, 0-100


@dataclass(frozen=True)
class AreaEstimate:
    """England's or a region's provisional figure for one measure. Figures are None, with a
    `reason`, when the area has too few LAs loaded (or no eligible pupil)."""

    area: str  # "england" or the region's code as given in `LaFigures.region`
    estimate: float | None
    low: float | None
    high: float | None
    pooled: float | None  # the loaded LAs' pupils together (met / eligible)
    pooled_low: float | None  # Wilson's interval of the pooled figure, pupils independent
    pooled_high: float | None
    mean_change: float | None  # pupil-weighted mean of (this year - last year), in points
    las: int  # LAs of the area
    las_loaded: int  # m: LAs counted as loaded
    las_partly: int  # LAs partly loaded, left out of the estimate
    # LAs not loaded predicted at the pooled figure: those without last year's figure (every LA
    # not loaded when no loaded LA, or only one, has last year's figure).
    las_predicted_from_pooled: int
    pupils_loaded: int  # pupils of the loaded LAs
    pupils_expected: int  # pupils of the loaded LAs + expected pupils of the others
    coverage: float | None  # pupils_loaded / pupils_expected, 0-100
    eligible: int  # loaded LAs' eligible pupils
    met: int
    # t quantile x standard error: the interval is the estimate +/- this, cut at 0 and 100.
    half_width: float | None = None
    degrees_of_freedom: int | None = None
    # The loaded LAs' pooled figure is further from the estimate than the half-width: the LAs
    # loaded so far are not like the rest (NOT_LIKE_THE_REST says so).
    not_like_the_rest: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class Provisional:
    """England and every region, in the order of their codes, with the partly loaded LAs."""

    england: AreaEstimate
    regions: dict[str, AreaEstimate]
    partly_loaded: tuple[PartlyLoaded, ...]
    loaded_share: float
    level: float


def la_status(la: LaFigures, loaded_share: float) -> str:
    """ "loaded", "partly" (some pupils, fewer than `loaded_share` of the expected) or "none"."""
    if la.pupils <= 0:
        return "none"
    if not la.expected or la.pupils >= loaded_share * la.expected:
        return "loaded"
    return "partly"


# -- the estimator ----------------------------------------------------------------------------


class _Sums:
    """What an area's estimate needs, summed over its LAs in one pass."""

    __slots__ = (
        "las", "m", "m_eligible", "partly", "pupils", "eligible", "met", "level1", "level2",
        "n_change", "change0", "change1", "change2", "expected_unloaded",
        "expected_with_last", "expected_times_last", "expected_without_last", "fallback_las",
    )  # fmt: skip

    def __init__(self) -> None:
        self.las = self.m = self.m_eligible = self.partly = self.fallback_las = self.n_change = 0
        self.pupils = self.eligible = self.met = 0
        self.level1 = self.level2 = 0.0  # Σ n p, Σ n p² over loaded LAs
        self.change0 = self.change1 = self.change2 = 0.0  # Σ n, Σ n d, Σ n d² (with last year)
        self.expected_unloaded = 0
        self.expected_with_last = 0.0  # Σ E over LAs not loaded with last year's figure
        self.expected_times_last = 0.0  # Σ E y over them
        self.expected_without_last = 0  # Σ E over LAs not loaded without it


def _sum(las: Iterable[LaFigures], loaded_share: float) -> tuple[dict[str, _Sums], list]:
    by_region: dict[str, _Sums] = {}
    partly: list[PartlyLoaded] = []
    for la in las:
        s = by_region.get(la.region)
        if s is None:
            s = by_region[la.region] = _Sums()
        s.las += 1
        status = la_status(la, loaded_share)
        if status == "loaded":
            s.m += 1
            n, k = la.eligible, la.met
            s.pupils += la.pupils
            s.eligible += n
            s.met += k
            if n > 0:
                s.m_eligible += 1
                p = 100.0 * k / n
                s.level1 += n * p
                s.level2 += n * p * p
                if la.last_year is not None:
                    d = p - la.last_year
                    s.n_change += 1
                    s.change0 += n
                    s.change1 += n * d
                    s.change2 += n * d * d
            continue
        if status == "partly":
            s.partly += 1
            partly.append(
                PartlyLoaded(la.code, la.region, la.pupils, la.expected or 0,
                             100.0 * la.pupils / la.expected if la.expected else 0.0)
            )  # fmt: skip
        e = la.expected or 0
        s.expected_unloaded += e
        if la.last_year is None:
            s.expected_without_last += e
            s.fallback_las += 1
        else:
            s.expected_with_last += e
            s.expected_times_last += e * la.last_year
    return by_region, partly


def _total(parts: Iterable[_Sums]) -> _Sums:
    out = _Sums()
    for s in parts:
        for name in _Sums.__slots__:
            setattr(out, name, getattr(out, name) + getattr(s, name))
    return out


def _residual(s0: float, s1: float, s2: float) -> float:
    """Σ n (x - x̄)² from Σ n, Σ n x and Σ n x² (never below 0 from rounding)."""
    return max(0.0, s2 - s1 * s1 / s0) if s0 > 0 else 0.0


@dataclass(frozen=True)
class _Spread:
    """The dispersion φ (percent² × pupils: an LA of n pupils varies by φ / n) of this year's
    changes and of this year's levels between loaded LAs, with their degrees of freedom."""

    change: float
    change_df: int
    level: float
    level_df: int


def _spread(groups: list[_Sums]) -> _Spread:
    """The spread pooled over `groups` (England: one group; regions: every region, each around
    its own mean): Σ nᵢ(dᵢ − μ̂)² / (m − groups)."""
    change_rss = level_rss = 0.0
    change_df = level_df = 0
    for s in groups:
        if s.n_change:
            change_rss += _residual(s.change0, s.change1, s.change2)
            change_df += s.n_change - 1
        if s.m_eligible:
            level_rss += _residual(s.eligible, s.level1, s.level2)
            level_df += s.m_eligible - 1
    return _Spread(
        change=change_rss / change_df if change_df > 0 else 0.0, change_df=change_df,
        level=level_rss / level_df if level_df > 0 else 0.0, level_df=level_df,
    )  # fmt: skip


def _area(name: str, s: _Sums, spread: _Spread, *, level: float, min_las: int) -> AreaEstimate:
    pupils_expected = s.pupils + s.expected_unloaded
    coverage = 100.0 * s.pupils / pupils_expected if pupils_expected else None
    pooled = 100.0 * s.met / s.eligible if s.eligible else None
    wilson = wilson_interval(s.met, s.eligible) if s.eligible else None
    mean_change = s.change1 / s.change0 if s.change0 > 0 else None
    common: dict[str, Any] = dict(
        area=name, pooled=pooled,
        pooled_low=wilson[0] if wilson else None, pooled_high=wilson[1] if wilson else None,
        mean_change=mean_change, las=s.las, las_loaded=s.m, las_partly=s.partly,
        las_predicted_from_pooled=s.fallback_las, pupils_loaded=s.pupils,
        pupils_expected=pupils_expected, coverage=coverage, eligible=s.eligible, met=s.met,
    )  # fmt: skip
    where = "England's" if name == ENGLAND else "the region's"
    if s.m < min_las:
        reason = (
            f"Only {s.m} of {where} {s.las} LAs {'is' if s.m == 1 else 'are'} loaded; "
            f"a figure needs at least {min_las}."
        )
        return AreaEstimate(estimate=None, low=None, high=None, reason=reason, **common)
    if not s.eligible:
        reason = "No pupil of the loaded LAs is eligible for this measure."
        return AreaEstimate(estimate=None, low=None, high=None, reason=reason, **common)

    # Expected pupils are of the whole cohort; an LA not loaded is expected to have the loaded
    # LAs' share of them eligible for this measure (r = 1 when every pupil is eligible).
    r = s.eligible / s.pupils if s.pupils else 1.0
    with_last, without_last = r * s.expected_with_last, r * s.expected_without_last
    times_last = r * s.expected_times_last
    if mean_change is None or spread.change_df < 1:
        # No loaded LA with last year's figure (or too few to measure the spread of changes):
        # every LA not loaded is predicted at the pooled figure.
        without_last += with_last
        with_last = times_last = 0.0
        mean_change_used = 0.0
        common["las_predicted_from_pooled"] = s.las - s.m
    else:
        mean_change_used = mean_change
    total = s.eligible + with_last + without_last  # W: the area's eligible pupils, expected
    # The loaded LAs as they are: Σ nᵢpᵢ = 100 Σ metᵢ (exactly the pooled figure when all are in).
    predicted = 100.0 * s.met + times_last + with_last * mean_change_used + without_last * pooled
    estimate = predicted / total

    # The prediction error of the LAs not loaded: each varies by φ/n around its prediction, and
    # the prediction itself (μ̂ or the pooled figure) by φ / Σn of the loaded LAs. With every LA
    # predicted from the change this is (1 − f) φ / Σn, f the share of pupils loaded.
    variance = 0.0
    dfs = []
    if with_last:
        variance += spread.change * (with_last * with_last / s.change0 + with_last)
        dfs.append(spread.change_df)
    if without_last:
        variance += spread.level * (without_last * without_last / s.eligible + without_last)
        dfs.append(spread.level_df)
    variance /= total * total
    df = min(dfs) if dfs else None
    if df is not None and df < 1:
        reason = "Too few LAs are loaded to measure how much they differ."
        return AreaEstimate(estimate=None, low=None, high=None, reason=reason, **common)
    half = t_quantile(0.5 + level / 2, df) * math.sqrt(variance) if df else 0.0
    return AreaEstimate(
        estimate=min(100.0, max(0.0, estimate)),
        low=min(100.0, max(0.0, estimate - half)), high=min(100.0, max(0.0, estimate + half)),
        half_width=half, degrees_of_freedom=df,
        not_like_the_rest=abs(pooled - estimate) > half + 1e-9, **common,
    )  # fmt: skip


def estimate(
    las: Iterable[LaFigures], *, loaded_share: float = 0.9, level: float = 0.95, min_las: int = 3
) -> Provisional:
    """England's and every region's provisional figure for one measure from every LA's
    figures (every LA expected, loaded or not): docs/measures.md gives the formulas. An area
    with fewer than `min_las` LAs loaded has no figure and says why."""
    if not 0.0 < loaded_share <= 1.0:
        raise ValueError(f"loaded_share is a share of the expected pupils, 0-1, got {loaded_share}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level is the interval's confidence, 0-1, got {level}")
    by_region, partly = _sum(las, loaded_share)
    regions = [by_region[code] for code in sorted(by_region)]
    england = _total(regions)
    england_spread, region_spread = _spread([england]), _spread(regions)
    return Provisional(
        england=_area(ENGLAND, england, england_spread, level=level, min_las=min_las),
        regions={
            code: _area(code, by_region[code], region_spread, level=level, min_las=min_las)
            for code in sorted(by_region)
        },
        partly_loaded=tuple(partly),
        loaded_share=loaded_share,
        level=level,
    )


# -- the mean change as LAs loaded ------------------------------------------------------------


def load_steps(loaded: int, *, parts: int = 10, min_step: int = 3) -> list[int]:
    """After how many of the `loaded` LAs the mean change is looked at as they load: after each
    `parts`-th of them (a tenth), the first step at least `min_step` LAs and each one at least
    `min_step` more than the one before, the last all of them (so that no step's change rests
    on one or two LAs, nor gives away one or two LAs' figures by difference with the step
    before). [] with fewer than `min_step` loaded."""
    if loaded < min_step:
        return []
    out: list[int] = []
    for part in range(1, parts + 1):
        k = -(-part * loaded // parts)  # ceil
        if k < min_step or (out and k - out[-1] < min_step):
            continue
        out.append(k)
    if out[-1] != loaded:  # the last tenth came too close to the one before: end on all of them
        out[-1] = loaded
    return out


def mean_change_as_loaded(
    las_in_order: Iterable[LaFigures],
    *,
    loaded_share: float = 0.9,
    parts: int = 10,
    min_step: int = 3,
) -> list[tuple[int, float | None]]:
    """[(k, the mean change of the first k loaded LAs)] at each of `load_steps`, the LAs
    taken in the order given (the order they loaded; those not counted as loaded are skipped).
    The mean change is pupil-weighted over those of the k with last year's figure and eligible
    pupils, as `AreaEstimate.mean_change` (None when none has). It uses each LA's figures as
    they are now: how the mean change moved as LAs came in, which drifts one way when the order
    LAs load in is tied to how much they improved."""
    loaded = [la for la in las_in_order if la_status(la, loaded_share) == "loaded"]
    steps = set(load_steps(len(loaded), parts=parts, min_step=min_step))
    out: list[tuple[int, float | None]] = []
    weight = weighted = 0.0
    for k, la in enumerate(loaded, start=1):
        if la.last_year is not None and la.eligible > 0:
            weight += la.eligible
            weighted += 100.0 * la.met - la.eligible * la.last_year  # n (p - y)
        if k in steps:
            out.append((k, weighted / weight if weight else None))
    return out


# -- the definition's [provisional] table -----------------------------------------------------


class ProvisionalSettingsError(DefinitionError):
    """The definition's [provisional] table cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class ProvisionalSettings:
    """The definition's `[provisional]` table: the share of its expected pupils that makes an
    LA count as loaded, and where last year's LA figures come from: a published series of
    `keystage.reference`, its year, and its column per (pupil group, report row, measure)."""

    loaded_share: float
    series: str
    year: int
    columns: Mapping[tuple[str, str, str], str]

    def column(self, row: str, measure: str, group: str = "all") -> str | None:
        return self.columns.get((group, row, measure))


_CHECKED: dict[int, tuple[Definition, ProvisionalSettings | None]] = {}


def settings(definition: Definition) -> ProvisionalSettings | None:
    """The definition's `[provisional]` table, checked (None when it has none). Raises
    `ProvisionalSettingsError` saying what to fix."""
    return checked_once(_CHECKED, definition, _settings)


def _settings(definition: Definition) -> ProvisionalSettings | None:
    from keystage import reference
    from keystage.engine import collections as collection_packages

    raw = definition.raw.get("provisional")
    if raw is None:
        return None
    report_rows = [
        key
        for key, _, _ in collection_packages.module_of(definition, "reports").report_subjects(
            definition
        )
    ]
    where = f"{definition.source or definition.id}: [provisional]"
    share = raw.get("loaded_share")
    if not isinstance(share, int | float) or isinstance(share, bool) or not 0 < share <= 1:
        raise ProvisionalSettingsError(
            f"{where} loaded_share is the share of an LA's expected pupils that makes it count "
            "as loaded, a number above 0 and at most 1, e.g. 0.9"
        )
    series = raw.get("series")
    if series not in reference.SERIES:
        raise ProvisionalSettingsError(
            f"{where} series {series!r} is not a published series Keystage ships; use one of "
            f"{', '.join(sorted(reference.SERIES))}"
        )
    year = raw.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not year < definition.year:
        raise ProvisionalSettingsError(
            f"{where} year is the year of last year's published figures, a year before "
            f"{definition.year}, e.g. {definition.year - 1}"
        )
    header = set(reference.published_series(series)[0]) - {"year", "level", "code", "name",
                                                             "parent"}  # fmt: skip
    example = f'{{ met = "<a column of {series}>" }}'
    tables = {"all": raw.get("columns", {}), **raw.get("group_columns", {})}
    columns: dict[tuple[str, str, str], str] = {}
    for group, rows in tables.items():
        at = "columns" if group == "all" else f'group_columns."{group}"'
        if not isinstance(rows, dict):
            raise ProvisionalSettingsError(
                f"{where} {at} is a table of the report rows' measures and columns, e.g. "
                f"{report_rows[0]} = {example}"
            )
        for row, measures in rows.items():
            if row not in report_rows:
                raise ProvisionalSettingsError(
                    f"{where} {at}.{row}: {row!r} is not a row of the collection's reports; "
                    f"they are {', '.join(report_rows)}"
                )
            if not isinstance(measures, dict) or not measures:
                raise ProvisionalSettingsError(
                    f"{where} {at}.{row} is a table of measures and columns, e.g. {example}"
                )
            for measure, column in measures.items():
                if measure not in MEASURE_KEYS:
                    raise ProvisionalSettingsError(
                        f"{where} {at}.{row}.{measure}: a measure is one of "
                        f"{', '.join(MEASURE_KEYS)}"
                    )
                if column not in header:
                    raise ProvisionalSettingsError(
                        f"{where} {at}.{row}.{measure} = {column!r} is not a column of the "
                        f"series {series}; its columns are {', '.join(sorted(header))}"
                    )
                columns[(str(group), str(row), measure)] = column
    return ProvisionalSettings(loaded_share=float(share), series=series, year=year,
                               columns=columns)  # fmt: skip


def last_year(
    definition: Definition, row: str, measure: str, group: str = "all"
) -> dict[str, float]:
    """Last year's published LA percentages for one measure, {LA code: percent}, from the
    series, year and column the definition's `[provisional]` table gives; {} when it gives
    none for this measure (every LA is then predicted at the pooled figure)."""
    from keystage import reference

    found = settings(definition)
    column = found.column(row, measure, group) if found else None
    if column is None:
        return {}
    return reference.la_percentages(found.series, found.year, column)
