"""Phonics measures (spec phonics.md §5) on hand-worked cohorts: Year 1 around the threshold with
every outcome code, the Year 2 re-check, by the end of Year 2 across two years under both of
DfE's rules for the Year 2 cohort, the threshold not yet published, the mark distribution,
school + school = LA, pupil groups, the settings in the definition and the entry point every
collection's measures share. No database."""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import inspect
import io
import json

import pytest

from keystage.engine import definition
from keystage.engine import measures as shared
from keystage.engine.collections import module_of, packages
from keystage.engine.collections.phonics import measures as phonics
from keystage.engine.measures import MeasureSettingsError, Needs
from keystage.engine.readers import open_school_file
from keystage.engine.records import PupilRecord

pytestmark = pytest.mark.one_pass

P2023 = definition.load("phonics-2023")
P2024 = definition.load("phonics-2024")
AFTER = dt.date(2023, 7, 1)  # the 2023 threshold was published on 26 June 2023
BEFORE = dt.date(2023, 6, 25)


def pupil(upn: str, nc_year: str, mark: str = "", code: str = "", sex: str = "", fsm=""):
    outcomes = {k: v for k, v in (("mark", mark), ("psc_code", code)) if v}
    return PupilRecord(line=0, upn=upn, nc_year=nc_year, sex=sex, outcomes=outcomes,
                       characteristics={"fsm": fsm} if fsm else {})  # fmt: skip


# -- Year 1: a hand-worked class of 12 ---------------------------------------------------------
YEAR1 = [
    pupil("Y101", "1", "40", sex="F", fsm="Y"),  # met
    pupil("Y102", "1", "32", sex="F"),  # met: exactly the threshold
    pupil("Y103", "1", "32", "Wa", sex="M"),  # met ("working at" beside the mark is not counted)
    pupil("Y104", "1", "31", sex="M", fsm="Y"),  # working towards: one below the threshold
    pupil("Y105", "1", "0", sex="M"),  # working towards
    pupil("Y106", "1", code="A", sex="F"),  # absent: eligible, not met
    pupil("Y107", "1", code="d", sex="M"),  # disapplied (lower case as written)
    pupil("Y108", "1", code="L", sex="F"),  # left before the check: not eligible
    pupil("Y109", "1", code="Q", sex="M"),  # maladministration: eligible, not met (uncertain)
    pupil("Y110", "1", sex="F"),  # nothing given: unknown, eligible
    pupil("Y111", "1", "41", sex="F"),  # a mark out of range: unknown
    pupil("Y112", "1", code="Wt", sex="M"),  # "working towards" alone, no mark: unknown
]


def test_year_1_counts_every_pupil_in_one_bucket_and_shares_of_eligible_pupils():
    counts = phonics.count_pupils(YEAR1, P2023)
    y1 = phonics.measures(counts, P2023, as_of=AFTER)["groups"]["y1"]
    assert y1["pupils"] == 12
    assert y1["not_eligible"] == 1  # L
    assert y1["eligible"] == 11
    assert {name: b["count"] for name, b in y1["buckets"].items()} == {
        "eligible_pupils": 11,
        "met_expected_standard": 3,
        "working_towards_expected_standard": 2,
        "absent": 1,
        "disapplied": 1,
        "left": 1,  # counted, out of the eligible pupils
        "maladministration": 1,
        "unknown": 3,
    }
    assert y1["buckets"]["left"]["percent"] is None
    assert y1["met"] == 3
    assert y1["met_percent"] == pytest.approx(100 * 3 / 11)  # 27.27...
    assert y1["met_rounded"] == 27
    assert y1["buckets"]["working_towards_expected_standard"]["rounded"] == 18  # 2/11 = 18.18
    assert y1["buckets"]["absent"]["rounded"] == 9  # 1/11 = 9.09
    assert y1["buckets"]["unknown"]["rounded"] == 27
    assert y1["buckets"]["eligible_pupils"]["percent"] is None
    assert y1["reason"] is None


@pytest.mark.parametrize("mark", ["²", "٣٢", "３２", "40.0", "-1"])
def test_a_mark_not_written_in_the_digits_0_to_9_is_unknown(mark):
    counts = phonics.count_pupils([pupil("Y101", "1", mark)], P2023)
    y1 = phonics.measures(counts, P2023, as_of=AFTER)["groups"]["y1"]
    assert (y1["buckets"]["unknown"]["count"], y1["met"]) == (1, 0)
    assert y1["distribution"]["pupils"] == 0


