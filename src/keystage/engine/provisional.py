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
    "unlike_the_rest",
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
    # pupils_loaded / pupils_expected, 0-100; None when LAs are still to load and none of them
    # has expected pupils known (nor then an estimate: `reason` says why).
    coverage: float | None
    eligible: int  # loaded LAs' eligible pupils
    met: int
    # t quantile x standard error: the interval is the estimate +/- this, cut at 0 and 100.
    half_width: float | None = None
    # The half-width from the spread of the loaded LAs' changes alone (quasi-binomial, with the
    # finite-population correction): what `not_like_the_rest` compares the pooled figure with.
    spread_half_width: float | None = None
    degrees_of_freedom: int | None = None
    # The loaded LAs' pooled figure is further from the estimate than `spread_half_width`: the
    # LAs loaded so far are not like the rest (NOT_LIKE_THE_REST says so; `unlike_the_rest`).
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


@dataclass(frozen=True, slots=True)
class _Change:
    """A loaded LA with last year's figure: its eligible pupils, this year's and last year's
    percentages and the change."""

    n: int
    p: float
    y: float
    region: str

    @property
    def d(self) -> float:
        return self.p - self.y

    @property
    def binomial(self) -> float:
        """The variance per pupil of the change from sampling alone, percent² × pupils:
        p(100 − p) this year + y(100 − y) last year (two cohorts of about the same size)."""
        return _binomial(self.p) + _binomial(self.y)


def _binomial(percent: float) -> float:
    """p(100 − p), a percentage's variance per pupil (0 outside 0-100)."""
    return max(0.0, percent * (100.0 - percent))


class _Sums:
    """What an area's estimate needs from its LAs, gathered in one pass."""

    __slots__ = (
        "las", "m", "m_eligible", "partly", "pupils", "eligible", "met", "level1", "level2",
        "changes", "expected_unloaded", "waiting", "expected_without_last", "fallback_las",
    )  # fmt: skip

    def __init__(self) -> None:
        self.las = self.m = self.m_eligible = self.partly = self.fallback_las = 0
        self.pupils = self.eligible = self.met = 0
        self.level1 = self.level2 = 0.0  # Σ n p, Σ n p² over loaded LAs
        self.changes: list[_Change] = []  # loaded LAs with last year's figure and eligible pupils
        self.expected_unloaded = 0
        # LAs not loaded with last year's figure: (region, expected pupils, last year's figure)
        self.waiting: list[tuple[str, int, float]] = []
        self.expected_without_last = 0  # Σ E over LAs not loaded without it

    @property
    def n_change(self) -> int:
        return len(self.changes)

    @property
    def change0(self) -> float:  # Σ n over the loaded LAs with a change
        return float(sum(c.n for c in self.changes))

    @property
    def change1(self) -> float:  # Σ n d
        return sum(c.n * c.d for c in self.changes)


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
                    s.changes.append(_Change(n, p, float(la.last_year), la.region))
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
            s.waiting.append((la.region, e, float(la.last_year)))
    return by_region, partly


def _total(parts: Iterable[_Sums]) -> _Sums:
    out = _Sums()
    for s in parts:
        for name in _Sums.__slots__:
            value = getattr(s, name)
            setattr(out, name, getattr(out, name) + (list(value) if isinstance(value, list)
                                                      else value))  # fmt: skip
    return out


def _residual(s0: float, s1: float, s2: float) -> float:
    """Σ n (x - x̄)² from Σ n, Σ n x and Σ n x² (never below 0 from rounding)."""
    return max(0.0, s2 - s1 * s1 / s0) if s0 > 0 else 0.0


@dataclass(frozen=True)
class _Spread:
    """How the loaded LAs differ, pooled over groups (England: one group; regions: every
    region, each around its own means), docs/measures.md gives the formulas:

    - `change`, `level`: the quasi-binomial dispersions φ (percent² × pupils: an LA of n pupils
      varies by φ / n) of this year's changes and of this year's levels, with their degrees of
      freedom (the issue's Σ nᵢ(dᵢ − μ̂)² / (m − groups));
    - `between`: τ², the variance of an LA's change beyond its pupils' binomial variation
      (which large LAs show as much as small ones), by the method of moments;
    - `slope`, `slope_variance`: the pupil-weighted slope of the change on last year's figure
      (within the groups) and its variance: how far an LA's change follows its level last year
      (low attainers tend to improve more), for the interval when the LAs still to load were
      not at the loaded LAs' level last year."""

    change: float
    change_df: int
    level: float
    level_df: int
    between: float = 0.0
    slope: float = 0.0
    slope_variance: float = 0.0


