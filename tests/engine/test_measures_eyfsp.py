"""The EYFS profile's measures (spec eyfsp.md §4) on hand-worked children, read through the
CTF reader as a school sends them: a good level of development needs all 12 goals of the prime
areas, literacy and mathematics; children not assessed (A) are left out of every figure; the
average number of goals at expected, each area and each goal; figures by pupil group, summed
across schools, and as DfE publishes them (one decimal place)."""

from __future__ import annotations

import io

import pytest
from tests.builders import ctf, eyfsp_pupil

from keystage.engine import collections as collection_packages
from keystage.engine import definition
from keystage.engine.collections.eyfsp import measures as m
from keystage.engine.measures import MeasureSettingsError
from keystage.engine.readers import open_school_file

pytestmark = pytest.mark.one_pass

D = definition.load("eyfsp-2024")


def judged(*emerging: int, code: str = "1") -> list[str]:
    """17 judgements, expected (2) except the goals numbered in `emerging`."""
    return [code if n in emerging else "2" for n in range(1, 18)]


# Six children of one school, worked by hand (goal numbers as the spec's ELG 01-17):
CHILDREN = [
    judged(),            # 1: all 17 expected: GLD, all goals, 17 at expected
    judged(13, 16),      # 2: emerging in past and present and creating: GLD (13-17 are not in it)
    judged(9),           # 3: emerging in word reading: no GLD (literacy), 16 at expected
    judged(12),          # 4: emerging in numerical patterns: no GLD (maths), 16
    judged(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17),  # 5: emerging in all: 0
    "A",                 # 6: not assessed: left out of every figure
]  # fmt: skip


@pytest.fixture(scope="module")
def school():
    text = ctf([eyfsp_pupil(i, j, year=2024, sex="F" if i % 2 else "M")
                for i, j in enumerate(CHILDREN, 1)])  # fmt: skip
    with open_school_file(io.BytesIO(text.encode()), D, name="9382001_FSP_938LLLL_001.xml") as r:
        return list(r.pupils())


def test_gld_all_goals_and_the_average_worked_by_hand(school):
    found = m.measures(m.count_pupils(school, D), D)
    assert (found["pupils"], found["assessed"], found["not_assessed"], found["unknown"]) == (
        6,
        5,
        1,
        0,
    )
    gld, every = found["rows"]["gld"], found["rows"]["all_goals"]
    assert (gld["eligible"], gld["met"], gld["met_rounded"]) == (5, 2, 40.0)  # children 1 and 2
    assert (every["met"], every["met_rounded"]) == (1, 20.0)  # child 1 only
    # 17 + 15 + 16 + 16 + 0 goals at expected over 5 assessed children.
    assert found["average_goals"] == {"total": 64, "mean": 12.8, "rounded": 12.8}


def test_each_area_and_each_goal(school):
    found = m.measures(m.count_pupils(school, D), D)
    areas = {k: r["met"] for k, r in found["rows"].items() if r["area"]}
    assert areas == {"comm": 4, "pse": 4, "phy": 4, "lit": 3, "maths": 3, "world": 3, "art": 3}
    assert found["rows"]["lit"]["label"] == "Literacy"
    assert found["goals"]["elg09"]["met"] == 3 and found["goals"]["elg09"]["met_percent"] == 60.0
    assert found["goals"]["elg01"]["label"] == "Listening, attention and understanding"


def test_a_record_with_a_goal_missing_or_wrong_is_left_out_until_corrected():
    records = [{f"elg{n:02d}": "2" for n in range(1, 17)},  # ELG 17 missing
               {**{f"elg{n:02d}": "2" for n in range(1, 18)}, "elg03": "E"},
               {f"elg{n:02d}": "2" for n in range(1, 18)}]  # fmt: skip
    counts = m.count_pupils(records, D)
    assert (counts.pupils, counts.assessed, counts.unknown, counts.met["gld"]) == (3, 1, 2, 1)
    # An A anywhere takes a child out as not assessed (the rule asks for A everywhere).
    partly = {**{f"elg{n:02d}": "2" for n in range(1, 18)}, "elg05": "a"}
    assert m.count_pupils([partly], D).not_assessed == 1


def test_an_la_is_the_sum_of_its_schools_and_figures_are_pupil_weighted(school):
    one = m.count_pupils(school, D)
    other = m.count_pupils([dict(zip(m.settings(D).goals, judged(), strict=True))] * 5, D)
    both = one + other
    assert both == sum([one, other])
    found = m.measures(both, D)
    # (2 + 5) of (5 + 5) assessed: 70%, not the mean of 40% and 100%.
    assert found["rows"]["gld"]["met_rounded"] == 70.0
    assert m.from_json(m.to_json(both)) == both


