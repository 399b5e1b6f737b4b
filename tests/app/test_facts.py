"""Fact tables: school facts counted from current pupils, LA, region and England facts as sums
of school counts (pupil-weighted), rebuilt per school after an import, and `keystage report`
reading them back."""

from __future__ import annotations

import json

import pytest

from keystage.accounts import scope
from keystage.cli import main
from keystage.orgs.models import School
from keystage.reports.facts import counts_from_json, groups_of, rebuild_facts, term_of_birth
from keystage.reports.models import Fact
from keystage.submissions.importing import import_paths
from tests.builders import pupil, write_ctf

pytestmark = pytest.mark.django_db

# School 9382001: 4 pupils; reading met 3 (one GDS), combined met 2 (p1, p2).
SCHOOL_A = [
    pupil(1, reading="GDS", writing="EXS", maths="EXS", dob="2016-01-14"),  # F, spring
    pupil(2, reading="EXS", writing="EXS", maths="EXS", dob="2015-10-02"),  # M, autumn
    pupil(3, reading="WTS", writing="WTS", maths="WTS", dob="2016-06-30"),  # F, summer
    pupil(4, reading="EXS", dob="2016-01-14"),  # M, spring; writing WTS
]
# School 9382002: 1 pupil, nothing met.
SCHOOL_B = [pupil(5, estab="2002", reading="WTS", writing="WTS", maths="WTS")]
# Camden 2022003: 2 pupils, everything at greater depth.
CAMDEN = [
    pupil(i, la="202", estab="2003", reading="GDS", writing="GDS", maths="GDS") for i in (6, 7)
]


@pytest.fixture
def imported(loaded, tmp_path):
    files = [
        write_ctf(tmp_path / "a.xml", SCHOOL_A),
        write_ctf(tmp_path / "b.xml", SCHOOL_B, estab="2002"),
        write_ctf(tmp_path / "c.xml", CAMDEN, la="202", estab="2003"),
    ]
    results = import_paths([str(f) for f in files], jobs=1)
    assert [r.outcome for r in results] == ["accepted"] * 3
    rebuild_facts(loaded)
    return loaded


def fact(collection, level, code, group="all"):
    row = Fact.objects.get(collection=collection, level=level, area_code=code, group=group)
    return counts_from_json(row.counts)


def region_code(la_code):
    from keystage.orgs.models import LocalAuthority

    return LocalAuthority.objects.get(code=la_code).region.dfe_code


def met(counts, subject="reading"):
    return counts.at(subject, "GDS") + counts.at(subject, "EXS")


def test_school_facts_equal_hand_worked_counts(imported):
    a = fact(imported, "school", "9382001")
    assert a.pupils == 4 and met(a) == 3 and a.at("reading", "GDS") == 1
    assert (a.combined_eligible, a.combined_met, a.combined_higher) == (4, 2, 0)
    assert a.at("science", "EXS") == 4
    b = fact(imported, "school", "9382002")
    assert (b.pupils, met(b), b.combined_met) == (1, 0, 0)


def test_la_is_the_pupil_weighted_sum_of_its_schools(imported):
    la = fact(imported, "la", "938")
    assert la == fact(imported, "school", "9382001") + fact(imported, "school", "9382002")
    # 3 of 5 pupils (60%), not the mean of 75% and 0% (37.5%)
    assert (la.pupils, met(la), la.combined_met) == (5, 3, 2)
    assert Fact.objects.get(level="la", area_code="938", group="all").la.code == "938"


def test_region_and_england_are_sums(imported):
    assert region_code("938") != region_code("202")
    assert fact(imported, "region", region_code("938")) == fact(imported, "la", "938")
    assert fact(imported, "region", region_code("202")) == fact(imported, "la", "202")
    england = fact(imported, "national", "970")
    assert (england.pupils, met(england), england.at("reading", "GDS")) == (7, 5, 3)
    assert (england.combined_met, england.combined_higher) == (4, 2)


def test_sex_and_term_of_birth_groups(imported):
    assert fact(imported, "school", "9382001", "sex:F").pupils == 2
    assert met(fact(imported, "school", "9382001", "sex:F")) == 1
    assert met(fact(imported, "school", "9382001", "sex:M")) == 2
    terms = {t: fact(imported, "la", "938", f"term:{t}").pupils for t in ("autumn", "spring")}
    # p5 of school B is born 2016-01-14 (spring)
    assert terms == {"autumn": 1, "spring": 3}
    assert fact(imported, "la", "938", "term:summer").pupils == 1
    assert term_of_birth("2015-09-01") == "autumn" and term_of_birth("2016-08-31") == "summer"
    assert term_of_birth("31/12/2015") is None
    assert groups_of("2016-04-30", "f", {"fsm": "2019-05-01", "sen": "K"}) == [
        "all", "sex:F", "term:spring", "fsm:Y", "sen:K",
    ]  # fmt: skip
    assert groups_of("2016-06-01", "M", {"fsm": "no", "eal": "ENG", "ethnicity": "wbri"}) == [
        "all", "sex:M", "term:summer", "fsm:N", "eal:ENG", "ethnicity:WBRI", "ethnic_group:white",
    ]  # fmt: skip
    # DfE's extended codes count as their main code (reference/pupil_groups.toml): White
    # English as White British, Nigerian as Black African; a language as other than English.
    # A CTF lists FSM history only for the pupils who have one: a file that gives other
    # characteristics but no FSM means not eligible.
    assert groups_of("2016-06-01", "", {"eal": "URD", "ethnicity": "WENG"})[1:] == [
        "term:summer", "eal:OTH", "ethnicity:WBRI", "ethnic_group:white", "fsm:N",
    ]  # fmt: skip
    assert groups_of("2016-06-01", "", {}) == ["all", "term:summer"]
    assert groups_of("2016-06-01", "", {"ethnicity": "BNGN", "eal": "N"})[2:] == [
        "eal:ENG", "ethnicity:BAFR", "ethnic_group:black", "fsm:N",
    ]  # fmt: skip


