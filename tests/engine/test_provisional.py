"""Provisional national figures (engine.provisional, docs/measures.md "Provisional national
figures"): the difference estimator and its interval on small cases worked by hand, the
pooled fallback, regions, the finite-population correction, partly loaded LAs, properties of
any input, and the t quantiles written by hand (ADR 10)."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keystage.engine.measures import wilson_interval
from keystage.engine.provisional import (
    NOT_LIKE_THE_REST,
    LaFigures,
    estimate,
    la_status,
    load_steps,
    mean_change_as_loaded,
)
from keystage.engine.student_t import incomplete_beta, t_cdf, t_quantile

T2, T3 = 4.302652729749464, 3.182446305284263  # t quantiles 0.975, 2 and 3 df (tables)


def la(code, region, n, met, last, *, expected=None, pupils=None):
    """A loaded LA whose pupils are all eligible (n), or, with n = 0, one not loaded."""
    return LaFigures(code, region, n if pupils is None else pupils,
                     n if expected is None else expected, n, met, last)  # fmt: skip


# England of five LAs, three loaded (every pupil eligible, expected = loaded):
#   A  100 pupils, 70 met: 70%, last year 68  -> change d = +2
#   B  200 pupils, 130 met: 65%, last year 64 -> d = +1
#   C  100 pupils, 60 met: 60%, last year 56  -> d = +4
#   D  not loaded, 200 expected, last year 70
#   E  not loaded, 100 expected, no figure last year
FIVE = [
    la("A", "R1", 100, 70, 68.0), la("B", "R1", 200, 130, 64.0), la("C", "R1", 100, 60, 56.0),
    la("D", "R1", 0, 0, 70.0, expected=200), la("E", "R1", 0, 0, None, expected=100),
]  # fmt: skip


def test_three_loaded_las_worked_by_hand():
    found = estimate(FIVE).england
    # Pooled: 260 of 400 = 65%, with Wilson's interval.
    assert found.pooled == 65.0
    assert (found.pooled_low, found.pooled_high) == wilson_interval(260, 400)
    # Mean change μ̂ = (100·2 + 200·1 + 100·4) / 400 = 800 / 400 = 2.
    assert found.mean_change == pytest.approx(2.0)
    # Estimate: the loaded LAs as they are (26,000 percent-pupils), D at 70 + 2 = 72 for 200
    # pupils, E (no figure last year) at the pooled 65 for 100, over 700 expected pupils:
    # (26000 + 200·72 + 100·65) / 700 = 46900 / 700 = 67.0.
    assert found.estimate == pytest.approx(67.0)
    # The interval (docs/measures.md). Spread of changes: Σn(d − μ̂)² = 100·0 + 200·1 + 100·4
    # = 600 over m − 1 = 2: φ = 300, so the quasi-binomial variance of D's 200 pupils is
    # φ(200²/400 + 200) = 90,000. Random effects: each LA's binomial variance per pupil
    # b = p(100 − p) + y(100 − y): A 2100 + 2176 = 4276, B 2275 + 2304 = 4579, C 2400 + 2464 =
    # 4864; τ² = max(0, (600 − (0.75·4276 + 0.5·4579 + 0.75·4864)) / 250) = 0 (these LAs differ
    # no more than their pupils would). D's own: 200·2·70·30 = 840,000; the mean change's:
    # 200²·(4276/16/100 + 4579/4/200 + 4864/16/100) = 40000·11.43625 = 457,450; the larger of
    # the two is 1,297,450. The slope of the change on last year's figure: ȳ = 63, x = 5, 1, −7,
    # Σnx² = 7600, Σnxe = −1600, β̂ = −4/19; Var β̂ = (100·25·4276 + 200·1·4579 + 100·49·4864)
    # / 7600² = 35,439,400 / 57,760,000; D was 7 points above the loaded LAs last year:
    # c = 200·7 = 1400, c²(β̂² + Var β̂). One region: no regional term.
    # Spread of levels (for E, at the pooled figure): Σn(p − 65)² = 5000 over 2: 2500;
    # 100²·2500/400 + 100·2500 = 312,500.
    slope = 1400**2 * ((4 / 19) ** 2 + 35439400 / 57760000)
    half = T2 * math.sqrt((1297450 + slope + 312500) / 490000)  # 10.47
    assert found.half_width == pytest.approx(half)
    assert (found.low, found.high) == (pytest.approx(67 - half), pytest.approx(67 + half))
    assert found.degrees_of_freedom == 2
    assert (found.las, found.las_loaded, found.las_partly, found.las_predicted_from_pooled) == (
        5, 3, 0, 1,
    )  # fmt: skip
    # 400 of 700 expected pupils loaded.
    assert (found.pupils_loaded, found.pupils_expected) == (400, 700)
    assert found.coverage == pytest.approx(100 * 400 / 700)
    # |65 − 67| = 2 < 10.47: the loaded LAs are not shown to be unlike the rest.
    assert not found.not_like_the_rest and found.reason is None


def test_a_loaded_la_without_last_years_figure_counts_as_it_is_but_not_in_the_mean_change():
    # A 100 pupils at 70% (last year 68, d = +2), B 100 at 64% (last year 60, d = +4),
    # C 200 at 50% with no figure last year; D not loaded, 200 expected, last year 70.
    found = estimate([
        la("A", "R1", 100, 70, 68.0), la("B", "R1", 100, 64, 60.0),
        la("C", "R1", 200, 100, None), la("D", "R1", 0, 0, 70.0, expected=200),
    ]).england  # fmt: skip
    # μ̂ from A and B only: (200 + 400) / 200 = 3. Pooled: 234 / 400 = 58.5%.
    assert found.mean_change == pytest.approx(3.0) and found.pooled == pytest.approx(58.5)
    # Estimate: (7000 + 6400 + 10000 + 200·(70 + 3)) / 600 = 38000 / 600 = 63.33.
    assert found.estimate == pytest.approx(38000 / 600)
    # Σn(d − 3)² = 100 + 100 = 200 over m − 1 = 1 (two LAs with a change): φ = 200, the
    # quasi-binomial 200·(200²/200 + 200) = 80,000. Random effects (τ² = 0): D's own
    # 200·2·70·30 = 840,000 and the mean change's 200²·(4276 + 4704)/4/100 = 898,000, larger.
    # With one degree of freedom no slope is measured. t with 1 df = 12.706.
    assert found.degrees_of_freedom == 1
    assert found.half_width == pytest.approx(
        12.706204736174659 * math.sqrt((840000 + 898000) / 360000)
    )
    assert found.las_predicted_from_pooled == 0


def test_a_region_with_fewer_than_three_las_loaded_has_no_figure_and_says_why():
    # R1 is England's five LAs above; R2 has F (100 at 50%, last year 50: d = 0) and G (100 at
    # 54%, last year 50: d = +4) loaded and H not.
    found = estimate([
        *FIVE, la("F", "R2", 100, 50, 50.0), la("G", "R2", 100, 54, 50.0),
        la("H", "R2", 0, 0, 52.0, expected=100),
    ])  # fmt: skip
    r2 = found.regions["R2"]
    assert r2.estimate is None and r2.low is None and r2.high is None
    assert r2.reason == "Only 2 of the region's 3 LAs are loaded; a figure needs at least 3."
    assert (r2.pooled, r2.las_loaded) == (52.0, 2)  # the pooled figure is still given
    # R1: its own mean change (2) and pooled figure (65), so the same estimate as above, 67.0;
    # but the spread pooled over both regions, each LA around its own region's mean:
    # changes (600 + R2's 100·4 + 100·4 = 800) / (5 LAs − 2 regions) = 1400 / 3 (the
    # quasi-binomial 300·1400/3 = 140,000 is below the random effects' 1,297,450 of above:
    # τ² stays 0); levels (5000 + R2's 100·4 + 100·4 = 800) / 3 = 5800 / 3; t with 3 df. The
    # slope is pooled too, but R2's LAs were both at 50 last year (x = 0): the same as R1's.
    # A region's interval has no regional term (its LAs share its region).
    slope = 1400**2 * ((4 / 19) ** 2 + 35439400 / 57760000)
    r1 = found.regions["R1"]
    assert r1.estimate == pytest.approx(67.0) and r1.degrees_of_freedom == 3
    assert r1.half_width == pytest.approx(
        T3 * math.sqrt((1297450 + slope + 125 * 5800 / 3) / 490000)
    )
    assert list(found.regions) == ["R1", "R2"]
    # England has 5 LAs loaded of 8.
    assert found.england.las_loaded == 5 and found.england.estimate is not None


def test_england_with_fewer_than_three_las_loaded_has_no_figure():
    found = estimate(FIVE[:1] + FIVE[3:]).england
    assert found.estimate is None
    assert found.reason == "Only 1 of England's 3 LAs is loaded; a figure needs at least 3."


def test_every_expected_pupil_loaded_leaves_no_interval_the_finite_population_correction():
    """With every LA loaded nothing is left to predict: the estimate is the pooled figure and
    the interval has no width, however much the LAs' changes differ."""
    found = estimate(FIVE[:3]).england
    assert found.estimate == pytest.approx(65.0) == found.pooled
    assert found.coverage == 100.0 and found.half_width == 0.0
    assert found.low == found.high == pytest.approx(65.0)
    assert not found.not_like_the_rest  # the pooled figure is the estimate
    # Almost every pupil: a narrow interval, narrower than with fewer loaded.
    nearly = estimate([*FIVE[:3], la("D", "R1", 0, 0, 62.0, expected=4)]).england
    assert 0 < nearly.half_width < estimate(FIVE).england.half_width


