"""The phonics screening check's rules (spec phonics.md §4) on hand-made pupils: what each one
finds, in the school's words, and the rules shared with every collection reading the check's
two year groups (Year 1, and the Year 2 re-check) and their birth dates."""

from __future__ import annotations

import datetime as dt

import pytest

from keystage.engine import definition
from keystage.engine.collections.phonics import rules as phonics_rules
from keystage.engine.records import PupilRecord
from keystage.engine.rules import RULES, check_pupil

D = definition.load("phonics-2023")


def pupil(mark=None, code=None, **changes) -> PupilRecord:
    outcomes = {k: v for k, v in (("mark", mark), ("psc_code", code)) if v is not None}
    fields = dict(
        line=7, upn="A938200123001", surname="Smith", forename="Ava", dob="2016-10-14",
        sex="F", nc_year="1", outcomes=outcomes,
    )  # fmt: skip
    fields.update(changes)
    return PupilRecord(**fields)


def found(p: PupilRecord) -> list[tuple[str, str, str, str]]:
    return [(f.rule, f.severity, f.field, f.value) for f in check_pupil(p, D)]


def messages(p: PupilRecord) -> dict[str, str]:
    return {f.rule: f.message for f in check_pupil(p, D)}


@pytest.mark.parametrize("mark, code", [("34", None), ("0", None), ("40", None), (None, "A"),
                                        (None, "D"), (None, "L"), ("32", "Wa"), ("12", "Wt")])  # fmt: skip
def test_a_clean_pupil_has_no_findings(mark, code):
    assert found(pupil(mark, code)) == []


def test_no_mark_and_no_code():
    assert found(pupil()) == [("PSC-R01", "error", "mark", "")]
    assert messages(pupil())["PSC-R01"] == (
        "No phonics mark and no outcome code: enter the pupil's mark (0 to 40), or A, D or L if "
        "they did not take the check."
    )


@pytest.mark.parametrize("mark", ["41", "-1", "32.5", "thirty", "4 0"])
def test_a_mark_that_is_not_a_whole_number_from_0_to_40(mark):
    assert found(pupil(mark)) == [("PSC-R02", "error", "mark", mark)]
    assert f"Mark '{mark}' is not a whole number from 0 to 40" in messages(pupil(mark))["PSC-R02"]


def test_a_mark_and_a_code_instead_of_a_mark():
    assert found(pupil("30", "A")) == [("PSC-R03", "error", "psc_code", "A")]
    assert messages(pupil("30", "A"))["PSC-R03"].startswith(
        "Both a mark (30) and outcome code A are given"
    )


def test_an_outcome_code_that_is_not_valid():
    assert found(pupil(None, "X")) == [("PSC-R04", "error", "psc_code", "X")]
    assert "enter A, D, L, Q, Wa or Wt" in messages(pupil(None, "X"))["PSC-R04"]
    # Wa is valid, in any case, but only beside a mark.
    assert found(pupil(None, " wa ")) == [("PSC-R01", "error", "mark", "")]
    assert messages(pupil(None, "Wa"))["PSC-R01"].startswith(
        "No phonics mark: Wa only goes beside a mark, which is what is sent on; enter"
    )


def test_working_at_or_towards_must_agree_with_the_mark_once_the_threshold_is_published(
    monkeypatch,
):
    assert found(pupil("31", "Wa")) == [("PSC-R05", "query", "psc_code", "Wa")]
    assert found(pupil("32", "Wt")) == [("PSC-R05", "query", "psc_code", "Wt")]
    assert messages(pupil("31", "Wa"))["PSC-R05"].startswith(
        "Code Wa says working at the expected standard, but the mark 31 is below the threshold "
        "of 32"
    )
    # Before 26 June 2023 (the threshold's publication) nothing is checked against it.
    monkeypatch.setattr(phonics_rules, "today", lambda: dt.date(2023, 6, 25))
    assert found(pupil("31", "Wa")) == []


def test_maladministration_is_a_query():
    assert found(pupil(None, "Q")) == [("PSC-R06", "query", "psc_code", "Q")]


def test_the_shared_nc_year_rule_takes_year_1_and_year_2_and_is_an_error_here():
    assert found(pupil("35", nc_year="2", dob="2015-10-14")) == []
    assert found(pupil("35", nc_year="3", dob="2015-10-14")) == [
        ("PSC-P15", "error", "nc_year", "3")
    ]
    assert messages(pupil("35", nc_year="3", dob="2015-10-14"))["PSC-P15"] == (
        "NC year '3' is not year 1 or 2: confirm the pupil took the phonics check this year, in "
        "this NC year, or remove them from the return."
    )


def test_the_shared_date_of_birth_rule_reads_the_pupils_own_year_group():
    # Born in 2015/16: usual for Year 2, a year old for Year 1.
    assert found(pupil("35", nc_year="2", dob="2016-03-01")) == []
    assert found(pupil("35", nc_year="1", dob="2016-03-01")) == [
        ("PSC-P11", "query", "dob", "2016-03-01")
    ]
    assert (
        "outside the usual range for year 1 (1 September 2016 to 31 August 2017)"
        in (messages(pupil("35", nc_year="1", dob="2016-03-01"))["PSC-P11"])
    )


def test_the_check_has_its_own_rule_ids_beside_ks1s():
    assert {"PSC-R01", "PSC-R06", "PSC-P15", "KS1-T01", "KS1-P15"} <= set(RULES)
    assert not any(rule_id.startswith("PSC-T") for rule_id in RULES)