def test_the_mark_distribution_counts_pupils_at_each_mark_with_the_threshold():
    counts = phonics.count_pupils(YEAR1, P2023)
    found = phonics.measures(counts, P2023, as_of=AFTER)["groups"]["y1"]["distribution"]
    assert list(found["marks"]) == list(range(41))  # 0 to 40, every mark
    assert {m: n for m, n in found["marks"].items() if n} == {0: 1, 31: 1, 32: 2, 40: 1}
    assert found["pupils"] == 5  # the pupils with a mark in range
    assert found["threshold"] == 32


def test_before_the_threshold_is_published_met_figures_say_so_and_marks_are_shown():
    counts = phonics.count_pupils(YEAR1, P2023)
    y1 = phonics.measures(counts, P2023, as_of=BEFORE)["groups"]["y1"]
    reason = "the threshold is not yet published; it will be on 26 June 2023"
    assert y1["reason"] == reason
    assert y1["met"] is None and y1["met_percent"] is None and y1["met_rounded"] is None
    assert y1["buckets"]["working_towards_expected_standard"]["count"] is None
    assert all(b["percent"] is None for b in y1["buckets"].values())
    # What does not depend on the threshold is still there.
    assert y1["eligible"] == 11
    assert y1["buckets"]["absent"]["count"] == 1
    assert y1["buckets"]["unknown"]["count"] == 3
    assert {m: n for m, n in y1["distribution"]["marks"].items() if n} == {
        0: 1, 31: 1, 32: 2, 40: 1,
    }  # fmt: skip
    assert y1["distribution"]["threshold"] is None  # no line drawn before it is published
    row = phonics.ees_row(counts, P2023, keystage_columns=False, as_of=BEFORE)
    assert row["t_phonics_y1_eligible_pupils"] == 11
    assert row["t_phonics_y1_absent"] == 1
    assert row["t_phonics_y1_met_expected_standard"] is None
    assert row["pt_phonics_y1_met_expected_standard"] is None
    assert row["pt_phonics_y1_absent"] is None
    # On the day it is published the figures appear.
    on_the_day = phonics.measures(counts, P2023, as_of=dt.date(2023, 6, 26))["groups"]["y1"]
    assert on_the_day["met"] == 3 and on_the_day["reason"] is None


def test_the_ees_row_has_the_definitions_column_names_and_dfe_rounding():
    # 1 of 8 eligible pupils met: 12.5%, which DfE publishes as 13 (round() would give 12).
    school = [pupil(f"R{i}", "1", "35" if i == 0 else "10") for i in range(8)]
    row = phonics.ees_row(phonics.count_pupils(school, P2023), P2023, as_of=AFTER)
    assert row["t_phonics_y1_eligible_pupils"] == 8
    assert row["t_phonics_y1_met_expected_standard"] == 1
    assert row["t_phonics_y1_working_towards_expected_standard"] == 7
    assert row["pt_phonics_y1_met_expected_standard"] == 13
    assert row["pt_phonics_y1_working_towards_expected_standard"] == 88  # 87.5
    assert row["t_phonics_y1_unknown"] == 0  # Keystage's own columns, unless left out
    assert "pt_phonics_y1_eligible_pupils" not in row
    dfe = phonics.ees_row(phonics.count_pupils(school, P2023), P2023, keystage_columns=False,
                          as_of=AFTER)  # fmt: skip
    assert not [c for c in dfe if c.endswith(("_maladministration", "_unknown"))]
    assert [c for c in dfe if c.startswith("t_phonics_y1_")] == [
        "t_phonics_y1_eligible_pupils",
        "t_phonics_y1_met_expected_standard",
        "t_phonics_y1_working_towards_expected_standard",
        "t_phonics_y1_absent",
        "t_phonics_y1_disapplied",
    ]
    # Without last year's results "by the end of Year 2" has its columns, every one empty.
    assert dfe["t_phonics_by_end_y2_eligible_pupils"] is None
    assert dfe["pt_phonics_by_end_y2_met_expected_standard"] is None