def test_a_partly_loaded_la_is_shown_apart_and_left_out_of_the_estimate():
    # D has 50 of its 200 expected pupils loaded (25%, below 90%): it is predicted as if it had
    # none, and its 50 pupils count nowhere.
    partly = la("D", "R1", 50, 5, 70.0, expected=200)
    found = estimate([*FIVE[:3], partly, FIVE[4]])
    assert found.england.estimate == pytest.approx(estimate(FIVE).england.estimate)
    assert found.england.half_width == pytest.approx(estimate(FIVE).england.half_width)
    assert (found.england.las_loaded, found.england.las_partly) == (3, 1)
    assert found.england.pupils_loaded == 400 and found.england.met == 260
    (shown,) = found.partly_loaded
    assert (shown.code, shown.pupils, shown.expected, shown.share) == ("D", 50, 200, 25.0)
    # 180 of 200 reach the 90% that counts: D is loaded with its own figure.
    assert la_status(la("D", "R1", 180, 120, 70.0, expected=200), 0.9) == "loaded"
    assert la_status(la("D", "R1", 179, 120, 70.0, expected=200), 0.9) == "partly"
    assert la_status(partly, 0.25) == "loaded"  # the share is the caller's (the definition's)
    assert la_status(la("D", "R1", 0, 0, 70.0, expected=200), 0.9) == "none"
    # No expected pupils known: loaded as soon as it has any pupil.
    assert la_status(LaFigures("D", "R1", 3, None, 3, 1, None), 0.9) == "loaded"


