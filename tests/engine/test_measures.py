"""Measures: hand-worked cohorts, pupil-weighted sums, rounding half up, the Wilson interval,
properties of any cohort, and DfE's published 2023 LA, regional and national figures rebuilt
from synthetic school files read with the project's readers."""

from __future__ import annotations

import copy
import dataclasses
from collections import defaultdict

import pytest
from bench import measures_national as national
from hypothesis import given, settings
from hypothesis import strategies as st

from keystage.engine import definition
from keystage.engine.collections.ks1 import synthetic
from keystage.engine.measures import (
    UNKNOWN,
    Counts,
    MeasureSettingsError,
    count_pupils,
    ees_row,
    measures,
    percent,
    rounded,
    wilson_interval,
)
from keystage.engine.records import PupilRecord
from keystage.reference import local_authorities

D = definition.load()
SUBJECTS = ("reading", "writing", "maths", "science")


def cohort(*rows: str) -> list[dict[str, str]]:
    """Pupils from rows of "reading writing maths science" codes; "-" leaves a subject out."""
    pupils = []
    for row in rows:
        codes = row.split()
        pupils.append({k: c for k, c in zip(SUBJECTS, codes, strict=True) if c != "-"})
    return pupils


def with_measures(**changes) -> definition.Definition:
    """The shipped definition with some [measures] settings changed."""
    raw = copy.deepcopy(D.raw)
    raw["measures"].update(changes)
    return definition.parse_definition(raw, source="test")


# -- a hand-worked class of 10 -------------------------------------------------------------------
#      reading writing maths science
CLASS = cohort(
    "GDS GDS GDS EXS",  # 1: all at greater depth in R, W and M
    "GDS EXS GDS EXS",  # 2
    "EXS EXS EXS EXS",  # 3
    "EXS WTS EXS EXS",  # 4: writing below: not in the combined measure
    "exs EXS WTS HNM",  # 5: lower case, still EXS
    "WTS PK4 EXS HNM",  # 6
    "PK2 PK1 PK3 HNM",  # 7
    "EM EM EM HNM",  # 8
    "A A A A",  # 9: absent: eligible, counts against every percentage
    "Q EXS GDS Q",  # 10: maladministration in reading and science: eligible, not met
)


def test_hand_worked_class_counts():
    c = count_pupils(CLASS, D)
    assert c.pupils == 10
    assert c.codes["reading"] == {"GDS": 2, "EXS": 3, "WTS": 1, "PK2": 1, "EM": 1, "A": 1, "Q": 1}
    assert c.codes["writing"] == {"GDS": 1, "EXS": 4, "WTS": 1, "PK4": 1, "PK1": 1, "EM": 1, "A": 1}
    assert c.codes["maths"] == {"GDS": 3, "EXS": 3, "WTS": 1, "PK3": 1, "EM": 1, "A": 1}
    assert c.codes["science"] == {"EXS": 4, "HNM": 4, "A": 1, "Q": 1}
    # Combined: pupils 1, 2 and 3 have EXS+ in all three; only pupil 1 has GDS in all three.
    assert (c.combined_eligible, c.combined_met, c.combined_higher) == (10, 3, 1)


def test_hand_worked_class_percentages():
    m = measures(count_pupils(CLASS, D), D)
    assert m["pupils"] == 10
    r, w, ma, sc = (m["subjects"][k] for k in SUBJECTS)
    # Reading: 2 GDS + 3 EXS = 5 of 10 eligible. The absent pupil and the Q pupil are in the
    # denominator: 5/10 = 50%, not 5/8 = 62.5%.
    assert (r["eligible"], r["met"], r["met_percent"]) == (10, 5, 50.0)
    assert (r["higher"], r["higher_percent"]) == (2, 20.0)
    assert (w["eligible"], w["met"], w["met_percent"], w["higher"], w["higher_percent"]) == (
        10, 5, 50.0, 1, 10.0,
    )  # fmt: skip
    assert (ma["eligible"], ma["met"], ma["met_percent"], ma["higher"], ma["higher_percent"]) == (
        10, 6, 60.0, 3, 30.0,
    )  # fmt: skip
    # Science: EXS is met; no greater depth; HNM, A and Q are eligible and not met: 4/10.
    assert (sc["eligible"], sc["met"], sc["met_percent"]) == (10, 4, 40.0)
    assert sc["higher"] is None and sc["higher_percent"] is None
    reading_codes = {code: v["count"] for code, v in r["codes"].items()}
    assert reading_codes == {
        "GDS": 2, "EXS": 3, "WTS": 1, "PK4": 0, "PK3": 0, "PK2": 1, "PK1": 0, "EM": 1, "A": 1,
        "Q": 1, UNKNOWN: 0,
    }  # fmt: skip
    assert {code: v["percent"] for code, v in r["codes"].items()} == {
        "GDS": 20.0, "EXS": 30.0, "WTS": 10.0, "PK4": 0.0, "PK3": 0.0, "PK2": 10.0, "PK1": 0.0,
        "EM": 10.0, "A": 10.0, "Q": 10.0, UNKNOWN: 0.0,
    }  # fmt: skip
    assert list(sc["codes"]) == ["EXS", "HNM", "A", "Q", UNKNOWN]
    assert sc["codes"]["HNM"] == {"count": 4, "percent": 40.0}
    assert sc["codes"]["A"] == {"count": 1, "percent": 10.0}
    assert m["combined"] == {
        "subjects": ["reading", "writing", "maths"],
        "eligible": 10,
        "met": 3,
        "met_percent": 30.0,
        "higher": 1,
        "higher_percent": 10.0,
    }


