"""The phonics screening check's rules (spec phonics.md §4) on hand-made pupils: what each one
finds, in the school's words, and the rules shared with every collection reading the check's
two year groups (Year 1, and the Year 2 re-check) and their birth dates."""

from __future__ import annotations

import datetime as dt

import pytest

from keystage.engine import definition
from keystage.engine.collections.phonics import rules as phonics_rules
from keystage.engine.records import PupilRecord
from keystage.engine.rules import (
    RULES,
    CohortEntry,
    LastYear,
    LastYearRecord,
    SchoolOf,
    check_cohort,
    check_pupil,
    last_year_nc_years,
)

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


@pytest.mark.parametrize("mark", ["41", "-1", "32.5", "thirty", "4 0", "²", "٣٢", "３２"])
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
        "NC year '3' is not year 1 or 2: correct the NC year, or remove the pupil from the "
        "return if they are not a pupil taking the phonics check."
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


# -- across years and across a school (PSC-R08, R09, R11) ------------------------------------
# Checks across the LA's pupils: this year's 2024 pupils, last year's 2023 records as the caller
# looked them up (`LastYear`), or none when Keystage does not hold 2023.

D24 = definition.load("phonics-2024")
LAST = definition.load("phonics-2023")


def entry(key, upn, nc_year="2", mark="30", *, school="9382001", former="", name=None):
    forename, surname = name or (f"Pupil{key}", "Smith")
    return CohortEntry(key, school, upn, surname, forename, "2016-10-14", "Downs Infant School",
                       nc_year, former, {"mark": mark} if mark is not None else {})  # fmt: skip


def last_year(*records: tuple[str, str, dict]) -> LastYear:
    return LastYear(LAST, [LastYearRecord(*r) for r in records])


def across(entries, last=None, rule_ids=("PSC-R08", "PSC-R09", "PSC-R11")):
    return [
        (key, f.rule, f.severity, f.field, f.value, f.message)
        for key, f in check_cohort(entries, D24, last_year=last)
        if f.rule in rule_ids
    ]


def test_a_year_2_pupil_who_met_the_standard_in_year_1_last_year():
    entries = [
        entry(1, "A938200124001", name=("Ava", "Smith")),
        entry(2, "A938200124002"),  # 31 last year: below 2023's threshold of 32, re-checked
    ]
    last = last_year(("A938200124001", "1", {"mark": "32"}),
                     ("A938200124002", "1", {"mark": "31"}))  # fmt: skip
    found = across(entries, last)
    assert [f[:5] for f in found] == [(1, "PSC-R08", "query", "nc_year", "2")]
    assert found[0][5] == (
        "Ava Smith (UPN A938200124001) met the expected standard in Year 1 last year: mark 32 "
        "in Phonics screening check 2023, where the threshold was 32. A pupil who met it does "
        "not take the check again: check the pupil's NC year, and their UPN if last year's "
        "result is another child's; if the school did check them again, confirm why."
    )


def test_last_years_record_is_found_under_the_pupils_former_upn():
    entries = [entry(1, "A938200124001", former="B938200123009", name=("Bo", "Jones"))]
    last = last_year(("B938200123009", "1", {"mark": "36"}))
    found = across(entries, last)
    assert [f[:2] for f in found] == [(1, "PSC-R08")]
    assert (
        "mark 36 in Phonics screening check 2023 under their former UPN B938200123009"
        in (found[0][5])
    )


def test_a_year_2_pupil_with_no_year_1_record_last_year():
    entries = [
        entry(1, "A938200124001", name=("Cy", "Lee")),
        entry(2, "A938200124002", mark=None),  # absent last year: a record, re-checked now
        entry(3, "A938200124003"),  # only a Year 2 record last year: no Year 1 result
    ]
    last = last_year(("A938200124002", "1", {"psc_code": "A"}),
                     ("A938200124003", "2", {"mark": "35"}))  # fmt: skip
    found = across(entries, last)
    assert [f[:3] for f in found] == [(1, "PSC-R09", "query"), (3, "PSC-R09", "query")]
    assert found[0][5] == (
        "Cy Lee (UPN A938200124001) is in Year 2 but has no Year 1 result in Phonics screening "
        "check 2023: if they took the check last year, correct their UPN (or give their former "
        "UPN) so that last year's result is found; if they did not (e.g. they were not at a "
        "school in England), confirm that."
    )