# -- Year 2 and by the end of Year 2 -----------------------------------------------------------
# Last year's (2022) Year 1 results, by UPN.
LAST_YEAR = {
    "MET1": {"mark": "35"},  # met in Year 1: not checked again
    "MET1B": {"mark": "33"},  # met in Year 1, checked again by mistake and below: still met
    "FAIL1": {"mark": "20"},  # below in Year 1, met in the re-check
    "FAIL2": {"mark": "25"},  # below in Year 1 and again in the re-check
    "ABS1": {"psc_code": "A"},  # absent in Year 1, disapplied in Year 2
    "FAIL3": {"mark": "12"},  # below in Year 1, no re-check result this year
    "MOVED": {"mark": "36"},  # met in Year 1 here; not in this school's KS1 cohort this year
}
# This year's Year 2 re-check records.
YEAR2 = [
    pupil("MET1B", "2", "30", sex="F"),
    pupil("FAIL1", "2", "34", sex="M"),
    pupil("FAIL2", "2", "28", sex="F"),
    pupil("ABS1", "2", code="D", sex="M"),
    pupil("NOTKS1", "2", "33", sex="F"),  # re-checked, but has no KS1 result this year
]
# The school's KS1 2023 pupils: DfE's Year 2 cohort in 2023. NONE1 has neither result.
KS1_COHORT = [
    PupilRecord(line=0, upn=u, sex=s)
    for u, s in (("MET1", "F"), ("MET1B", "F"), ("FAIL1", "M"), ("FAIL2", "F"),
                 ("ABS1", "M"), ("FAIL3", "M"), ("NONE1", "F"))
]  # fmt: skip


def test_the_year_2_re_check_counts_this_years_year_2_pupils():
    counts = phonics.count_pupils(YEAR2, P2023)
    y2 = phonics.measures(counts, P2023, as_of=AFTER)["groups"]["y2"]
    assert y2["eligible"] == 5
    assert y2["met"] == 2  # FAIL1 34, NOTKS1 33
    assert y2["buckets"]["working_towards_expected_standard"]["count"] == 2  # 30, 28
    assert y2["buckets"]["disapplied"]["count"] == 1
    assert y2["met_rounded"] == 40
    assert {m: n for m, n in y2["distribution"]["marks"].items() if n} == {
        28: 1, 30: 1, 33: 1, 34: 1,
    }  # fmt: skip
    assert phonics.measures(counts, P2023, as_of=AFTER)["groups"]["y1"]["eligible"] == 0


def test_by_the_end_of_year_2_in_2023_the_cohort_is_the_ks1_pupils():
    counts = phonics.count_pupils(YEAR2, P2023, last_year=LAST_YEAR, other_collection=KS1_COHORT)
    found = phonics.measures(counts, P2023, as_of=AFTER)["groups"]["by_end_y2"]
    # MET1 and MET1B met in Year 1, FAIL1 in Year 2; FAIL2 (Year 2) and FAIL3 (Year 1, no
    # re-check) are below; ABS1 disapplied in Year 2; NONE1 has neither result: unknown.
    # MOVED and NOTKS1 are not in the KS1 cohort.
    assert found["eligible"] == 7
    assert {name: b["count"] for name, b in found["buckets"].items()} == {
        "eligible_pupils": 7,
        "met_expected_standard": 3,
        "working_towards_expected_standard": 2,
        "absent": 0,
        "disapplied": 1,
        "left": 0,
        "maladministration": 0,
        "unknown": 1,
    }
    assert found["met_rounded"] == 43  # 3/7 = 42.86
    assert found["distribution"] is None
    # UPNs alone do as well as records.
    by_upn = phonics.count_pupils(YEAR2, P2023, last_year=LAST_YEAR,
                                  other_collection=[p.upn.lower() for p in KS1_COHORT])  # fmt: skip
    assert by_upn == counts


def test_by_the_end_of_year_2_from_2024_the_cohort_is_the_pupils_with_a_result():
    counts = phonics.count_pupils(YEAR2, P2024, last_year=LAST_YEAR)
    found = phonics.measures(counts, P2024, as_of=dt.date(2024, 7, 1))["groups"]["by_end_y2"]
    # This year's Year 2 results (MET1B, FAIL1, FAIL2, ABS1, NOTKS1) and last year's Year 1
    # (adding MET1, FAIL3, MOVED): met MET1, MET1B, FAIL1, MOVED, NOTKS1; below FAIL2, FAIL3.
    assert found["eligible"] == 8
    assert found["met"] == 5
    assert found["buckets"]["working_towards_expected_standard"]["count"] == 2
    assert found["buckets"]["disapplied"]["count"] == 1
    assert found["met_rounded"] == 63  # 62.5, half up
    assert phonics.needs(P2024) == Needs(last_year="phonics-2023", other_collection=None)