def test_hand_worked_class_ees_row():
    row = ees_row(count_pupils(CLASS, D), D)
    assert row == {
        "t_readta_eligible_pupils": 10,
        "t_readta_met_expected_standard": 5,
        "t_readta_met_higher_standard": 2,
        "t_readta_working_towards_expected_standard": 1,
        "t_readta_pre_key_stage_standard_1": 0,
        "t_readta_pre_key_stage_standard_2": 1,
        "t_readta_pre_key_stage_standard_3": 0,
        "t_readta_pre_key_stage_standard_4": 0,
        "t_readta_engagement_model_or_below_pre_key_stage_standards": 1,
        "t_readta_absent": 1,
        "t_readta_maladministration": 1,
        "t_readta_unknown": 0,
        "t_writta_eligible_pupils": 10,
        "t_writta_met_expected_standard": 5,
        "t_writta_met_higher_standard": 1,
        "t_writta_working_towards_expected_standard": 1,
        "t_writta_pre_key_stage_standard_1": 1,
        "t_writta_pre_key_stage_standard_2": 0,
        "t_writta_pre_key_stage_standard_3": 0,
        "t_writta_pre_key_stage_standard_4": 1,
        "t_writta_engagement_model_or_below_pre_key_stage_standards": 1,
        "t_writta_absent": 1,
        "t_writta_maladministration": 0,
        "t_writta_unknown": 0,
        "t_matta_eligible_pupils": 10,
        "t_matta_met_expected_standard": 6,
        "t_matta_met_higher_standard": 3,
        "t_matta_working_towards_expected_standard": 1,
        "t_matta_pre_key_stage_standard_1": 0,
        "t_matta_pre_key_stage_standard_2": 0,
        "t_matta_pre_key_stage_standard_3": 1,
        "t_matta_pre_key_stage_standard_4": 0,
        "t_matta_engagement_model_or_below_pre_key_stage_standards": 1,
        "t_matta_absent": 1,
        "t_matta_maladministration": 0,
        "t_matta_unknown": 0,
        "t_scita_eligible_pupils": 10,
        "t_scita_met_expected_standard": 4,
        "t_scita_has_not_met_expected_standard": 4,
        "t_scita_absent": 1,
        "t_scita_maladministration": 1,
        "t_scita_unknown": 0,
        "t_rwm_eligible_pupils": 10,
        "t_rwm_met_expected_standard": 3,
        "t_rwm_met_higher_standard": 1,
    }
    dfe_only = ees_row(count_pupils(CLASS, D), D, keystage_columns=False)
    assert "t_readta_maladministration" not in dfe_only and "t_scita_unknown" not in dfe_only
    assert len(dfe_only) == len(row) - 8


def test_the_ees_columns_name_every_column_of_the_row_in_its_order():
    from keystage.engine.collections.ks1 import measures as ks1

    for keystage_columns in (True, False):
        row = ees_row(count_pupils(CLASS, D), D, keystage_columns=keystage_columns)
        columns = ks1.ees_columns(D, keystage_columns=keystage_columns)
        assert [c.name for c in columns] == list(row)
    columns = {c.name: c for c in ks1.ees_columns(D, keystage_columns=False)}
    assert len({c.label for c in columns.values()}) == len(columns)  # EES wants labels unique
    reading = columns["t_readta_pre_key_stage_standard_1"]
    assert (reading.label, reading.grouping, reading.unit, reading.dp, reading.of) == (
        "English reading: pre key stage standard 1", "English reading", "", 0, None)  # fmt: skip
    assert columns["t_rwm_met_higher_standard"].label == (
        "Reading, writing and maths combined: met higher standard"
    )