def test_a_superseding_upload_changes_only_that_school_and_the_sums(imported, tmp_path):
    before = {(f.level, f.area_code, f.group): (f.counts, f.updated_at) for f in Fact.objects.all()}
    f = write_ctf(
        tmp_path / "b2.xml", [pupil(5, estab="2002"), pupil(8, estab="2002")], estab="2002"
    )
    [r] = import_paths([str(f)], jobs=1)
    assert r.outcome == "superseded"
    school = School.objects.get(laestab="9382002")
    rebuild_facts(imported, schools=[school.pk])
    after = {(f.level, f.area_code, f.group): (f.counts, f.updated_at) for f in Fact.objects.all()}
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    assert {(level, code) for level, code, _ in changed} == {
        ("school", "9382002"), ("la", "938"), ("region", region_code("938")), ("national", "970"),
    }  # fmt: skip
    b = fact(imported, "school", "9382002")
    assert (b.pupils, met(b)) == (2, 2)
    assert met(fact(imported, "la", "938")) == 5 and fact(imported, "national", "970").pupils == 8
    # a full rebuild gives the same figures
    partial = {k: v[0] for k, v in after.items()}
    rebuild_facts(imported)
    assert {(f.level, f.area_code, f.group): f.counts for f in Fact.objects.all()} == partial


def test_the_import_command_queues_the_fact_rebuild(loaded, tmp_path, capsys, settings):
    # The rebuild runs as a task; run tasks as soon as they are queued to see its effect.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    f = write_ctf(tmp_path / "a.xml", SCHOOL_A)
    assert main(["import", str(f), "--quiet"]) == 0
    assert fact(loaded, "national", "970").pupils == 4
    assert fact(loaded, "school", "9382001") == fact(loaded, "la", "938")


def test_report_summary_gives_the_same_numbers(imported, capsys):
    capsys.readouterr()
    assert main(["report", "summary", "--la", "938", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    got = {(r["level"], r["subject"]): r for r in rows}
    assert [r["level"] for r in rows if r["subject"] == "reading"] == ["la", "region", "national"]
    la = got[("la", "reading")]
    assert (la["pupils"], la["eligible"], la["met"], la["met_percent"]) == (5, 5, 3, 60.0)
    assert la["higher_percent"] == 20.0
    assert (got[("la", "combined")]["met"], got[("la", "combined")]["met_percent"]) == (2, 40.0)
    assert got[("national", "reading")]["met_percent"] == 71.4  # 5 of 7
    assert got[("national", "combined")]["higher_percent"] == 28.6  # 2 of 7
    assert got[("la", "science")]["higher_percent"] is None


def test_report_gap_and_national(imported, capsys):
    capsys.readouterr()
    assert main(["report", "gap", "--school", "9382001", "--format", "json"]) == 0
    rows = {
        (r["group"], r["subject"], r["measure"]): r for r in json.loads(capsys.readouterr().out)
    }
    reading = rows[("all", "reading", "met")]
    # 75% against LA 60%, region 60%, England 71.43%
    assert (reading["la_gap"], reading["region_gap"], reading["national_gap"]) == (15.0, 15.0, 3.6)
    assert rows[("sex:M", "reading", "met")]["area_percent"] == 100.0
    assert ("term:summer", "combined", "met") in rows
    assert main(["report", "national", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    england = next(r for r in rows if r["level"] == "national" and r["subject"] == "reading")
    assert (england["pupils"], england["schools_loaded"], england["las_loaded"]) == (7, 3, 2)
    # The register's three primary schools, not its secondary school.
    assert (england["schools_expected"], england["las_expected"]) == (3, 2)
    # Two LAs loaded: no estimate (it needs 3), the pooled figure of the 7 pupils beside it.
    assert england["met_percent"] is None and "a figure needs at least 3" in england["met_reason"]
    assert england["met_pooled_low"] < england["met_pooled"] == 71.4 < england["met_pooled_high"]
    assert main(["report", "summary", "--region", "Atlantis"]) == 2


def test_scope_gives_own_rows_and_every_region_and_england(imported, members):
    def seen(user):
        return set(scope.scoped(user, Fact).filter(group="all").values_list("level", "area_code"))

    shared = {("region", region_code("938")), ("region", region_code("202")), ("national", "970")}
    assert seen(members["admin938"]) == {
        ("school", "9382001"), ("school", "9382002"), ("la", "938"),
    } | shared  # fmt: skip
    assert seen(members["school938"]) == {("school", "9382002")} | shared
    assert seen(members["admin202"]) == {("school", "2022003"), ("la", "202")} | shared
    assert seen(members["national"]) == set(
        Fact.objects.filter(group="all").values_list("level", "area_code")
    )
    assert seen(members["nobody"]) == set()