def test_by_the_end_of_year_2_says_what_to_load_when_it_cannot_be_counted():
    no_ks1 = phonics.count_pupils(YEAR2, P2023, last_year=LAST_YEAR)
    found = phonics.measures(no_ks1, P2023, as_of=AFTER)["groups"]["by_end_y2"]
    assert found["eligible"] is None and found["met"] is None
    assert "Key stage 1 teacher assessment 2023, which is not loaded" in found["reason"]
    assert "load them to see it" in found["reason"]
    no_last_year = phonics.count_pupils(YEAR2, P2024)
    found = phonics.measures(no_last_year, P2024, as_of=dt.date(2024, 7, 1))["groups"]
    assert found["by_end_y2"]["reason"] == (
        "By the end of Year 2 cannot be worked out: last year's results (Phonics screening "
        "check 2023) are not loaded; load them to see it"
    )
    # 2023's last year (2022) has no collection in Keystage: nothing to ask the LA to load.
    nothing = phonics.measures(phonics.count_pupils(YEAR2, P2023), P2023, as_of=AFTER)
    assert nothing["groups"]["by_end_y2"]["reason"] == (
        "By the end of Year 2 cannot be worked out: Keystage holds no collection of last "
        "year's results (phonics-2022) and the Year 2 cohort is the pupils of Key stage 1 "
        "teacher assessment 2023, which is not loaded"
    )
    assert found["y2"]["eligible"] == 5  # the re-check itself needs nothing more


def test_before_the_threshold_is_published_by_the_end_of_year_2_hides_met_too():
    counts = phonics.count_pupils(YEAR2, P2023, last_year=LAST_YEAR, other_collection=KS1_COHORT)
    found = phonics.measures(counts, P2023, as_of=BEFORE)["groups"]["by_end_y2"]
    assert found["met"] is None
    assert found["eligible"] == 7
    assert found["reason"].startswith("the threshold is not yet published")


# -- adding up -------------------------------------------------------------------------------------
def test_school_counts_add_up_to_the_la_as_if_counted_together():
    # School A has MET1, FAIL1, MOVED (last year) and NONE1; school B the others.
    at_a = {"MET1", "FAIL1", "MOVED", "NONE1"}
    a_last = {k: v for k, v in LAST_YEAR.items() if k in at_a}
    b_last = {k: v for k, v in LAST_YEAR.items() if k not in at_a}
    a_y2 = [p for p in YEAR2 if p.upn in at_a]
    b_y2 = [p for p in YEAR2 if p.upn not in at_a]
    a_ks1 = [p for p in KS1_COHORT if p.upn in at_a]
    b_ks1 = [p for p in KS1_COHORT if p.upn not in at_a]
    a = phonics.count_pupils(YEAR1[:5] + a_y2, P2023, last_year=a_last, other_collection=a_ks1)
    b = phonics.count_pupils(YEAR1[5:] + b_y2, P2023, last_year=b_last, other_collection=b_ks1)
    together = phonics.count_pupils(YEAR1 + YEAR2, P2023, last_year=LAST_YEAR,
                                    other_collection=KS1_COHORT)  # fmt: skip
    assert a + b == together
    assert sum([a, b]) == together
    assert phonics.from_json(json.loads(json.dumps(phonics.to_json(together)))) == together
    # Pupil-weighted: school A 3 of 5 met in Year 1 (60%), B 0 of 6: the LA 3 of 11, not 30%.
    la = phonics.measures(together, P2023, as_of=AFTER)["groups"]["y1"]
    assert la["met_rounded"] == 27
    # A group uncounted in one school is uncounted in the sum.
    partial = a + phonics.count_pupils(YEAR1[5:] + b_y2, P2023)
    assert phonics.measures(partial, P2023, as_of=AFTER)["groups"]["by_end_y2"]["met"] is None