def test_without_last_years_collection_neither_rule_runs():
    entries = [entry(1, "A938200124001"), entry(2, "A938200124002")]
    assert across(entries, None) == []
    # Held but with none of these pupils: each is told so.
    assert [f[1] for f in across(entries, last_year())] == ["PSC-R09", "PSC-R09"]


def test_a_year_1_pupil_is_never_compared_with_last_year():
    entries = [entry(1, "A938200124001", nc_year="1"), entry(2, "A938200124002", nc_year="1")]
    last = last_year(("A938200124001", "1", {"mark": "38"}))
    assert across(entries, last) == []
    # So the caller looks up last year's records of Year 2 pupils only (KS1 has no such rule).
    assert last_year_nc_years(D24) == {"2"}
    assert last_year_nc_years(definition.load("ks1-2024")) == frozenset()


def school(laestab, marks, nc_year="1", first_key=0):
    return [
        entry(first_key + i, f"A{laestab}{first_key + i:05d}", nc_year, m, school=laestab)
        for i, m in enumerate(marks)
    ]


def test_a_school_whose_pupils_all_have_the_same_mark(monkeypatch):
    monkeypatch.setattr(phonics_rules, "today", lambda: dt.date(2024, 7, 1))
    alike = school("9382001", ["40"] * 5) + school("9382002", ["40"] * 4, first_key=10)
    assert across(alike, rule_ids=("PSC-R11",)) == [(
        SchoolOf("9382001"), "PSC-R11", "query", "mark", "40",
        "All 5 pupils with a phonics mark at Downs Infant School (9382001) have the same mark, "
        "40: check that each pupil's own mark was exported (one mark for everyone is a likely "
        "export mistake) and send the file again if not; if the marks are right, confirm them.",
    )]  # fmt: skip


def test_a_school_with_no_pupil_at_the_threshold_while_the_las_rate_is_high(monkeypatch):
    monkeypatch.setattr(phonics_rules, "today", lambda: dt.date(2024, 7, 1))
    none_met = school("9382001", ["31", "30", "12", "25", "31"])
    # The LA's other schools: 8 of their 10 Year 1 pupils with a mark at 32 or more (80%).
    others = school("9382002", ["32", "35", "40", "33", "20"], first_key=10) + school(
        "9382003", ["36", "38", "32", "31", "39"], first_key=20
    )
    found = across(none_met + others, rule_ids=("PSC-R11",))
    assert [f[:5] for f in found] == [(SchoolOf("9382001"), "PSC-R11", "query", "mark", "")]
    assert found[0][5].startswith(
        "None of the 5 Year 1 pupils with a mark at Downs Infant School (9382001) reached the "
        "threshold of 32, while 80% of Year 1 pupils with a mark at the LA's other schools did"
    )
    # 6 of 10 elsewhere (60%) is below 2023's la_rate_at_least of 0.7: no query.
    lower = others[:5] + school("9382003", ["36", "20", "21", "31", "38"], first_key=20)
    assert across(none_met + lower, rule_ids=("PSC-R11",)) == []
    # Four pupils are fewer than min_pupils (5).
    assert across(none_met[:4] + others, rule_ids=("PSC-R11",)) == []
    # Before the threshold is published nothing is said about it.
    monkeypatch.setattr(phonics_rules, "today", lambda: dt.date(2024, 6, 20))
    assert across(none_met + others, rule_ids=("PSC-R11",)) == []


def test_the_shared_school_rules_speak_of_the_check_and_read_year_1s_ages():
    """E04 and E05 are every collection's; for phonics they name the check's file and pupils,
    and a school of ages 4-6 (reception and Year 1) is a school of the check."""
    from keystage.engine.records import FileHeader
    from keystage.engine.rules import SchoolInfo, check_school

    def hits(low, high, pupils):
        school = SchoolInfo(la="938", estab="2001", urn="100001", name="Downs", phase_name="Primary",
                            type_name="Community school", status_name="Open", low_age=low,
                            high_age=high)  # fmt: skip
        return {f.rule: f.message for f in check_school(FileHeader(kind="ctf"), school, pupils, D)}

    assert "PSC-E05" not in hits(4, 6, 3)
    assert "normally have Year 1 pupils" in hits(7, 11, 3)["PSC-E05"]
    assert "its phonics check file" in hits(4, 11, 0)["PSC-E04"]
