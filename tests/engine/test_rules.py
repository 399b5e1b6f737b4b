"""The validation rules of spec §5: every registered rule fires on one input and stays quiet on
another, severities and on/off come from the definition, and the runners hold together."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keystage.engine import definition
from keystage.engine.records import FileHeader, Finding, PupilRecord, RejectedFile
from keystage.engine.rules import (
    RULES,
    SEVERITIES,
    CohortEntry,
    SchoolInfo,
    check_cohort,
    check_establishments,
    check_pupil,
    check_return_header,
    check_school,
    context_for,
    file_rejected,
    is_enabled,
    severity_of,
)
from keystage.engine.words import long_date

# RULES holds every collection's rules; these tests are KS1's (tests/engine/test_rules_phonics.py
# has the phonics check's).
KS1_RULES = {rule_id: rule for rule_id, rule in RULES.items() if rule_id.startswith("KS1-")}
D = definition.load()
NOW = dt.datetime(2023, 7, 10, 12, 0, 0)

# Every rule id of spec §5, with its severity there (E = error, Q = query).
SPEC_RULES = {
    "KS1-F01": "E",
    **{f"KS1-H0{n}": "E" for n in range(1, 9)},
    "KS1-E01": "E", "KS1-E02": "E", "KS1-E03": "E", "KS1-E04": "Q", "KS1-E05": "Q",
    **{f"KS1-P{n:02d}": "E" for n in range(1, 16)},
    "KS1-P07": "Q", "KS1-P11": "Q", "KS1-P14": "Q", "KS1-P15": "Q",
    **{f"KS1-T{n:02d}": "E" for n in range(1, 15)},
    "KS1-T09": "Q", "KS1-T10": "Q", "KS1-T11": "Q", "KS1-T12": "Q", "KS1-T13": "Q",
}  # fmt: skip

# Words that tell an LA officer what to do; every message uses at least one.
ACTIONS = (
    "add", "correct", "check", "enter", "confirm", "replace", "use", "set", "ask", "remove",
    "leave", "combine", "send", "explain", "generate", "update", "keep", "upload",
)  # fmt: skip


# -- inputs ----------------------------------------------------------------------------------


def pupil(**changes) -> PupilRecord:
    """A pupil with nothing wrong, changed as asked (outcome keys go into `outcomes`)."""
    outcomes = {"reading": "EXS", "writing": "WTS", "maths": "GDS", "science": "EXS"}
    for key in list(changes):
        if key in outcomes:
            outcomes[key] = changes.pop(key)
    fields = dict(
        line=7, upn="A938200123001", surname="Smith", forename="Ava", dob="2016-01-14",
        sex="F", nc_year="2", outcomes={k: v for k, v in outcomes.items() if v is not None},
    )  # fmt: skip
    fields.update(changes)
    return PupilRecord(**fields)


HEADER = FileHeader(kind="ctf", la="938", estab="2001", school_name="Example Primary School")
SCHOOL = SchoolInfo(
    la="938", estab="2001", urn="125000", name="Example Primary School",
    type_name="Community school", phase_name="Primary", status_name="Open",
    low_age=4, high_age=11,
)  # fmt: skip
RETURN_HEADER = {
    "Collection": "KS1", "Term": "SUM", "Year": "2023", "SourceLevel": "L", "LEA": "938",
    "SoftwareCode": "KEYSTAGE-KS1", "Release": "1.0.0", "SerialNo": "1",
    "DateTime": "2023-07-03T09:15:00",
}  # fmt: skip


def entry(key, laestab="9382001", upn="A938200123001", surname="Smith", forename="Ava",
          dob="2016-01-14") -> CohortEntry:  # fmt: skip
    return CohortEntry(key, laestab, upn, surname, forename, dob)


# -- runners that return plain findings ------------------------------------------------------


def on_pupil(**changes) -> Callable[[], list[Finding]]:
    return lambda: check_pupil(pupil(**changes), D)


def on_school(header=HEADER, school=SCHOOL, count=28, expected=30) -> Callable[[], list[Finding]]:
    return lambda: check_school(header, school, count, D, expected_cohort=expected)


def on_school_info(**changes) -> Callable[[], list[Finding]]:
    return on_school(school=replace(SCHOOL, **changes))


def on_header(**changes) -> Callable[[], list[Finding]]:
    values = {k: v for k, v in {**RETURN_HEADER, **changes}.items() if v is not None}
    return lambda: check_return_header(values, D, la="938", now=NOW)


def on_return(*laestabs) -> Callable[[], list[Finding]]:
    return lambda: [f for _, f in check_establishments(laestabs, D)]


def on_cohort(*entries) -> Callable[[], list[Finding]]:
    return lambda: [f for _, f in check_cohort(entries, D)]


def on_file(reason) -> Callable[[], list[Finding]]:
    return lambda: (
        file_rejected(reason, D, file_name="9382001_CTF_938LLLL_001.xml") if reason else []
    )


@dataclass
class Case:
    rule: str
    fails: Callable[[], list[Finding]]
    passes: Callable[[], list[Finding]]
    field: str
    value: str
    value_in_message: bool = True


ALL_A = dict(reading="A", writing="A", maths="A", science="A")
CASES = [
    Case("KS1-F01", on_file("the XML is not well formed (line 12)"), on_file(""), "file",
         "9382001_CTF_938LLLL_001.xml", value_in_message=False),
    Case("KS1-H01", on_header(Collection="KS2"), on_header(), "header", "KS2"),
    Case("KS1-H02", on_header(Year="2022"), on_header(), "header", "2022"),
    Case("KS1-H03", on_header(Term="AUT"), on_header(Term=None), "header", "AUT"),
    Case("KS1-H04", on_header(SourceLevel="S"), on_header(), "header", "S"),
    Case("KS1-H05", on_header(LEA="937"), on_header(), "header", "937"),
    Case("KS1-H06", on_header(Release=""), on_header(), "header", "", value_in_message=False),
    Case("KS1-H07", on_header(SerialNo="0"), on_header(SerialNo="12"), "header", "0"),
    Case("KS1-H08", on_header(DateTime="2023-07-11T09:00:00"), on_header(), "header",
         "2023-07-11T09:00:00"),
    Case("KS1-E01", on_school(header=replace(HEADER, estab="201")), on_school(), "laestab", "201"),
    Case("KS1-E02", on_school(school=None), on_school(), "laestab", "9382001"),
    Case("KS1-E03", on_return("9382001", "9382002", "9382001"), on_return("9382001", "9382002"),
         "laestab", "9382001"),
    Case("KS1-E04", on_school(count=10, expected=30), on_school(count=20, expected=30),
         "laestab", "10"),
    Case("KS1-E05", on_school_info(phase_name="Secondary", low_age=11, high_age=16),
         on_school_info(phase_name="Primary", low_age=4, high_age=7), "laestab", "Secondary"),
    Case("KS1-P01", on_pupil(upn=""), on_pupil(), "upn", "", value_in_message=False),
    Case("KS1-P02", on_pupil(upn="A938200123009"), on_pupil(upn="P938200123002"), "upn",
         "A938200123009"),
    Case("KS1-P03", on_cohort(entry(1), entry(2, laestab="9382002", forename="Ben")),
         on_cohort(entry(1), entry(2, upn="P938200123002", forename="Ben")), "upn",
         "A938200123001"),
    Case("KS1-P04", on_pupil(upn="A999200123001"), on_pupil(), "upn", "A999200123001"),
    Case("KS1-P05", on_pupil(upn="A93820X123001"), on_pupil(), "upn", "A93820X123001"),
    Case("KS1-P06", on_pupil(upn="A93820012300"), on_pupil(), "upn", "A93820012300"),
    Case("KS1-P07", on_pupil(upn="G80120000101A"), on_pupil(), "upn", "G80120000101A"),
    Case("KS1-P08", on_pupil(surname="Sm1th"), on_pupil(surname="Núñez"), "surname", "Sm1th"),
    Case("KS1-P09", on_pupil(forename="=HYPERLINK(x)"), on_pupil(forename="Zoë"), "forename",
         "=HYPERLINK(x)"),
    Case("KS1-P10", on_pupil(dob="31/02/2016"), on_pupil(), "dob", "31/02/2016"),
    Case("KS1-P11", on_pupil(dob="2015-08-31"), on_pupil(dob="2015-09-01"), "dob", "2015-08-31"),
    Case("KS1-P12", on_pupil(dob="2009-05-01"), on_pupil(dob="2014-05-01"), "dob", "2009-05-01"),
    Case("KS1-P13", on_pupil(sex="X"), on_pupil(sex="m"), "sex", "X"),
    Case("KS1-P14", on_cohort(entry(1), entry(2, upn="P938200123002", surname="SMITH ")),
         on_cohort(entry(1), entry(2, upn="P938200123002", dob="2016-01-15")), "upn",
         "A938200123001"),
    Case("KS1-P15", on_pupil(nc_year="3"), on_pupil(nc_year="Y2"), "nc_year", "3"),
    Case("KS1-T01", on_pupil(reading=None), on_pupil(), "reading", "", value_in_message=False),
    Case("KS1-T02", on_pupil(writing=" "), on_pupil(), "writing", " ", value_in_message=False),
    Case("KS1-T03", on_pupil(maths=""), on_pupil(), "maths", "", value_in_message=False),
    Case("KS1-T04", on_pupil(science=None), on_pupil(), "science", "", value_in_message=False),
    Case("KS1-T05", on_pupil(writing="EXP"), on_pupil(writing="exs"), "writing", "EXP"),
    Case("KS1-T06", on_pupil(science="EX"), on_pupil(science="HNM"), "science", "EX"),
    Case("KS1-T07", on_pupil(reading="BLW"), on_pupil(reading="PK1"), "reading", "BLW"),
    Case("KS1-T08", on_pupil(maths="GDS", duplicate_outcomes={"maths": ["EXS", "GDS"]}),
         on_pupil(maths="GDS"), "maths", "GDS"),
    Case("KS1-T09", on_pupil(reading="EM", writing="EM", maths="PK1", science="HNM"),
         on_pupil(reading="EM", writing="EM", maths="EM", science="HNM"), "maths", "PK1"),
    Case("KS1-T10", on_pupil(writing="PK3", science="EXS"),
         on_pupil(writing="PK3", science="HNM"), "science", "EXS"),
    Case("KS1-T11", on_pupil(reading="GDS", writing="PK2", maths="EXS"),
         on_pupil(reading="GDS", writing="PK4", maths="EXS"), "writing", "PK2"),
    Case("KS1-T12", on_pupil(**ALL_A), on_pupil(**{**ALL_A, "science": "HNM"}), "reading", "A"),
    Case("KS1-T13", on_pupil(reading="Q"), on_pupil(), "reading", "Q"),
    Case("KS1-T14", on_pupil(science=None, wrong_parameters={"science": "Year 2022"}),
         on_pupil(wrong_parameters={"science": "Year 2022"}), "science", "Year 2022"),
]  # fmt: skip


def of(rule_id: str, findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.rule == rule_id]


# -- the table covers every rule -------------------------------------------------------------


def test_every_spec_rule_is_registered_and_nothing_else():
    assert set(KS1_RULES) == set(SPEC_RULES)


def test_every_rule_has_a_case():
    ids = [c.rule for c in CASES]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(KS1_RULES)


@pytest.mark.parametrize("rule_id", sorted(SPEC_RULES))
def test_shipped_severity_is_the_spec_severity(rule_id):
    expected = {"E": "error", "Q": "query"}[SPEC_RULES[rule_id]]
    assert severity_of(rule_id, D) == expected
    assert RULES[rule_id].severity == expected
    assert is_enabled(rule_id, D)


def test_rules_are_described():
    for rule in KS1_RULES.values():
        assert rule.title and rule.title[0].isupper()
        assert rule.field in D.fields
        assert rule.spec_status in ("CONFIRMED", "LIKELY", "UNCERTAIN")
        assert rule.check.__doc__ is None or rule.check.__doc__.strip()
    assert [r.dfe_ref for r in KS1_RULES.values() if r.dfe_ref] == [
        "1500", "1510", "1520", "1530", "1540", "1550"
    ]  # fmt: skip


# -- each rule fires on one input and not on another ------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.rule)
def test_rule_fires(case: Case):
    found = of(case.rule, case.fails())
    assert found, f"{case.rule} did not fire"
    f = found[0]
    assert f.severity == severity_of(case.rule, D)
    assert f.field == case.field
    assert f.value == case.value
    assert_plain(f.message)
    if case.value_in_message:
        # Dates are written in words in messages ("31 August 2015"), never ISO.
        shown = case.value.strip()
        if f.field == "dob" and len(shown) == 10 and shown[4] == "-":
            shown = long_date(dt.date.fromisoformat(shown))
        assert shown in f.message


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.rule)
def test_rule_passes(case: Case):
    assert of(case.rule, case.passes()) == []


def assert_plain(message: str) -> None:
    assert message[0].isupper() and message.endswith((".", "?"))
    assert "KS1-" not in message and "None" not in message and "{" not in message
    assert any(f" {word} " in f" {message.lower()} " for word in ACTIONS), message
    assert "\n" not in message


def test_a_clean_pupil_has_no_findings():
    assert check_pupil(pupil(), D) == []
    assert check_pupil(pupil(upn="P938200123002", forename="Zoë", surname="O’Brien-Núñez"), D) == []


# -- UPN rules -------------------------------------------------------------------------------


def test_message_for_wrong_check_letter():
    (f,) = check_pupil(pupil(upn="A938200123009"), D)
    assert f.message == (
        "UPN A938200123009 has the wrong check letter: check it against the pupil's records "
        "and correct it (the first letter is worked out from the other 12 characters)."
    )


def test_check_letter_only_when_the_rest_is_well_formed():
    # Wrong LA code and (for that body) wrong letter: only the LA code is reported.
    assert [f.rule for f in check_pupil(pupil(upn="A999200123009"), D)] == ["KS1-P04"]


def test_wrong_length_is_reported_once():
    assert [f.rule for f in check_pupil(pupil(upn="A9382"), D)] == ["KS1-P06"]
    assert [f.rule for f in check_pupil(pupil(upn="A9382001230011"), D)] == ["KS1-P06"]


def test_forbidden_last_letter():
    (f,) = check_pupil(pupil(upn="A93820012300I"), D)
    assert f.rule == "KS1-P06" and "'I'" in f.message


def test_missing_upn_is_only_p01():
    assert [f.rule for f in check_pupil(pupil(upn="  "), D)] == ["KS1-P01"]


def test_temporary_upn_with_wrong_letter_is_an_error_not_a_query():
    assert [f.rule for f in check_pupil(pupil(upn="H80120000101A"), D)] == ["KS1-P02"]


# -- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["Zoë", "Núñez", "Löwe", "O'Brien", "O’Brien", "St. John", "Smith-Jones", "Mary Ann",
     "Zoe\u0308", "Ægir", "Σοφία", "Иван", "A" * 35],
)  # fmt: skip
def test_valid_names(name):
    assert check_pupil(pupil(surname=name, forename=name), D) == []


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("=SUM(A1)", "formula"),
        ("+44", "formula"),
        ("@me", "formula"),
        ("Sm1th", "digit"),
        ("Smith#", "'#'"),
        ("Smith\u00a0Jones", "U+00A0"),
        ("-", "no letters"),
        ("A" * 36, "36 characters"),
        ("", "missing"),
    ],
)
def test_invalid_names(name, words):
    (f,) = of("KS1-P08", check_pupil(pupil(surname=name), D))
    assert words in f.message
    assert f.value == name


# -- dates of birth --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dob", "rules"),
    [
        ("2016-08-31", []),
        ("2016-09-01", ["KS1-P11"]),
        ("2017-08-31", ["KS1-P11"]),
        ("2017-09-01", ["KS1-P12"]),
        ("2011-09-01", ["KS1-P11"]),
        ("2011-08-31", ["KS1-P12"]),
        ("", ["KS1-P10"]),
        ("2016-02-30", ["KS1-P10"]),
        ("yesterday", ["KS1-P10"]),
    ],
)
def test_dob_rules_do_not_overlap(dob, rules):
    assert [f.rule for f in check_pupil(pupil(dob=dob), D)] == rules


def test_p11_reports_implausible_dates_when_p12_is_off():
    d = modified({"KS1-P12": {"enabled": False}})
    assert [f.rule for f in check_pupil(pupil(dob="2009-01-01"), d)] == ["KS1-P11"]


# -- sex and NC year -------------------------------------------------------------------------


@pytest.mark.parametrize(("sex", "fires"), [("M", False), ("f", False), (" F ", False),
                                            ("Male", True), ("", True), ("U", True)])  # fmt: skip
def test_sex(sex, fires):
    assert bool(of("KS1-P13", check_pupil(pupil(sex=sex), D))) == fires


@pytest.mark.parametrize(("nc_year", "fires"), [("", False), ("2", False), ("02", False),
                                                ("Year 2", False), ("R", True), ("1", True),
                                                ("12", True)])  # fmt: skip
def test_nc_year(nc_year, fires):
    assert bool(of("KS1-P15", check_pupil(pupil(nc_year=nc_year), D))) == fires


# -- outcomes --------------------------------------------------------------------------------


def test_codes_are_compared_trimmed_and_upper_cased():
    assert check_pupil(pupil(reading=" exs", writing="wts ", maths="Gds", science="hnm"), D) == []


def test_legacy_code_is_t07_only():
    assert [f.rule for f in check_pupil(pupil(reading="blw"), D)] == ["KS1-T07"]
    assert [f.rule for f in check_pupil(pupil(maths="HNM"), D)] == ["KS1-T07"]
    assert [f.rule for f in check_pupil(pupil(science="GDS"), D)] == ["KS1-T07"]


def test_legacy_code_is_t05_when_t07_is_off():
    d = modified({"KS1-T07": {"enabled": False}})
    assert [f.rule for f in check_pupil(pupil(reading="BLW"), d)] == ["KS1-T05"]


@pytest.mark.parametrize(
    ("written", "hint"),
    [("EXP", "EXS"), ("ex", "EXS"), ("pk 4", "PK4"), ("E.X.S", "EXS"), ("Absent", "A"),
     ("greater depth", "GDS"), ("XYZ", None), ("HN", None)],
)  # fmt: skip
def test_invalid_code_suggests_the_intended_one(written, hint):
    (f,) = check_pupil(pupil(reading=written), D)
    assert (f.rule, f.field, f.value) == ("KS1-T05", "reading", written)
    assert (f"did you mean {hint}?" in f.message) == bool(hint)
    assert "Q" not in f.message.split("Use one of")[-1]  # Q is the LA's, not the school's


def test_science_hints():
    (f,) = check_pupil(pupil(science="has not met"), D)
    assert f.rule == "KS1-T06" and "did you mean HNM?" in f.message


def test_q_is_valid_in_science_from_the_definition():
    assert [f.rule for f in check_pupil(pupil(science="Q"), D)] == ["KS1-T13"]
    raw = copy.deepcopy(D.raw)
    raw["subjects"][3]["valid"].remove("Q")
    d = definition.parse_definition(raw)
    assert {f.rule for f in check_pupil(pupil(science="Q"), d)} == {"KS1-T06", "KS1-T13"}


def test_several_subjects_give_one_finding_each():
    found = of("KS1-T05", check_pupil(pupil(reading="X1", writing="X2", maths="X3"), D))
    assert [(f.field, f.value) for f in found] == [
        ("reading", "X1"), ("writing", "X2"), ("maths", "X3")
    ]  # fmt: skip


def test_wrong_parameters_supersede_missing():
    p = pupil(reading=None, wrong_parameters={"reading": "Method TT"})
    assert [f.rule for f in check_pupil(p, D)] == ["KS1-T14"]
    d = modified({"KS1-T14": {"enabled": False}})
    assert [f.rule for f in check_pupil(p, d)] == ["KS1-T01"]


def test_duplicate_message_names_every_code():
    (f,) = check_pupil(pupil(maths="GDS", duplicate_outcomes={"maths": ["EXS", "GDS"]}), D)
    assert "2 times (EXS, GDS; 'GDS' was used)" in f.message


def test_t09_leaves_a_missing_subject_to_t01_t03():
    p = pupil(reading="EM", writing="EM", maths=None, science="HNM")
    assert [f.rule for f in check_pupil(p, D)] == ["KS1-T03"]


def test_t09_needs_em_somewhere():
    assert check_pupil(pupil(reading="PK1", writing="PK1", maths="PK2", science="HNM"), D) == []


def test_t11_spread_is_a_setting():
    p = pupil(reading="GDS", writing="PK4", maths="EXS", science="HNM")
    assert of("KS1-T11", check_pupil(p, D)) == []
    d = modified({"KS1-T11": {"severity": "query", "max_spread": 2}})
    assert [f.rule for f in check_pupil(p, d)] == ["KS1-T11"]


# -- severities and switches are data --------------------------------------------------------


def modified(rules: dict) -> definition.Definition:
    raw = copy.deepcopy(D.raw)
    raw["rules"].update(rules)
    return definition.parse_definition(raw, source="test copy")


def test_changing_a_severity_changes_the_finding():
    p = pupil(upn="G80120000101A")
    assert [f.severity for f in check_pupil(p, D)] == ["query"]
    d = modified({"KS1-P07": {"severity": "error"}})
    assert [(f.rule, f.severity) for f in check_pupil(p, d)] == [("KS1-P07", "error")]
    assert severity_of("KS1-P07", d) == "error"


def test_disabling_a_rule_removes_its_findings():
    p = pupil(upn="G80120000101A")
    d = modified({"KS1-P07": {"enabled": False}})
    assert check_pupil(p, d) == []
    assert not is_enabled("KS1-P07", d)


def test_disabling_works_for_every_scope():
    d = modified({r: {"enabled": False} for r in ("KS1-H01", "KS1-E02", "KS1-P03", "KS1-F01")})
    assert of("KS1-H01", check_return_header({**RETURN_HEADER, "Collection": "X"}, d, la="938",
                                             now=NOW)) == []  # fmt: skip
    assert of("KS1-E02", check_school(HEADER, None, 20, d)) == []
    assert check_cohort([entry(1), entry(2)], d) == []
    assert file_rejected("broken", d) == []


def test_severity_change_in_other_scopes():
    d = modified({"KS1-E02": {"severity": "query"}, "KS1-P03": {"severity": "query"}})
    assert [f.severity for f in of("KS1-E02", check_school(HEADER, None, 20, d))] == ["query"]
    assert {f.severity for _, f in check_cohort([entry(1), entry(2)], d)} == {"query"}


def test_unknown_rule_or_severity_in_a_definition_is_refused():
    with pytest.raises(ValueError, match="KS1-X99"):
        context_for(modified({"KS1-X99": {"severity": "error"}}))
    with pytest.raises(ValueError, match="warning"):
        context_for(modified({"KS1-P07": {"severity": "warning"}}))


def test_shipped_definition_is_accepted():
    ctx = context_for(D)
    assert set(ctx.severity) == set(KS1_RULES)
    assert ctx.severity.keys() <= SPEC_RULES.keys()


# -- establishments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"la": "937"}, "belongs to LA 937"),
        ({"status_name": "Closed"}, "'Closed'"),
        ({"type_name": "Other independent school"}, "not state-funded"),
    ],
)
def test_e02_register_facts(changes, words):
    (f,) = of("KS1-E02", on_school_info(**changes)())
    assert words in f.message and f.value == "9382001"


def test_e02_is_quiet_when_the_number_itself_is_wrong():
    found = check_school(replace(HEADER, estab="20X1"), None, 20, D)
    assert [f.rule for f in found] == ["KS1-E01"]


def test_e04_no_pupils():
    (f,) = of("KS1-E04", check_school(HEADER, SCHOOL, 0, D))
    assert f.value == "0" and "No pupils" in f.message


def test_e04_without_an_expected_count_only_checks_for_none():
    assert of("KS1-E04", check_school(HEADER, SCHOOL, 1, D)) == []


def test_e05_junior_school_by_age():
    found = of("KS1-E05", on_school_info(low_age=7, high_age=11)())
    assert found and "ages 7-11" in found[0].message


def test_e05_all_through_and_special_schools_are_fine():
    assert on_school_info(phase_name="All-through", low_age=4, high_age=18)() == []
    assert on_school_info(phase_name="Not applicable", low_age=None, high_age=None)() == []


def test_e03_is_keyed_by_laestab():
    found = check_establishments(["9382001", "9382001", "9382001", "9382002"], D)
    assert [(k, f.value) for k, f in found] == [("9382001", "9382001")]
    assert "3 times" in found[0][1].message


# -- return header ---------------------------------------------------------------------------


def test_clean_return_header():
    assert check_return_header(RETURN_HEADER, D, la="938", now=NOW) == []


@pytest.mark.parametrize(
    ("changes", "words"),
    [({"LEA": None}, "has no LEA"), ({"LEA": "999"}, "not an LA code"),
     ({"LEA": "909"}, "not an LA code"), ({"LEA": "937"}, "the return is for LA 938")],
)  # fmt: skip
def test_h05_variants(changes, words):
    (f,) = on_header(**changes)()
    assert f.rule == "KS1-H05" and words in f.message


def test_h06_reports_each_missing_item():
    found = on_header(SoftwareCode=None, Release=" ")()
    assert [f.rule for f in found] == ["KS1-H06", "KS1-H06"]
    assert "SoftwareCode" in found[0].message and "Release" in found[1].message


@pytest.mark.parametrize("value", ["", "-1", "one", "1.5"])
def test_h07_bad_serials(value):
    assert [f.rule for f in on_header(SerialNo=value)()] == ["KS1-H07"]


@pytest.mark.parametrize("value", ["", "2023-07-03 09:15:00", "03/07/2023", "2023-02-30T09:15:00",
                                   "2023-07-03T09:15:00Z"])  # fmt: skip
def test_h08_bad_dates(value):
    assert [f.rule for f in on_header(DateTime=value)()] == ["KS1-H08"]


def test_h08_compares_with_london_time_when_now_is_aware():
    # 12:30 BST is 11:30 UTC: a header written at 12:20 local time is not in the future.
    now = dt.datetime(2023, 7, 10, 11, 30, tzinfo=dt.UTC)
    header = {**RETURN_HEADER, "DateTime": "2023-07-10T12:20:00"}
    assert check_return_header(header, D, la="938", now=now) == []
    header = {**RETURN_HEADER, "DateTime": "2023-07-10T13:20:00"}
    assert [f.rule for f in check_return_header(header, D, la="938", now=now)] == ["KS1-H08"]


# -- file ------------------------------------------------------------------------------------


def test_f01_from_a_rejected_file():
    (f,) = file_rejected(RejectedFile("no pupils found", line=3), D, file_name="x.csv")
    assert (f.rule, f.severity, f.field, f.value) == ("KS1-F01", "error", "file", "x.csv")
    assert "(line 3)" in f.message and "no pupils found" in f.message


# -- cohort ----------------------------------------------------------------------------------


def test_p03_marks_every_record_and_names_the_others():
    found = check_cohort(
        [entry(1), entry(2, laestab="9382002", forename="Ben", surname="Cole"),
         entry(3, upn="a938200123001 ", forename="Cy"), entry(4, upn="P938200123002")], D
    )  # fmt: skip
    p03 = {k: f for k, f in found if f.rule == "KS1-P03"}
    assert set(p03) == {1, 2, 3}
    assert "Ben Cole at 9382002" in p03[1].message
    assert "Cy Smith at the same school" in p03[1].message
    assert "Ava Smith at 9382001" in p03[2].message
    assert p03[3].value == "a938200123001 "


def test_p03_names_both_pupils_and_the_other_school_by_name():
    ava = entry(1)._replace(school="Example Primary School")
    ben = entry(2, laestab="9382002", forename="Ben", surname="Cole")._replace(
        school="Downs Infant School"
    )
    found = {k: f.message for k, f in check_cohort([ava, ben], D) if f.rule == "KS1-P03"}
    assert found[1].startswith("UPN A938200123001 of Ava Smith is also on the record of Ben Cole")
    assert "Ben Cole at Downs Infant School (9382002)" in found[1]
    assert found[2].startswith("UPN A938200123001 of Ben Cole is also on the record of Ava Smith")
    assert "Ava Smith at Example Primary School (9382001)" in found[2]


def test_p14_says_the_date_of_birth_in_words_and_the_other_spelling():
    found = check_cohort(
        [entry(1, surname="Núñez", forename="Zoë"),
         entry(2, upn="P938200123002", surname=" NUNEZ", forename="zoe", laestab="9382002")], D
    )  # fmt: skip
    first = found[0][1].message
    assert first.startswith("Zoë Núñez, born 14 January 2016, UPN A938200123001")
    assert "UPN P938200123002 at 9382002, named zoe NUNEZ" in first
    assert "2016-01-14" not in first


def test_p03_ignores_missing_upns():
    assert check_cohort([entry(1, upn=""), entry(2, upn=" ", forename="Ben")], D) == []


def test_p03_message_stays_short_for_big_groups():
    found = check_cohort([entry(i, forename=f"Kid{i}") for i in range(500)], D)
    assert len(found) == 500
    assert "and 496 more" in found[0][1].message


def test_p14_ignores_case_accents_and_spaces():
    found = check_cohort(
        [entry(1, surname="Núñez", forename="Zoë"),
         entry(2, upn="P938200123002", surname=" NUNEZ", forename="zoe", laestab="9382002")], D
    )  # fmt: skip
    assert [(k, f.rule) for k, f in found] == [(1, "KS1-P14"), (2, "KS1-P14")]
    assert "UPN P938200123002 at 9382002" in found[0][1].message
    assert "UPN A938200123001 at 9382001" in found[1][1].message


def test_p14_needs_different_upns_and_full_details():
    same = [entry(1), entry(2, laestab="9382002")]
    assert {f.rule for _, f in check_cohort(same, D)} == {"KS1-P03"}
    no_dob = [entry(1, dob=""), entry(2, upn="P938200123002", dob="")]
    assert check_cohort(no_dob, D) == []


def test_p14_with_three_records_two_sharing_a_upn():
    found = check_cohort([entry(1), entry(2), entry(3, upn="P938200123002")], D)
    p14 = {k: f.message for k, f in found if f.rule == "KS1-P14"}
    assert set(p14) == {1, 2, 3}
    assert p14[3].count("UPN A938200123001 at the same school") == 1 and "more" not in p14[3]
    assert "UPN P938200123002" in p14[1] and "UPN A938200123001 at" not in p14[1]


def test_cohort_accepts_plain_tuples():
    found = check_cohort([(1, "9382001", "A938200123001", "Smith", "Ava", "2016-01-14")] * 2, D)
    assert len(found) == 2


# -- robustness ------------------------------------------------------------------------------

text = st.text(max_size=15)


@settings(max_examples=300, deadline=None)
@given(
    upn=text, surname=text, forename=text, dob=text, sex=text, nc_year=text,
    reading=text, writing=text, maths=text, science=text,
)  # fmt: skip
def test_check_pupil_never_raises(**values):
    for f in check_pupil(pupil(**values), D):
        assert f.severity in SEVERITIES
        assert f.field in D.fields
        assert f.rule in RULES
        assert f.message


def test_remembered_findings_follow_the_values():
    # Outcome and date-of-birth rules are remembered by value; a changed pupil is re-checked.
    p = pupil(reading="BLW")
    assert [f.rule for f in check_pupil(p, D)] == ["KS1-T07"]
    p.outcomes["reading"] = "EXS"
    p.dob = "2009-01-01"
    assert [f.rule for f in check_pupil(p, D)] == ["KS1-P12"]
    assert [f.value for f in check_pupil(pupil(reading="blw", line=99), D)] == ["blw"]