def test_counts_by_pupil_group_sex_and_fsm():
    def group_of(p: PupilRecord) -> list[str]:
        found = ["all"]
        if p.sex:
            found.append(f"sex:{p.sex}")
        if p.characteristics.get("fsm"):
            found.append("fsm:Y")
        return found

    by_group = phonics.count_by_group(YEAR1 + YEAR2, P2023, group_of, last_year=LAST_YEAR,
                                      other_collection=KS1_COHORT)  # fmt: skip
    assert set(by_group) == {"all", "sex:F", "sex:M", "fsm:Y"}
    girls = phonics.measures(by_group["sex:F"], P2023, as_of=AFTER)["groups"]
    boys = phonics.measures(by_group["sex:M"], P2023, as_of=AFTER)["groups"]
    fsm = phonics.measures(by_group["fsm:Y"], P2023, as_of=AFTER)["groups"]
    # Year 1 girls: Y101 met, Y102 met, Y106 A, Y108 L (out), Y110 and Y111 unknown.
    assert (girls["y1"]["eligible"], girls["y1"]["met"]) == (5, 2)
    # Year 1 boys: Y103 met, Y104 and Y105 below, Y107 D, Y109 Q, Y112 unknown.
    assert (boys["y1"]["eligible"], boys["y1"]["met"]) == (6, 1)
    assert (fsm["y1"]["eligible"], fsm["y1"]["met"]) == (2, 1)  # Y101 met, Y104 below
    # By the end of Year 2, grouped by this year's record or, for MET1, FAIL3 and NONE1 (no
    # phonics record this year), their KS1 record: girls MET1, MET1B, FAIL2, NONE1.
    assert (girls["by_end_y2"]["eligible"], girls["by_end_y2"]["met"]) == (4, 2)
    assert (boys["by_end_y2"]["eligible"], boys["by_end_y2"]["met"]) == (3, 1)
    assert by_group["sex:F"] + by_group["sex:M"] == by_group["all"]
    assert by_group["all"] == phonics.count_pupils(YEAR1 + YEAR2, P2023, last_year=LAST_YEAR,
                                                   other_collection=KS1_COHORT)  # fmt: skip


# -- through the reader ------------------------------------------------------------------------------
def test_a_school_csv_read_by_the_engine_counts_as_hand_worked():
    text = (
        "LA,Estab,UPN,Surname,Forename,DOB,Sex,NCyear,Mark,Outcome\n"
        "938,2001,A938200100001,Ash,Amy,2016-10-01,F,1,32,\n"
        "938,2001,A938200100002,Birch,Ben,2016-11-01,M,1,31,\n"
        "938,2001,A938200100003,Cedar,Cat,2016-12-01,F,1,,A\n"
        "938,2001,A938200100004,Dale,Dan,2017-01-01,M,1,,L\n"
        "938,2001,A938200100005,Elm,Eve,2015-10-01,F,2,36,\n"
    )
    with open_school_file(io.BytesIO(text.encode()), P2023, name="PHONICS_2001_23.csv") as r:
        pupils = list(r.pupils())
    counts = phonics.count_pupils(pupils, P2023)
    found = phonics.measures(counts, P2023, as_of=AFTER)["groups"]
    assert (found["y1"]["eligible"], found["y1"]["met"]) == (3, 1)
    assert found["y1"]["buckets"]["absent"]["count"] == 1
    assert (found["y2"]["eligible"], found["y2"]["met"]) == (1, 1)


# -- the settings are the definition's --------------------------------------------------------------
def changed(**measures) -> definition.Definition:
    raw = copy.deepcopy(P2023.raw)
    raw["measures"].update(measures)
    return definition.parse_definition(raw, source="test")


def test_maladministration_can_be_left_out_of_the_eligible_pupils_in_the_definition():
    d = changed(maladministration_eligible=False)
    y1 = phonics.measures(phonics.count_pupils(YEAR1, d), d, as_of=AFTER)["groups"]["y1"]
    assert y1["eligible"] == 10  # L and Q out
    assert y1["buckets"]["maladministration"]["count"] == 1  # still counted, no percentage
    assert y1["buckets"]["maladministration"]["percent"] is None
    assert y1["met_rounded"] == 30


def test_a_code_in_no_bucket_is_refused_with_what_to_fix():
    buckets = dict(P2023.raw["measures"]["buckets"])
    del buckets["absent"]
    with pytest.raises(MeasureSettingsError, match=r"outcome A is counted in no bucket"):
        phonics.settings(changed(buckets=buckets))


