"""The phonics return (spec phonics.md §3.3): one XML per school, valid against the phonics XSD,
each pupil with their NC year and either the mark or the outcome code (Wa/Wt never sent); the
reader reads it back to the same pupils, and refuses what the collector cannot hold."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from lxml import etree

from keystage.engine import definition, upn
from keystage.engine.records import RejectedFile
from keystage.engine.return_reader import read_return, schema_for
from keystage.engine.return_writer import (
    ReturnEstablishment,
    ReturnPupil,
    make_header,
    school_file_name,
    write_return,
)
from keystage.engine.rules import SchoolInfo

pytestmark = pytest.mark.one_pass

D = definition.load("phonics-2023")
KS1 = definition.load()
NOW = dt.datetime(2023, 7, 10, 12, 0)
SCHOOLS = {
    "9382001": SchoolInfo(
        "938", "2001", "125000", "Example Primary", "Community school", "Primary", "Open", 4, 11
    ),
}


def _pupil(n: int, outcomes: dict[str, str], nc_year: str = "1") -> ReturnPupil:
    return ReturnPupil(
        upn=upn.make("938", "2001", "16", f"{n:03d}"),
        surname=f"SMITH{chr(65 + n)}",
        forename="Zoë",
        dob="2016-10-14" if nc_year == "1" else "2015-10-14",
        sex="F" if n % 2 else "M",
        outcomes=outcomes,
        nc_year=nc_year,
    )


# Hand-worked: what each pupil's record holds, and what the return must carry for them.
CLASS = [
    (_pupil(1, {"mark": "34"}), {"mark": "34"}),
    (_pupil(2, {"mark": " 32", "psc_code": "Wa"}), {"mark": "32"}),  # Wa beside a mark: dropped
    (_pupil(3, {"mark": "12", "psc_code": "wt"}), {"mark": "12"}),  # Wt, any case: dropped
    (_pupil(4, {"psc_code": "a"}), {"psc_code": "A"}),  # absent: the code, upper-cased
    (_pupil(5, {"psc_code": "D"}), {"psc_code": "D"}),
    (_pupil(6, {"mark": "28"}, nc_year="2"), {"mark": "28"}),  # the Year 2 re-check
]


def _write(establishments, *, d=D) -> bytes:
    out = io.BytesIO()
    header = make_header(d, la="938", serial=1, release="0.1.0", created=NOW)
    write_return(out, header, establishments, d)
    return out.getvalue()


def _read(content: bytes, d=D):
    return read_return(content, d, name="return.xml", la="938", schools=SCHOOLS, now=NOW)


def _good() -> bytes:
    return _write([ReturnEstablishment("938", "2001", [p for p, _ in CLASS])])


def test_a_phonics_return_matches_its_xsd_and_reads_back_the_same_pupils():
    content = _good()
    schema_for(D).assertValid(etree.fromstring(content))
    assert school_file_name(D, la="938", estab="2001", serial=1) == "9382001_PSC_2023_001.xml"
    root = etree.fromstring(content)
    assert root.tag == "Phonics"
    assert root.findtext("Header/CollectionDetails/Collection") == "PHONICS"
    pupils = root.findall("Establishments/Establishment/Pupils/Pupil")
    assert [p.findtext("NCyear") for p in pupils] == ["1", "1", "1", "1", "1", "2"]
    # Either the mark or the outcome code, one row each: Wa and Wt never appear.
    rows = [
        [(r.findtext("Component"), r.findtext("Result")) for r in p.iter("StageAssessment")]
        for p in pupils
    ]
    assert rows == [
        [("MARK", "34")],
        [("MARK", "32")],
        [("MARK", "12")],
        [("OUTCOME", "A")],
        [("OUTCOME", "D")],
        [("MARK", "28")],
    ]
    rf = _read(content)
    assert rf.header["Collection"] == "PHONICS" and rf.header["SerialNo"] == "1"
    [est] = rf.establishments
    got = [p.record for p in est.pupils]
    assert [(r.upn, r.surname, r.forename, r.dob, r.sex, r.nc_year) for r in got] == [
        (p.upn, p.surname, p.forename, p.dob, p.sex, p.nc_year) for p, _ in CLASS
    ]
    assert [r.outcomes for r in got] == [sent for _, sent in CLASS]
    assert all(not p.findings for p in est.pupils), [p.findings for p in est.pupils]


def test_a_pupil_of_another_nc_year_arrives_and_is_found_by_the_collector():
    stray = _pupil(7, {"mark": "30"}, nc_year="3")
    [read] = _read(_write([ReturnEstablishment("938", "2001", [stray])])).establishments
    assert read.pupils[0].record.nc_year == "3"
    assert "PSC-P15" in {f.rule for f in read.pupils[0].findings}


def test_a_mark_and_a_code_instead_of_one_travel_as_held_and_are_an_error():
    # The LA confirmed building with the error open: the collector sees both and the error.
    both = _pupil(8, {"mark": "20", "psc_code": "A"})
    [read] = _read(_write([ReturnEstablishment("938", "2001", [both])])).establishments
    assert read.pupils[0].record.outcomes == {"mark": "20", "psc_code": "A"}
    assert "PSC-R03" in {f.rule for f in read.pupils[0].findings}


def _ks1_return() -> bytes:
    from keystage.engine.return_writer import ReturnPupil as P

    pupil = P(upn.make("938", "2001", "16", "001"), "SMITH", "ANN", "2016-01-14", "F",
              {"reading": "EXS", "writing": "EXS", "maths": "EXS", "science": "EXS"})  # fmt: skip
    return _write([ReturnEstablishment("938", "2001", [pupil])], d=KS1)


HOSTILE = {
    "a KS1 return": (_ks1_return, "not a PHONICS return"),
    "wrong collection": (
        lambda: _good().replace(
            b"<Collection>PHONICS</Collection>", b"<Collection>KS1</Collection>"
        ),
        "Collection",
    ),
    "wrong year": (lambda: _good().replace(b"<Year>2023</Year>", b"<Year>2022</Year>", 1), "2023"),
    "doctype": (
        lambda: _good().replace(b"?>\n", b'?>\n<!DOCTYPE P [<!ENTITY x SYSTEM "file:///x">]>\n', 1),
        "DOCTYPE",
    ),
    "NC year out of place": (
        lambda: (
            _good()
            .replace(b"<NCyear>2</NCyear>", b"")
            .replace(b"</UPN>", b"</UPN><NCyear>2</NCyear>", 1)
        ),
        "does not match the return layout at line",
    ),
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_or_wrong_phonics_files_are_refused_with_a_reason(kind):
    make, words = HOSTILE[kind]
    with pytest.raises(RejectedFile) as e:
        _read(make())
    assert e.value.reason.startswith("return.xml: ")
    assert words in e.value.reason, e.value.reason
    assert "\n" not in e.value.reason


def test_a_ks1_return_has_no_nc_year_and_is_unchanged():
    content = _ks1_return()
    assert b"NCyear" not in content
    schema_for(KS1).assertValid(etree.fromstring(content))
