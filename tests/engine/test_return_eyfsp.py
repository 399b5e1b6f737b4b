"""The EYFS profile's return: one XML per school or setting, valid against the EYFSP XSD, each
child with a row per goal (1, 2 or A) under the area's code and the goal's component; a
setting given by its early-years URN in place of Estab; the reader reads it back to the same
children and runs the profile's rules on them."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from lxml import etree

from keystage.engine import definition, upn
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

D = definition.load("eyfsp-2024")
NOW = dt.datetime(2024, 7, 10, 12, 0)
GOALS = [f"elg{n:02d}" for n in range(1, 18)]
SCHOOL = SchoolInfo("938", "2001", "125000", "Example Primary", "Community school", "Primary",
                    "Open", 4, 11)  # fmt: skip
SETTING = SchoolInfo("938", "", "512345", "Little Acorns", "Private, voluntary or independent "
                     "setting", "Nursery", "Open", 0, 5)  # fmt: skip


def child(n: int, judgements: dict[str, str]) -> ReturnPupil:
    return ReturnPupil(upn=upn.make("938", "2001", "23", f"{n:03d}"), surname=f"SMITH{chr(64 + n)}",
                       forename="Zoë", dob="2018-10-14", sex="F", outcomes=judgements)  # fmt: skip


def write(establishments) -> bytes:
    out = io.BytesIO()
    write_return(out, make_header(D, la="938", serial=1, release="0.1", created=NOW),
                 establishments, D)  # fmt: skip
    return out.getvalue()


def test_a_return_of_a_school_and_a_setting_matches_its_xsd_and_reads_back():
    emerging = {**dict.fromkeys(GOALS, "2"), "elg09": "1"}
    content = write([
        ReturnEstablishment("938", "2001", [child(1, emerging), child(2, dict.fromkeys(GOALS, "a"))]),
        ReturnEstablishment("938", "", [child(3, dict.fromkeys(GOALS, "2"))], urn="512345"),
    ])  # fmt: skip
    root = etree.fromstring(content)
    schema_for(D).assertValid(root)
    assert root.tag == "EYFSP" and root.findtext("Header/CollectionDetails/Collection") == "EYFSP"
    school, setting = root.findall("Establishments/Establishment")
    assert (school.findtext("Estab"), school.findtext("URN")) == ("2001", None)
    assert (setting.findtext("Estab"), setting.findtext("URN")) == (None, "512345")
    rows = [(r.findtext("Subject"), r.findtext("Component"), r.findtext("Result"))
            for r in school.find("Pupils/Pupil").iter("StageAssessment")]  # fmt: skip
    assert len(rows) == 17 and rows[0] == ("COM", "E01", "2") and rows[8] == ("LIT", "E09", "1")
    assert school_file_name(D, la="938", estab="2001", serial=1) == "9382001_EYF_2024_001.xml"
    rf = read_return(content, D, name="return.xml", la="938", now=NOW,
                     schools={"9382001": SCHOOL, "512345": SETTING})  # fmt: skip
    read_school, read_setting = rf.establishments
    assert [p.record.outcomes for p in read_school.pupils] == [
        emerging, dict.fromkeys(GOALS, "A"),
    ]  # fmt: skip
    assert read_setting.school is SETTING and not read_setting.findings
    assert all(not p.findings for e in rf.establishments for p in e.pupils)


def test_a_child_partly_not_assessed_travels_as_held_and_is_found_by_the_collector():
    partly = {**dict.fromkeys(GOALS, "2"), "elg04": "A"}
    rf = read_return(write([ReturnEstablishment("938", "2001", [child(1, partly)])]), D,
                     name="return.xml", la="938", now=NOW, schools={"9382001": SCHOOL})  # fmt: skip
    [p] = rf.establishments[0].pupils
    assert "EYF-R03" in {f.rule for f in p.findings}