def test_every_collection_has_one_measures_entry_point():
    ks1 = definition.load("ks1-2023")
    assert module_of(P2023, "measures") is phonics
    assert phonics.needs(P2023) == Needs(last_year="phonics-2022", other_collection="ks1-2023")
    own = module_of(ks1, "measures")
    assert own.needs(ks1) == Needs()
    pupils = [PupilRecord(line=0, sex="F", outcomes={"reading": "EXS", "writing": "WTS",
                                                     "maths": "GDS", "science": "EXS"})]  # fmt: skip
    counts = own.count_pupils(pupils, ks1, last_year=None, other_collection=None)
    assert counts == shared.count_pupils(pupils, ks1)
    assert own.measures(counts, ks1, as_of=AFTER) == shared.measures(counts, ks1)
    assert own.from_json(json.loads(json.dumps(own.to_json(counts)))) == counts
    assert own.count_by_group(pupils, ks1, lambda p: ["all", f"sex:{p.sex}"]) == {
        "all": counts, "sex:F": counts,
    }  # fmt: skip


def test_the_ees_columns_name_every_column_of_the_row_with_its_percentages_unit():
    school = [pupil(f"R{i}", "1", "35" if i == 0 else "10") for i in range(8)]
    for keystage_columns in (True, False):
        row = phonics.ees_row(phonics.count_pupils(school, P2023), P2023,
                              keystage_columns=keystage_columns, as_of=AFTER)  # fmt: skip
        columns = phonics.ees_columns(P2023, keystage_columns=keystage_columns)
        assert [c.name for c in columns] == list(row)
        assert len({c.label for c in columns}) == len(columns)
    found = {c.name: c for c in phonics.ees_columns(P2023)}
    met = found["pt_phonics_y2_met_expected_standard"]
    assert (met.label, met.grouping, met.unit, met.dp, met.of) == (
        "Year 2 re-check: met expected standard, % of eligible pupils", "Year 2 re-check", "%", 0,
        "t_phonics_y2_eligible_pupils",
    )  # fmt: skip
    assert (found["t_phonics_y1_absent"].unit, found["t_phonics_y1_absent"].of) == ("", None)


def test_every_collections_measures_module_has_the_same_functions_and_parameters():
    entry = ("needs", "count_pupils", "count_by_group", "measures", "ees_row", "ees_columns",
             "to_json", "from_json", "headlines")  # fmt: skip
    shapes = {}
    for code, package in packages().items():
        own = importlib.import_module(f"{package.__name__}.measures")
        shapes[code] = {n: list(inspect.signature(getattr(own, n)).parameters) for n in entry}
    assert len(shapes) >= 2
    first = next(iter(shapes.values()))
    assert all(shape == first for shape in shapes.values()), shapes


def test_headlines_word_the_groups_counted_and_hold_back_met_before_the_threshold():
    # YEAR1 (hand-worked above): 12 pupils, L not eligible, 3 met of 11 eligible (27.3%).
    counts = phonics.count_pupils([*YEAR1, pupil("Y201", "2", "33")], P2023)
    assert phonics.headlines(counts, P2023, as_of=AFTER) == [
        ("Year 1", "12 pupils, 11 eligible, 3 met the expected standard (27%)"),
        ("Year 2 re-check", "1 pupil, 1 eligible, 1 met the expected standard (100%)"),
    ]  # by the end of Year 2 is not counted without last year's results: left out
    assert phonics.headlines(counts, P2023, as_of=BEFORE)[0] == (
        "Year 1",
        "12 pupils, 11 eligible: the threshold is not yet published; it will be on 26 June 2023",
    )
    ks1 = definition.load()
    assert module_of(ks1, "measures").headlines(shared.count_pupils([], ks1), ks1) == []


def test_headlines_write_large_counts_with_thousands_separated():
    # An LA's return: 1,200 Year 1 pupils, half of them at the threshold, half below it.
    many = [pupil(f"Y{n}", "1", "32" if n % 2 else "20") for n in range(1200)]
    [(label, words)] = phonics.headlines(phonics.count_pupils(many, P2023), P2023, as_of=AFTER)
    assert (label, words) == (
        "Year 1",
        "1,200 pupils, 1,200 eligible, 600 met the expected standard (50%)",
    )