def test_figures_by_pupil_group(school):
    def groups(p):
        return ["all", f"sex:{p.sex}"]

    by = m.count_by_group(school, D, groups)
    assert by["all"] == m.count_pupils(school, D)
    # Girls are children 1, 3, 5: GLD child 1 only; boys 2, 4, 6: child 2 (6 not assessed).
    girls, boys = m.measures(by["sex:F"], D), m.measures(by["sex:M"], D)
    assert (girls["assessed"], girls["rows"]["gld"]["met"]) == (3, 1)
    assert (boys["assessed"], boys["not_assessed"], boys["rows"]["gld"]["met"]) == (2, 1, 1)


def test_percentages_are_published_to_one_decimal_place_half_up():
    goals = m.settings(D).goals
    at = dict.fromkeys(goals, "2")
    below = {**at, "elg10": "1"}
    # 2 of 3: 66.666... -> 66.7; 1 of 8: 12.5 -> 12.5; 1 of 16: 6.25 -> 6.3 (half up)
    for met, n, shown in ((2, 3, 66.7), (1, 8, 12.5), (1, 16, 6.3)):
        found = m.measures(m.count_pupils([at] * met + [below] * (n - met), D), D)
        assert found["rows"]["gld"]["met_rounded"] == shown


def test_the_ees_row_and_the_headlines(school):
    counts = m.count_pupils(school, D)
    row = m.ees_row(counts, D)
    assert (row["t_eyfsp_gld_eligible"], row["t_eyfsp_gld_met"], row["pt_eyfsp_gld_met"]) == (
        5,
        2,
        40.0,
    )
    assert row["avg_eyfsp_goals_at_expected"] == 12.8 and row["t_eyfsp_all_not_assessed"] == 1
    assert "t_eyfsp_all_not_assessed" not in m.ees_row(counts, D, keystage_columns=False)
    assert m.headlines(counts, D) == [
        ("Children", "6 children, 5 assessed (1 not assessed)"),
        ("Good level of development", "2 of 5 (40.0%)"),
        ("Expected in all 17 goals", "1 of 5 (20.0%)"),
        ("Average number of goals at the expected level", "12.8"),
    ]


def test_nobody_assessed_has_no_percentages():
    found = m.measures(m.count_pupils([dict.fromkeys(m.settings(D).goals, "A")], D), D)
    assert found["rows"]["gld"]["met_percent"] is None and found["average_goals"]["mean"] is None


def test_the_collection_package_answers_for_the_definition():
    assert collection_packages.module_of(D, "measures") is m
    assert m.needs(D).last_year is None and m.needs(D).other_collection is None


@pytest.mark.parametrize(
    "change, words",
    [(lambda raw: raw["measures"].update(gld_areas=["comm", "music"]), "gld_areas names music"),
     (lambda raw: raw["areas"][0].update(goals=["elg01", "elg99"]), "area 'comm' names elg99"),
     (lambda raw: raw["areas"][1].update(goals=["elg02", "elg03", "elg04", "elg05"]),
      "goal 'elg02' is in 2 areas"),
     (lambda raw: raw["codes"].pop("expected"), "[codes] expected")],
    ids=["unknown gld area", "unknown goal", "goal in two areas", "no expected code"],
)  # fmt: skip
def test_a_measures_table_that_cannot_be_used_is_refused_saying_what_to_fix(change, words):
    import copy

    raw = copy.deepcopy(D.raw)
    change(raw)
    d = definition.parse_definition(raw, source="eyfsp-test.toml")
    with pytest.raises(MeasureSettingsError) as e:
        m.settings(d)
    assert words in str(e.value) and "eyfsp-test.toml" in str(e.value)


def test_the_published_trend_marks_the_older_framework_not_comparable():
    from keystage.engine.collections.eyfsp import reports

    trend = reports.published_trend("national", "970")
    assert [(r["year"], r["comparable"]) for r in trend] == [
        *((y, False) for y in range(2015, 2020)), *((y, True) for y in range(2022, 2026)),
    ]  # fmt: skip
    # Spec eyfsp.md §4: England GLD 2022-2025 65.2, 67.2, 67.7, 68.3; average goals 14.1.
    assert [r["gld"] for r in trend if r["comparable"]] == [65.2, 67.2, 67.7, 68.3]
    assert {r["average_goals"] for r in trend if r["comparable"]} == {14.1}
    assert all(r["average_goals"] is None for r in trend if not r["comparable"])
    rows = {key for key, _, _ in reports.report_subjects(D)}
    assert {row for row, _ in reports.PUBLISHED_COLUMNS} == rows
