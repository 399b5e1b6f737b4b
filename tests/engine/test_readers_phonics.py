"""Phonics screening check rows read from a CTF with the phonics definition (spec phonics.md
§3.1): the mark and the outcome code of each pupil, Year 1 and Year 2 pupils kept, other year
groups left out; a KS1 import and a phonics import of the same school file each use their own
rows and count the other's as ignored, by name."""

from __future__ import annotations

import io

import pytest
from tests.builders import ctf, pupil

from keystage.engine import definition
from keystage.engine.readers.ctf import CtfReader

PHONICS = definition.load("phonics-2023")
KS1 = definition.load("ks1-2023")


def read(text: str, d):
    with CtfReader(io.BytesIO(text.encode()), d, name="9382001_CTF_938LLLL_001.xml",
                   owns_stream=True) as reader:  # fmt: skip
        pupils = list(reader.pupils())
        return pupils, reader.counts


def only_phonics(n: int, results, nc_year="1", **over) -> dict:
    """A pupil with phonics rows and no KS1 teacher assessment."""
    return pupil(n, nc_year=nc_year, phonics=results, reading=None, writing=None, maths=None,
                 science=None, **over)  # fmt: skip


@pytest.fixture
def school_file() -> str:
    return ctf([
        only_phonics(1, ["34"]),                 # Year 1, met the standard
        only_phonics(2, ["31"]),                 # Year 1, just below
        only_phonics(3, ["A"]),                  # Year 1, absent: a code instead of a mark
        only_phonics(4, ["32", "Wa"]),           # a mark and a "working at" code
        only_phonics(5, ["28"], nc_year="2"),    # Year 2 re-check
        pupil(6, nc_year="2", phonics=["Wt"]),   # Year 2 with KS1 teacher assessment too
        only_phonics(7, [], nc_year="3"),        # Year 3: in a whole-school CTF, not ours
    ])  # fmt: skip


def test_a_phonics_import_reads_each_pupils_mark_and_outcome_code(school_file):
    pupils, counts = read(school_file, PHONICS)
    assert [(p.upn[-3:], p.nc_year, p.outcomes) for p in pupils] == [
        ("001", "1", {"mark": "34"}),
        ("002", "1", {"mark": "31"}),
        ("003", "1", {"psc_code": "A"}),
        ("004", "1", {"mark": "32", "psc_code": "Wa"}),
        ("005", "2", {"mark": "28"}),
        ("006", "2", {"psc_code": "Wt"}),
    ]
    assert counts.ignored_pupils == 1  # the Year 3 pupil
    # Pupil 6's KS1 teacher assessment rows are another collection's, counted by name.
    assert counts.ignored_assessments == {"key stage 1 teacher assessment rows": 4}


def test_a_ks1_import_of_the_same_file_counts_the_phonics_rows_as_ignored(school_file):
    pupils, counts = read(school_file, KS1)
    # KS1 is Year 2's: the Year 2 pupil with only a phonics re-check is kept with no KS1
    # result (the rules say it is missing), Year 1 and Year 3 are left out.
    assert [(p.upn[-3:], p.outcomes.get("reading")) for p in pupils] == [
        ("005", None), ("006", "EXS"),
    ]  # fmt: skip
    assert counts.ignored_pupils == 5
    assert counts.ignored_assessments == {"phonics screening check rows": 7}


def test_a_mark_given_twice_is_a_duplicate_like_any_item():
    text = ctf([only_phonics(1, ["30", "33"])])
    (p,), _ = read(text, PHONICS)
    assert p.outcomes == {"mark": "33"} and p.duplicate_outcomes == {"mark": ["30", "33"]}


def test_last_years_phonics_rows_are_rows_for_other_years():
    text = ctf([only_phonics(1, ["35"], nc_year="2", year="2022")])
    (p,), counts = read(text, PHONICS)
    assert p.outcomes == {} and p.wrong_parameters == {"mark": "Year 2022"}
    assert counts.ignored_assessments == {"rows for other years": 1}


def test_dfes_phonics_csv_takes_its_establishment_from_its_name(tmp_path):
    from keystage.engine.readers import open_school_file

    path = tmp_path / "PHONICS_2001_23.csv"
    path.write_text(
        "UPN,Surname,Forename,DOB,Sex,NCyear,Mark,Outcome\n"
        "A938200123001,Smith,Ava,14/10/2016,F,1,34,\n"
        "B938200123002,Jones,Ben,01/10/2015,M,2,,A\n",
        encoding="utf-8",
    )
    with open_school_file(path, PHONICS) as reader:
        pupils = list(reader.pupils())
        assert (reader.header.la, reader.header.estab) == ("", "2001")
    assert [(p.nc_year, p.outcomes, p.dob) for p in pupils] == [
        ("1", {"mark": "34"}, "2016-10-14"),
        ("2", {"psc_code": "A"}, "2015-10-01"),
    ]