def test_without_any_figure_last_year_the_estimate_is_the_pooled_figure_with_a_wider_interval():
    found = estimate([
        la("A", "R1", 100, 70, None), la("B", "R1", 200, 130, None),
        la("C", "R1", 100, 60, None), la("D", "R1", 0, 0, 70.0, expected=300),
    ]).england  # fmt: skip
    # No loaded LA has a change to measure, so every LA not loaded, D too though it has last
    # year's figure, is at the pooled 65%: (26000 + 300·65) / 700 = 65.
    assert found.estimate == pytest.approx(65.0) and found.mean_change is None
    # The levels' spread, 2500 (above), over 2 df: [300²·2500/400 + 300·2500] / 700².
    assert found.half_width == pytest.approx(T2 * math.sqrt((562500 + 750000) / 490000))
    assert found.las_predicted_from_pooled == 1
    # Wider than Wilson's, which takes every pupil as independent and nothing as unknown.
    assert found.high - found.low > found.pooled_high - found.pooled_low


def test_loaded_las_unlike_the_rest_are_flagged():
    # The loaded LAs were high attainers last year too (80, 82, 84) and the others low (50):
    # the pooled figure (about 84) is far from the estimate.
    # LAs of 10,000 pupils, so that their pupils' own variation is small.
    found = estimate([
        la("A", "R1", 10000, 8200, 80.0), la("B", "R1", 10000, 8500, 82.0),
        la("C", "R1", 10000, 8600, 84.0), la("D", "R1", 0, 0, 50.0, expected=60000),
    ]).england  # fmt: skip
    assert found.mean_change == pytest.approx(7 / 3)
    assert found.estimate == pytest.approx((253 + 6 * (50 + 7 / 3)) / 9)
    # The interval is wide (D was 32 points below them last year, and how changes follow
    # levels is known only from three LAs), but not as wide as the gap to the pooled figure.
    assert found.half_width > 5
    assert found.not_like_the_rest
    assert "not like the rest" in NOT_LIKE_THE_REST
    # Plain data for a JSON report: the flag is a field.
    assert dataclasses.asdict(found)["not_like_the_rest"] is True