def _spread(groups: list[_Sums]) -> _Spread:
    change_rss = level_rss = 0.0
    change_df = level_df = 0
    sampling = weight = 0.0  # Σ (1 − hᵢ) bᵢ and Σ nᵢ (1 − hᵢ), hᵢ = nᵢ / N of the group
    sxx = sxe = 0.0  # Σ n x², Σ n x e, x = y − ȳ of the group, e = d − μ̂ of the group
    slope_terms: list[tuple[float, float, float]] = []  # (n, x, binomial) per LA
    for s in groups:
        if s.n_change:
            total = s.change0
            mu = s.change1 / total
            ybar = sum(c.n * c.y for c in s.changes) / total
            for c in s.changes:
                e, x, h = c.d - mu, c.y - ybar, c.n / total
                change_rss += c.n * e * e
                sampling += (1.0 - h) * c.binomial
                weight += c.n * (1.0 - h)
                sxx += c.n * x * x
                sxe += c.n * x * e
                slope_terms.append((c.n, x, c.binomial))
            change_df += s.n_change - 1
        if s.m_eligible:
            level_rss += _residual(s.eligible, s.level1, s.level2)
            level_df += s.m_eligible - 1
    between = max(0.0, (change_rss - sampling) / weight) if weight > 0 else 0.0
    slope = slope_variance = 0.0
    if sxx > 1e-12 and change_df > 1:
        slope = sxe / sxx
        # Var(β̂) = Σ nᵢ² xᵢ² vᵢ / (Σ nᵢ xᵢ²)², vᵢ = bᵢ / nᵢ + τ² (sandwich).
        slope_variance = sum(n * x * x * (b + between * n) for n, x, b in slope_terms) / (sxx * sxx)
    return _Spread(
        change=change_rss / change_df if change_df > 0 else 0.0, change_df=change_df,
        level=level_rss / level_df if level_df > 0 else 0.0, level_df=level_df,
        between=between, slope=slope, slope_variance=slope_variance,
    )  # fmt: skip


def _regional(s: _Sums, spread: _Spread) -> float:
    """τ_R², how much regions' changes differ beyond their LAs' (England's interval): from the
    loaded LAs' regional mean changes by the method of moments when they span at least 3
    regions, else the between-LA τ² stands in for it (one or two regions say nothing of the
    others)."""
    by_region: dict[str, list[_Change]] = {}
    for c in s.changes:
        by_region.setdefault(c.region, []).append(c)
    if len(by_region) < 3:
        return spread.between
    total = s.change0
    mu = s.change1 / total
    sizes = [sum(c.n for c in cs) for cs in by_region.values()]
    q = sum(
        size * (sum(c.n * c.d for c in cs) / size - mu) ** 2
        for size, cs in zip(sizes, by_region.values(), strict=True)
    )
    room = total - sum(size * size for size in sizes) / total
    return max(0.0, (q - (len(sizes) - 1) * spread.change) / room) if room > 0 else 0.0


def _change_variance(s: _Sums, spread: _Spread, r: float, *, england: bool) -> tuple[float, float]:
    """The variance (percent² × pupils²) of the LAs still to load with last year's figure,
    Σⱼ Eⱼ (dⱼ − μ̂), predicted at μ̂ (docs/measures.md):

    - the larger of the quasi-binomial φ (a² / N + a) and the random-effects
      Σⱼ Eⱼ² (bⱼ / Eⱼ + τ²) + a² Σᵢ wᵢ² (bᵢ / nᵢ + τ²), a = Σⱼ Eⱼ, wᵢ = nᵢ / N;
    - England: τ_R² Σ_r (A_r − a ω_r)², the regions' own changes, A_r the region's expected
      pupils still to load and ω_r its share of the loaded pupils;
    - c² (β̂² + Var β̂), c = Σⱼ Eⱼ (yⱼ − ȳ): the LAs still to load were at another level
      last year than the loaded ones, and changes follow levels.

    Returns (that variance, the quasi-binomial part alone)."""
    n_total = s.change0
    a = r * sum(e for _, e, _ in s.waiting)
    if a <= 0:
        return 0.0, 0.0
    quasi = spread.change * (a * a / n_total + a)
    tau = spread.between
    own = sum(r * e * 2.0 * _binomial(y) + (r * e) ** 2 * tau for _, e, y in s.waiting)
    mean = sum((c.n / n_total) ** 2 * (c.binomial / c.n + tau) for c in s.changes)
    variance = max(quasi, own + a * a * mean)
    if england:
        still: dict[str, float] = {}
        for region, e, _ in s.waiting:
            still[region] = still.get(region, 0.0) + r * e
        loaded: dict[str, float] = {}
        for c in s.changes:
            loaded[c.region] = loaded.get(c.region, 0.0) + c.n / n_total
        regions = still.keys() | loaded.keys()
        variance += _regional(s, spread) * sum(
            (still.get(k, 0.0) - a * loaded.get(k, 0.0)) ** 2 for k in regions
        )
    ybar = sum(c.n * c.y for c in s.changes) / n_total
    c_ = sum(r * e * (y - ybar) for _, e, y in s.waiting)
    variance += c_ * c_ * (spread.slope**2 + spread.slope_variance)
    return variance, quasi