def test_pupil_records_count_like_mappings():
    records = [PupilRecord(line=i + 2, outcomes=dict(p)) for i, p in enumerate(CLASS)]
    assert count_pupils(records, D) == count_pupils(CLASS, D)
    assert count_pupils(iter(records), D) == count_pupils(CLASS, D)  # a stream is enough


def test_missing_blank_and_invalid_codes_are_unknown_and_eligible():
    pupils = [
        {"reading": "EXS", "writing": "EXS", "maths": "EXS", "science": "EXS"},
        {"reading": "", "writing": "  ", "maths": "EXS", "science": "GDS"},  # GDS: not science
        {"reading": "HNM", "writing": "D", "maths": "EXS", "science": "WTS"},  # 2023-invalid
        {"maths": "  gds "},  # reading, writing and science missing
    ]
    m = measures(count_pupils(pupils, D), D)
    r = m["subjects"]["reading"]
    # 1 met of 4 eligible: the 3 unknown count against the percentage, never as met.
    assert (r["eligible"], r["met"], r["met_percent"]) == (4, 1, 25.0)
    assert r["codes"][UNKNOWN] == {"count": 3, "percent": 75.0}
    assert m["subjects"]["science"]["codes"][UNKNOWN]["count"] == 3
    assert m["subjects"]["maths"]["met"] == 4 and m["subjects"]["maths"]["higher"] == 1
    assert (m["combined"]["eligible"], m["combined"]["met"]) == (4, 1)


def test_the_definition_decides_who_is_eligible():
    # Taking A out of the denominator (as some other measure might): reading is 5 of 9.
    d = with_measures(not_eligible=["A"])
    m = measures(count_pupils(CLASS, d), d)
    r = m["subjects"]["reading"]
    assert (r["eligible"], r["met"]) == (9, 5)
    assert r["met_percent"] == pytest.approx(55.5556, abs=1e-4)
    assert r["codes"]["A"] == {"count": 1, "percent": None}
    assert m["combined"]["eligible"] == 9 and m["combined"]["met"] == 3
    # Unknown codes left out of the denominator: only the one pupil with a reading code counts.
    d = with_measures(unknown_eligible=False)
    m = measures(count_pupils([{"reading": "EXS"}, {"reading": "EXP"}, {}], d), d)
    assert (m["subjects"]["reading"]["eligible"], m["subjects"]["reading"]["met_percent"]) == (
        1,
        100.0,
    )
    assert m["combined"]["eligible"] == 0 and m["combined"]["met_percent"] is None


def test_a_code_in_no_bucket_or_two_is_refused():
    raw = copy.deepcopy(D.raw)
    raw["measures"]["buckets"]["absent"] = []
    with pytest.raises(MeasureSettingsError, match="reading code A is counted in no bucket"):
        count_pupils(CLASS, definition.parse_definition(raw))
    raw = copy.deepcopy(D.raw)
    raw["measures"]["buckets"]["absent"] = ["A", "EXS"]
    with pytest.raises(MeasureSettingsError, match="EXS is counted in absent and met"):
        ees_row(Counts(), definition.parse_definition(raw))
    raw = copy.deepcopy(D.raw)
    del raw["measures"]
    with pytest.raises(MeasureSettingsError, match=r"no \[measures\] table"):
        measures(Counts(), definition.parse_definition(raw))


def test_nobody_to_count():
    m = measures(count_pupils([], D), D)
    assert m["pupils"] == 0
    assert m["subjects"]["reading"]["met_percent"] is None
    assert m["combined"]["met_percent"] is None
    assert count_pupils([], D) == Counts()


