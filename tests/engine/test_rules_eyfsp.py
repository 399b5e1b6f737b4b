"""The EYFS profile's rules (spec eyfsp.md §3) on hand-made children: every goal judged, each
judgement 1, 2 or A, A in any goal meaning A in all, a goal given twice, a school whose
children are all alike; the rules shared with every collection reading the reception cohort's
dates and ages; and a setting (PVI) identified by its early-years URN."""

from __future__ import annotations

import pytest

from keystage.engine import definition
from keystage.engine.records import FileHeader, PupilRecord
from keystage.engine.rules import (
    CohortEntry,
    SchoolInfo,
    SchoolOf,
    check_cohort,
    check_pupil,
    check_school,
)

pytestmark = pytest.mark.one_pass

D = definition.load("eyfsp-2023")
GOALS = [f"elg{n:02d}" for n in range(1, 18)]


def child(judgements="2", **changes) -> PupilRecord:
    if isinstance(judgements, str):
        judgements = dict.fromkeys(GOALS, judgements)
    fields = dict(line=7, upn="A938200123001", surname="Smith", forename="Ava",
                  dob="2017-10-14", sex="F", nc_year="R", outcomes=dict(judgements))  # fmt: skip
    fields.update(changes)
    return PupilRecord(**fields)


def found(p: PupilRecord) -> list[tuple[str, str, str, str]]:
    return [(f.rule, f.severity, f.field, f.value) for f in check_pupil(p, D)]


@pytest.mark.parametrize("judgements", ["2", "1", "A", {**dict.fromkeys(GOALS, "2"), "elg09": "1"},
                                        {g: " a " if g == "elg01" else "A" for g in GOALS}])  # fmt: skip
def test_a_child_judged_in_every_goal_or_not_assessed_in_all_has_no_findings(judgements):
    assert found(child(judgements)) == []


def test_a_goal_with_no_judgement_is_named():
    outcomes = dict.fromkeys(GOALS, "2")
    del outcomes["elg09"]
    outcomes["elg13"] = " "
    [f09, f13] = check_pupil(child(outcomes), D)
    assert [(f.rule, f.severity, f.field) for f in (f09, f13)] == [
        ("EYF-R01", "error", "elg09"), ("EYF-R01", "error", "elg13"),
    ]  # fmt: skip
    assert f09.message == (
        "No judgement for 2 goals (ELG 09 Word reading and ELG 13 Past and present): every goal "
        "must be judged; enter 1 (emerging), 2 (expected) or A (not assessed) for each goal (A "
        "in every goal if the child was not assessed)."
    )


def test_a_child_with_no_goal_at_all_gets_one_finding_and_last_years_rows_are_named():
    [f] = check_pupil(child({}), D)
    assert (f.rule, f.field) == ("EYF-R01", "elg01")
    assert f.message.startswith("No judgement for any of the 17 early learning goals")
    [f] = check_pupil(child({}, wrong_parameters={"elg01": "Year 2022"}), D)
    assert f.message.startswith("No judgement for 2023: the profile was sent for Year 2022")


@pytest.mark.parametrize("value", ["3", "E", "0", "Exp", "2.0", "N"])
def test_a_judgement_other_than_1_2_or_a_is_an_error(value):
    outcomes = {**dict.fromkeys(GOALS, "2"), "elg11": value}
    [f] = check_pupil(child(outcomes), D)
    assert (f.rule, f.severity, f.field, f.value) == ("EYF-R02", "error", "elg11", value)
    assert f.message == (
        f"ELG 11 Number: '{value}' is not a judgement of the profile: enter 1 (emerging), "
        "2 (expected) or A (not assessed)."
    )


def test_a_in_some_goals_but_not_all_is_an_error():
    outcomes = {**dict.fromkeys(GOALS, "2"), "elg04": "A", "elg05": "a"}
    [f] = check_pupil(child(outcomes), D)
    assert (f.rule, f.severity, f.field, f.value) == ("EYF-R03", "error", "elg04", "A")
    assert f.message.startswith(
        "A (not assessed) is given for 2 goals but not for ELG 01 Listening, attention and "
        "understanding, ELG 02 Speaking, ELG 03 Self-regulation, ELG 06 Gross motor skills and "
        "11 more: a child who was not assessed has A in every goal."
    )


def test_a_goal_given_twice_is_an_error_the_return_cannot_carry():
    p = child(duplicate_outcomes={"elg02": ["1", "2"]})
    [f] = check_pupil(p, D)
    assert (f.rule, f.field, f.value) == ("EYF-R05", "elg02", "2")
    assert "ELG 02 Speaking was given 2 times (1, 2; '2' was used)" in f.message