def _area(name: str, s: _Sums, spread: _Spread, *, level: float, min_las: int) -> AreaEstimate:
    pupils_expected = s.pupils + s.expected_unloaded
    # LAs still to load, none with expected pupils known: what is to come cannot be weighed.
    waiting = s.las - s.m
    unweighed = waiting > 0 and s.expected_unloaded <= 0
    coverage = 100.0 * s.pupils / pupils_expected if pupils_expected and not unweighed else None
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
    if unweighed:
        reason = (
            f"None of the {waiting} LA{'' if waiting == 1 else 's'} not yet loaded "
            f"{'has' if waiting == 1 else 'have'} expected pupils in Keystage (an expected "
            "cohort, or pupils in last year's collection), so what is still to come cannot be "
            "weighed: there is no estimate, only the loaded LAs' own figure."
        )
        return AreaEstimate(estimate=None, low=None, high=None, reason=reason, **common)
    if not s.eligible:
        reason = "No pupil of the loaded LAs is eligible for this measure."
        return AreaEstimate(estimate=None, low=None, high=None, reason=reason, **common)

    # Expected pupils are of the whole cohort; an LA not loaded is expected to have the loaded
    # LAs' share of them eligible for this measure (r = 1 when every pupil is eligible).
    r = s.eligible / s.pupils if s.pupils else 1.0
    expected_with_last = float(sum(e for _, e, _ in s.waiting))
    with_last, without_last = r * expected_with_last, r * s.expected_without_last
    times_last = r * sum(e * y for _, e, y in s.waiting)
    by_change = not (mean_change is None or spread.change_df < 1)
    if not by_change:
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

    # The prediction error of the LAs not loaded (_change_variance); those predicted at the
    # pooled figure vary by φ/n around it, and the pooled figure itself by φ / Σn of the
    # loaded LAs. With every pupil loaded nothing is left to predict: no width.
    variance = quasi = 0.0
    dfs = []
    if with_last:
        variance, quasi = _change_variance(s, spread, r, england=name == ENGLAND)
        dfs.append(spread.change_df)
    if without_last:
        level_part = spread.level * (without_last * without_last / s.eligible + without_last)
        variance += level_part
        quasi += level_part
        dfs.append(spread.level_df)
    variance /= total * total
    quasi /= total * total
    df = min(dfs) if dfs else None
    if df is not None and df < 1:
        reason = "Too few LAs are loaded to measure how much they differ."
        return AreaEstimate(estimate=None, low=None, high=None, reason=reason, **common)
    t = t_quantile(0.5 + level / 2, df) if df else 0.0
    half, spread_half = t * math.sqrt(variance), t * math.sqrt(quasi)
    return AreaEstimate(
        estimate=min(100.0, max(0.0, estimate)),
        low=min(100.0, max(0.0, estimate - half)), high=min(100.0, max(0.0, estimate + half)),
        half_width=half, spread_half_width=spread_half, degrees_of_freedom=df,
        not_like_the_rest=unlike_the_rest(pooled, estimate, spread_half), **common,
    )  # fmt: skip


def unlike_the_rest(pooled: float | None, estimate: float | None, spread_half: float | None):
    """The loaded LAs' pooled figure lies further from the estimate than the half-width of
    the interval the spread of their changes alone gives (the quasi-binomial one): what their
    changes' spread explains does not bridge the gap, so they are not like the LAs still to
    load. The interval's other parts (pupils' own variation, levels, regions) are left out:
    they grow with the very difference looked for."""
    if pooled is None or estimate is None or spread_half is None:
        return False
    return abs(pooled - estimate) > spread_half + 1e-9


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