# -- adding counts: pupil-weighted ----------------------------------------------------------------
def test_school_plus_school_is_the_la_pupil_weighted():
    # A small school with 9 of 10 at EXS+ (90%) and a bigger one with 15 of 30 (50%).
    small = cohort(*["EXS EXS EXS EXS"] * 9, "WTS WTS WTS HNM")
    big = cohort(*["EXS EXS EXS EXS"] * 15, *["WTS WTS WTS HNM"] * 14, "A A A A")
    la = count_pupils(small, D) + count_pupils(big, D)
    assert la == count_pupils(small + big, D)
    reading = measures(la, D)["subjects"]["reading"]
    # 24 of 40 = 60%; the mean of the schools' percentages would be (90 + 50) / 2 = 70%.
    assert (reading["eligible"], reading["met"], reading["met_percent"]) == (40, 24, 60.0)
    assert la.codes["reading"] == {"EXS": 24, "WTS": 15, "A": 1}
    assert la.combined_met == 24
    assert sum([count_pupils(small, D), count_pupils(big, D)]) == la  # sum() starts from 0


def test_adding_keeps_every_count():
    a = count_pupils(CLASS[:4], D)
    b = count_pupils(CLASS[4:], D)
    assert a + b == b + a == count_pupils(CLASS, D)
    assert a + Counts() == a
    assert (a + b).at("reading", "Q") == 1 and a.at("reading", "Q") == 0
    with pytest.raises(TypeError):
        a + 1  # noqa: B018 - the error is the point


# -- rounding ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (68.5, 69), (0.5, 1), (1.5, 2), (2.5, 3), (67.5, 68), (68.49, 68), (99.5, 100),
        (0.0, 0), (100.0, 100), (0.49999999999999994, 0), (-2.5, -3),
    ],
)  # fmt: skip
def test_rounded_half_up(value, expected):
    assert rounded(value) == expected
    assert isinstance(rounded(value), int)


def test_rounded_is_not_bankers_rounding():
    assert round(68.5) == 68 and rounded(68.5) == 69
    assert round(0.5) == 0 and rounded(0.5) == 1
    assert rounded(percent(137, 200)) == 69  # exactly 68.5%
    assert rounded(percent(1, 8), 1) == 12.5 and rounded(percent(1, 16), 1) == 6.3  # 6.25
    assert rounded(None) is None


# -- the Wilson interval -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table II,
        # method 3 (Wilson score, no continuity correction).
        (81, 263, 25.53, 36.62),
        (15, 148, 6.24, 16.05),
        (0, 20, 0.0, 16.11),
        (1, 29, 0.61, 17.18),
        # Worked by hand: z² = 3.8416; for 0/10 the centre and half-width are both 0.19208/1.38416.
        (0, 10, 0.0, 27.75),
        (5, 10, 23.66, 76.34),
        (10, 10, 72.25, 100.0),
    ],
)
def test_wilson_interval_known_values(k, n, low, high):
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=0.006) and hi == pytest.approx(high, abs=0.006)


def test_wilson_interval_edges():
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
    with pytest.raises(ValueError):
        wilson_interval(-1, 2)
    narrow = wilson_interval(60, 100, z=1.0)
    wide = wilson_interval(60, 100)
    assert wide[0] < narrow[0] < 60 < narrow[1] < wide[1]


@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_bounds_solve_the_score_equation(kn):
    # The bounds are where |p̂ - p| = z * sqrt(p(1 - p) / n), with p̂ inside them.
    k, n = kn
    lo, hi = wilson_interval(k, n)
    assert 0 <= lo <= 100 * k / n <= hi <= 100
    z = 1.96
    for bound in (lo / 100, hi / 100):
        if 0 < bound < 1:
            gap = abs(k / n - bound) - z * (bound * (1 - bound) / n) ** 0.5
            assert abs(gap) < 1e-9


# -- properties of any cohort --------------------------------------------------------------------
_ANY_CODE = st.sampled_from(
    ["GDS", "EXS", "WTS", "PK4", "PK3", "PK2", "PK1", "EM", "HNM", "A", "Q", "", " exs", "gds ",
     "EXP", "D", "BLW"]
)  # fmt: skip
_PUPIL = st.dictionaries(st.sampled_from(SUBJECTS), _ANY_CODE)
_COHORT = st.lists(_PUPIL, max_size=40)