def test_a_measure_no_loaded_pupil_is_eligible_for_has_no_figure():
    found = estimate([
        LaFigures(code, "R1", 100, 100, 0, 0, 50.0) for code in ("A", "B", "C")
    ]).england  # fmt: skip
    assert found.estimate is None and found.reason.startswith("No pupil of the loaded LAs")


def test_an_la_not_loaded_is_expected_to_have_the_loaded_las_share_eligible():
    # Loaded LAs have half their pupils eligible (a measure of some pupils only): D's 200
    # expected pupils count as 100 eligible. Mean change (50·2 + 100·1 + 50·4) / 200 = 2;
    # (50·70 + 100·65 + 50·60 + 100·(70 + 2)) / (200 + 100) = 20200 / 300.
    found = estimate([
        la("A", "R1", 50, 35, 68.0, pupils=100, expected=100),
        la("B", "R1", 100, 65, 64.0, pupils=200, expected=200),
        la("C", "R1", 50, 30, 56.0, pupils=100, expected=100),
        la("D", "R1", 0, 0, 70.0, pupils=0, expected=200),
    ]).england  # fmt: skip
    assert found.estimate == pytest.approx(20200 / 300)
    assert found.coverage == pytest.approx(100 * 400 / 600)


def test_the_mean_change_is_looked_at_after_each_tenth_of_las_never_on_fewer_than_three():
    assert load_steps(153) == [16, 31, 46, 62, 77, 92, 108, 123, 138, 153]
    assert load_steps(30) == [3, 6, 9, 12, 15, 18, 21, 24, 27, 30]
    # Tenths of 10 LAs are one LA each: steps of three, the last all ten (9 would leave 1).
    assert load_steps(10) == [3, 6, 10]
    assert load_steps(4) == [4] and load_steps(3) == [3]
    assert load_steps(2) == [] and load_steps(0) == []
    for m in range(3, 200):
        steps = load_steps(m)
        assert steps[0] >= 3 and steps[-1] == m
        assert all(b - a >= 3 for a, b in zip(steps, steps[1:], strict=False))


def test_the_mean_change_as_las_loaded_in_their_order():
    # In order: A (+2, 100 pupils), E not loaded (skipped), B (+1, 200), C (+4, 100), then
    # F (+10, 100) and G with no figure last year (in no mean change), H (0, 100).
    order = [
        FIVE[0], FIVE[4], FIVE[1], FIVE[2], la("F", "R1", 100, 80, 70.0),
        la("G", "R1", 50, 10, None), la("H", "R1", 100, 50, 50.0),
    ]  # fmt: skip
    # Six loaded: steps 3 and 6. First three: (200 + 200 + 400) / 400 = 2; all six:
    # (800 + 1000 + 0) / 600 = 3.
    assert mean_change_as_loaded(order) == [(3, pytest.approx(2.0)), (6, pytest.approx(3.0))]
    # The same LAs in another order: after three, (1000 + 0 + 200) / 300 = 4; after six, 3.
    again = mean_change_as_loaded([order[4], order[6], order[0], order[2], order[3], order[5]])
    assert again == [(3, pytest.approx(4.0)), (6, pytest.approx(3.0))]
    # No LA with last year's figure: no mean change to show.
    assert mean_change_as_loaded([la(c, "R1", 10, 5, None) for c in "ABC"]) == [(3, None)]


def test_settings_out_of_range_are_refused():
    with pytest.raises(ValueError, match="loaded_share"):
        estimate(FIVE, loaded_share=0)
    with pytest.raises(ValueError, match="level"):
        estimate(FIVE, level=95)


# -- properties of any input ------------------------------------------------------------------


@st.composite
def england(draw, *, every_last_year: bool = True, uniform_change: float | None = None):
    """Up to 12 LAs in up to 3 regions, at least 3 loaded."""
    count = draw(st.integers(3, 12))
    las, loaded_count = [], 0
    for i in range(count):
        n = draw(st.integers(1, 3000))
        k = draw(st.integers(0, n))
        loaded = draw(st.booleans()) or loaded_count < 3 and count - i <= 3 - loaded_count
        loaded_count += loaded
        p = 100 * k / n
        if uniform_change is not None:
            last = p - uniform_change
        elif every_last_year or draw(st.booleans()):
            last = draw(st.floats(0, 100))
        else:
            last = None
        region = f"R{draw(st.integers(1, 3))}"
        las.append((LaFigures(f"L{i}", region, n if loaded else 0, n, n if loaded else 0,
                              k if loaded else 0, last), n, k))  # fmt: skip
    return las