def test_the_shared_rules_read_the_reception_cohorts_dates_and_year():
    # Born 1 Sep 2017 - 31 Aug 2018 (§3); a child a year older is a query, not an error.
    assert found(child(dob="2018-08-31")) == []
    [(rule, severity, field, _)] = found(child(dob="2016-12-01"))
    assert (rule, severity, field) == ("EYF-P11", "query", "dob")
    assert (
        "outside the usual range for year R" in check_pupil(child(dob="2016-12-01"), D)[0].message
    )
    [(rule, severity, *_)] = found(child(dob="2014-01-01"))
    assert (rule, severity) == ("EYF-P12", "error")
    [f] = check_pupil(child(nc_year="1"), D)
    assert (f.rule, f.severity) == ("EYF-P15", "query")
    assert "NC year '1' is not year R" in f.message


def entry(key, laestab, judgements) -> CohortEntry:
    outcomes = dict.fromkeys(GOALS, judgements) if isinstance(judgements, str) else judgements
    return CohortEntry(key, laestab, f"A{laestab}23{key:03d}", "Smith", f"Child{key}",
                       "2017-10-14", "Downs Primary School", "R", "", outcomes)  # fmt: skip


def alike(entries) -> list:
    return [(k, f.rule, f.value) for k, f in check_cohort(entries, D) if f.rule == "EYF-R04"]


def test_a_school_whose_children_all_have_the_same_judgement_in_every_goal():
    same = [entry(i, "9382001", "2") for i in range(5)]
    mixed = [entry(10 + i, "9382002", "2") for i in range(5)]
    mixed.append(entry(20, "9382002", {**dict.fromkeys(GOALS, "2"), "elg10": "1"}))
    assert alike(same + mixed) == [(SchoolOf("9382001"), "EYF-R04", "2")]
    [(_, f)] = [x for x in check_cohort(same, D) if x[1].rule == "EYF-R04"]
    assert f.message.startswith(
        "All 5 children judged at Downs Primary School (9382001) have 2 in every one of the 17 "
        "goals: check that each child's own judgements were exported"
    )
    # Fewer than min_pupils (5) children judged: children not assessed do not count.
    assert alike(same[:4] + [entry(9, "9382001", "A")]) == []


def test_the_shared_school_rules_read_receptions_ages_and_speak_of_the_profile():
    def hits(low, high, pupils, phase="Primary"):
        school = SchoolInfo(la="938", estab="2001", urn="100001", name="Downs", phase_name=phase,
                            type_name="Community school", status_name="Open", low_age=low,
                            high_age=high)  # fmt: skip
        header = FileHeader(kind="ctf", la="938", estab="2001")
        return {f.rule: f.message for f in check_school(header, school, pupils, D)}

    assert "EYF-E05" not in hits(4, 7, 30) and "EYF-E05" not in hits(3, 11, 30)
    assert "normally have reception children" in hits(5, 9, 30)["EYF-E05"]  # a first school from 5
    assert "its EYFS profile file" in hits(4, 11, 0)["EYF-E04"]


SETTING = SchoolInfo(la="938", estab="", urn="512345", name="Little Acorns Nursery",
                     type_name="Private, voluntary or independent setting",
                     phase_name="Nursery", status_name="Open", low_age=0, high_age=5)  # fmt: skip


def school_findings(header: FileHeader, school: SchoolInfo | None, d=D) -> dict[str, str]:
    return {f.rule: f.message for f in check_school(header, school, 12, d)}


def test_a_setting_is_identified_by_its_early_years_urn():
    header = FileHeader(kind="csv", la="938", urn="512345")
    assert school_findings(header, SETTING) == {}
    [(rule, message)] = school_findings(header, None).items()
    assert (rule, message) == ("EYF-E02", (
        "The setting with URN 512345 is not in the register of settings: check the URN in the "
        "file, or add the setting to the register if it is new."
    ))  # fmt: skip
    moved = school_findings(header, SchoolInfo(**{**SETTING.__dict__, "la": "936"}))
    assert moved["EYF-E02"].startswith(
        "Setting URN 512345 (Little Acorns Nursery) belongs to LA 936"
    )


def test_a_urn_that_is_not_a_settings_gives_no_establishment_number():
    for urn in ("112345", "51234", "5123456", ""):
        found_ = school_findings(FileHeader(kind="csv", la="938", urn=urn), None)
        assert list(found_) == ["EYF-E01"], urn
        assert (
            "a setting gives its 6-digit early-years URN, starting 5, 6 or 7 instead"
            in found_["EYF-E01"]
        )
    # KS1 takes no settings: a setting's URN is no establishment number there.
    ks1 = definition.load("ks1-2023")
    found_ = school_findings(FileHeader(kind="csv", la="938", urn="512345"), None, ks1)
    assert "KS1-E01" in found_ and "setting" not in found_["KS1-E01"]