@settings(max_examples=200, deadline=None)
@given(_COHORT, st.integers(0, 40))
def test_any_cohort(pupils, cut):
    counts = count_pupils(pupils, D)
    m = measures(counts, D)
    assert counts == count_pupils(pupils[:cut], D) + count_pupils(pupils[cut:], D)
    for key in SUBJECTS:
        s = m["subjects"][key]
        assert sum(counts.codes.get(key, {}).values()) == counts.pupils == s["eligible"]
        assert sum(v["count"] for v in s["codes"].values()) == counts.pupils
        shares = [s["met_percent"], s["higher_percent"]]
        shares += [v["percent"] for v in s["codes"].values()]
        for share in shares:
            assert share is None or 0 <= share <= 100
        if s["higher"] is not None:
            assert s["met"] >= s["higher"]
    c = m["combined"]
    assert c["met"] >= c["higher"]
    for key in c["subjects"]:
        s = m["subjects"][key]
        assert c["met"] <= s["met"] and c["higher"] <= s["higher"]
        if c["met_percent"] is not None:
            assert c["met_percent"] <= s["met_percent"]
    if counts.pupils == 0:
        assert c["met_percent"] is None


@given(st.integers(1, 100_000).flatmap(lambda d: st.tuples(st.integers(0, d), st.just(d))))
def test_rounded_percent_is_exact_half_up(nd):
    n, d = nd
    # Half up on the exact fraction, in integers: floor(100n/d + 1/2) = (200n + d) // 2d.
    assert rounded(percent(n, d)) == (200 * n + d) // (2 * d)


# -- DfE's published 2023 figures, rebuilt from synthetic files read with the readers ------------
# Every LA, region and England is bench/measures_national.py (a benchmark: about 100 s of both
# cores). The suite checks the same way on a sample: the LA with the fewest schools in each
# region, and the two LAs DfE does not publish, written as school files and read back.
def _sample() -> list[str]:
    smallest: dict[str, str] = {}
    for la in local_authorities():
        best = smallest.get(la.region)
        if best is None or synthetic._schools_in(la.code) < synthetic._schools_in(best):
            smallest[la.region] = la.code
    return sorted({*smallest.values(), "201", "420"})


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return national.count_las(tmp_path_factory.mktemp("national"), _sample(), workers=1)


def test_a_sample_of_las_matches_dfe_published_2023_figures(sample):
    published = synthetic.published_targets()
    assert "201" not in published and "420" not in published  # suppressed by DfE
    assert len(published) == 151
    assert len({la.region for la in local_authorities() if la.code in sample}) == 9
    assert national.la_failures(sample) == []


def test_the_check_finds_an_la_that_differs(sample):
    la = next(code for code in sample if code in synthetic.published_targets())
    generated, at_once, schools = sample[la]
    fewer = dataclasses.replace(at_once, pupils=at_once.pupils - 1)
    wrong = national.la_failures({la: (generated, fewer, schools)})
    assert f"LA {la}: its schools do not add up to the LA" in wrong
    assert f"LA {la}: {generated} pupils generated, {generated - 1} read back" in wrong
    # No pupil at the expected standard in reading: the LA's reading figure is not DfE's.
    codes = copy.deepcopy(at_once.codes)
    reading = codes["reading"]
    reading["WTS"] = reading.get("WTS", 0) + reading.pop("EXS", 0) + reading.pop("GDS", 0)
    worse = dataclasses.replace(at_once, codes=codes)
    (wrong,) = national.la_failures({la: (generated, worse, [worse])})
    assert wrong.startswith(f"LA {la}: ours {{'read_exs': 0, 'read_gds': 0,")


def test_areas_are_pupil_weighted_sums_of_their_las(sample):
    region_of = {la.code: la.region for la in local_authorities()}
    regions: dict[str, Counts] = defaultdict(Counts)
    for la, (_, at_once, _) in sample.items():
        regions[region_of[la]] += at_once
    total = sum(regions.values())
    # Another grouping of the same pupils (all schools directly) gives the same counts.
    assert sum(s for _, _, schools in sample.values() for s in schools) == total
    # Pupil-weighted: the total's reading figure is total met over total eligible, which is
    # not the mean of the LAs' percentages.
    reading = measures(total, D)["subjects"]["reading"]
    assert reading["met_percent"] == 100 * reading["met"] / reading["eligible"]
    la_mean = sum(
        measures(c, D)["subjects"]["reading"]["met_percent"] for _, c, _ in sample.values()
    ) / len(sample)
    assert la_mean != pytest.approx(reading["met_percent"], abs=1e-6)
    combined = measures(total, D)["combined"]
    # DfE publishes no KS1 combined figure; about 56% is quoted (spec §7). A sanity range only.
    lowest = min(v for k, v in national.our_figures(total).items() if k.endswith("_exs"))
    assert 45 <= combined["met_percent"] <= lowest