def _final(las) -> float:
    return 100 * sum(k for _, _, k in las) / sum(n for _, n, _ in las)


@settings(max_examples=150, deadline=None)
@given(st.floats(-10, 10), st.data())
def test_when_every_la_changes_alike_the_estimate_is_the_final_figure_at_any_coverage(c, data):
    las = data.draw(england(uniform_change=c))
    found = estimate([f for f, _, _ in las]).england
    assert found.estimate == pytest.approx(_final(las), abs=1e-6)
    assert found.low - 1e-6 <= _final(las) <= found.high + 1e-6


@settings(max_examples=150, deadline=None)
@given(england(every_last_year=False))
def test_with_every_la_loaded_the_estimate_is_the_pooled_figure_with_no_width(las):
    everyone = [LaFigures(f.code, f.region, n, n, n, k, f.last_year) for f, n, k in las]
    found = estimate(everyone).england
    assert found.estimate == pytest.approx(found.pooled) == pytest.approx(_final(las))
    assert found.half_width == 0.0 and found.coverage == 100.0
    assert not found.not_like_the_rest


@settings(max_examples=150, deadline=None)
@given(england(), st.floats(-20, 20))
def test_moving_every_last_years_figure_alike_moves_only_the_mean_change(las, shift):
    figures = [f for f, _, _ in las]
    moved = [LaFigures(f.code, f.region, f.pupils, f.expected, f.eligible, f.met,
                       f.last_year + shift) for f in figures]  # fmt: skip
    a, b = estimate(figures).england, estimate(moved).england
    assert b.estimate == pytest.approx(a.estimate, abs=1e-6)
    assert b.mean_change == pytest.approx(a.mean_change - shift, abs=1e-6)


@settings(max_examples=150, deadline=None)
@given(england())
def test_the_estimate_is_last_years_figure_weighted_plus_the_mean_change(las):
    """The textbook difference estimator, Σw·y / Σw + μ̂, weighting each LA by its pupils
    (loaded) or expected pupils (not yet), is what the page shows."""
    figures = [f for f, _, _ in las]
    found = estimate(figures).england
    weights = [f.eligible if f.pupils else f.expected for f in figures]
    last = sum(w * f.last_year for w, f in zip(weights, figures, strict=True)) / sum(weights)
    assert found.estimate == pytest.approx(min(100, max(0, last + found.mean_change)), abs=1e-6)


def _quasi_binomial_half_width(figures: list[LaFigures]) -> float | None:
    """England's half-width by the issue's formula alone: the quasi-binomial spread between
    LAs, Σ nᵢ(dᵢ − μ̂)² / (m − 1), with the finite-population correction (an oracle written
    apart from the engine)."""
    loaded = [f for f in figures if f.pupils > 0 and f.eligible > 0]
    waiting = [f for f in figures if f.pupils == 0]
    changes = [(f.eligible, 100 * f.met / f.eligible - f.last_year) for f in loaded
               if f.last_year is not None]  # fmt: skip
    eligible = sum(f.eligible for f in loaded)
    r = eligible / sum(f.pupils for f in figures if f.pupils > 0)
    pooled = 100 * sum(f.met for f in loaded) / eligible
    with_last = r * sum(f.expected for f in waiting if f.last_year is not None)
    without = r * sum(f.expected for f in waiting if f.last_year is None)
    if len(changes) < 2:
        with_last, without = 0.0, with_last + without
    variance, dfs = 0.0, []
    if with_last:
        total = sum(n for n, _ in changes)
        mu = sum(n * d for n, d in changes) / total
        phi = sum(n * (d - mu) ** 2 for n, d in changes) / (len(changes) - 1)
        variance += phi * (with_last**2 / total + with_last)
        dfs.append(len(changes) - 1)
    if without:
        phi = sum(f.eligible * (100 * f.met / f.eligible - pooled) ** 2 for f in loaded)
        if len(loaded) < 2:
            return None
        variance += phi / (len(loaded) - 1) * (without**2 / eligible + without)
        dfs.append(len(loaded) - 1)
    if not dfs:
        return 0.0
    return t_quantile(0.975, min(dfs)) * math.sqrt(variance) / (eligible + with_last + without)


@settings(max_examples=150, deadline=None)
@given(england(every_last_year=False), st.integers(2, 5))
def test_the_interval_holds_the_estimate_stays_in_0_100_and_is_never_narrower_than_the_issues(
    las, k
):
    figures = [f for f, _, _ in las]
    found = estimate(figures)
    for area in [found.england, *found.regions.values()]:
        if area.estimate is None:
            assert area.reason
            continue
        assert 0 <= area.low <= area.estimate <= area.high <= 100
        assert (area.pooled_low, area.pooled_high) == wilson_interval(area.met, area.eligible)
    # The quasi-binomial interval of the issue is the narrowest the estimate gives.
    oracle = _quasi_binomial_half_width(figures)
    if found.england.estimate is not None and oracle is not None:
        assert found.england.half_width >= oracle * (1 - 1e-9) - 1e-9
    # Every count k times larger: the same figure (the interval narrows only as far as the
    # spread between LAs allows).
    scaled = [LaFigures(f.code, f.region, k * f.pupils, k * f.expected, k * f.eligible,
                        k * f.met, f.last_year) for f in figures]  # fmt: skip
    big = estimate(scaled).england
    assert big.estimate == pytest.approx(found.england.estimate, abs=1e-6)
    if big.estimate is not None and oracle is not None:
        assert big.half_width >= oracle * (1 - 1e-9) - 1e-9


# -- Student's t by hand (ADR 10) -------------------------------------------------------------


@pytest.mark.parametrize(
    "df, quantile",
    # Two-sided 95% points of Student's t (any statistical table).
    [(1, 12.706), (2, 4.303), (3, 3.182), (5, 2.571), (10, 2.228), (30, 2.042), (100, 1.984),
     (1000, 1.962)],
)  # fmt: skip
def test_t_quantiles_are_the_tables(df, quantile):
    assert round(t_quantile(0.975, df), 3) == quantile
    assert t_quantile(0.025, df) == -t_quantile(0.975, df)
    assert t_cdf(t_quantile(0.975, df), df) == pytest.approx(0.975, abs=1e-12)


def test_the_t_distribution_and_incomplete_beta_at_known_points():
    assert t_cdf(0.0, 7) == 0.5
    # df 1 is the Cauchy distribution: P(T <= 1) = 3/4.
    assert t_cdf(1.0, 1) == pytest.approx(0.75, abs=1e-12)
    # df 2 has a closed form: P(T <= t) = 1/2 + t / (2 sqrt(2 + t²)).
    assert t_cdf(1.5, 2) == pytest.approx(0.5 + 1.5 / (2 * math.sqrt(2 + 2.25)), abs=1e-12)
    assert incomplete_beta(1, 1, 0.3) == pytest.approx(0.3)  # uniform
    assert incomplete_beta(2, 3, 0.4) == pytest.approx(0.5248, abs=1e-12)  # 1 - Σ binomial
    values = [t_cdf(x / 4, 4) for x in range(-40, 41)]
    assert values == sorted(values) and all(0 < v < 1 for v in values)
    with pytest.raises(ValueError):
        t_quantile(1.0, 3)


def test_las_still_to_load_with_no_expected_pupils_known_cannot_be_weighed():
    # A, B, C loaded; D and E to come, neither with expected pupils known (no expected cohort,
    # no pupils last year): the estimate would be the loaded LAs' own figure with no width.
    found = estimate([
        *FIVE[:3], LaFigures("D", "R1", 0, None, 0, 0, 70.0), LaFigures("E", "R1", 0, None, 0, 0, None)
    ]).england  # fmt: skip
    assert found.estimate is None and found.low is None and found.coverage is None
    assert found.reason == (
        "None of the 2 LAs not yet loaded have expected pupils in Keystage (an expected cohort, "
        "or pupils in last year's collection), so what is still to come cannot be weighed: there "
        "is no estimate, only the loaded LAs' own figure."
    )
    assert found.pooled == 65.0 and found.las_loaded == 3
    # One of them known: an estimate again, and a share of the expected pupils.
    known = estimate([*FIVE[:3], LaFigures("D", "R1", 0, 200, 0, 0, 70.0),
                      LaFigures("E", "R1", 0, None, 0, 0, None)]).england  # fmt: skip
    assert known.estimate is not None and known.coverage == pytest.approx(100 * 400 / 600)
