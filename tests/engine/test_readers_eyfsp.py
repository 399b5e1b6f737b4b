"""EYFS profile files read with the EYFSP definitions (spec eyfsp.md §2): the 17 goals from a
CTF (each goal a row of Stage EYF, Subject its area, Component E01...E17, and the variants a
MIS writes), from a CTF named like a KS1 one or an FSP one (the content decides), and from
DfE's EYFSP_DDDD_yy.csv; a setting's file identified by its URN; a KS1 file imported as EYFSP
(and the other way round) read as the other collection's."""

from __future__ import annotations

import io

import pytest
from tests.builders import EYFSP_AREAS, ctf, eyfsp_pupil, eyfsp_rows, pupil

from keystage.engine import definition
from keystage.engine.readers import open_school_file
from keystage.engine.records import RejectedFile

pytestmark = pytest.mark.one_pass

EYFSP = definition.load("eyfsp-2023")
KS1 = definition.load("ks1-2023")
GOALS = [f"elg{n:02d}" for n in range(1, 18)]


def read(content: str | bytes, d, name: str = "9382001_CTF_938LLLL_001.xml"):
    data = content.encode() if isinstance(content, str) else content
    with open_school_file(io.BytesIO(data), d, name=name) as reader:
        return reader.header, list(reader.pupils()), reader.counts


@pytest.mark.parametrize("name", ["9382001_CTF_938LLLL_001.xml", "9382001_FSP_938LLLL_001.xml",
                                  "profiles.xml"])  # fmt: skip
def test_a_ctf_gives_each_childs_17_goals_whatever_its_name(name):
    judgements = ["2"] * 17
    judgements[8] = "1"  # ELG 09 word reading, emerging
    _, pupils, counts = read(ctf([eyfsp_pupil(1, judgements), eyfsp_pupil(2, "A")]), EYFSP, name)
    assert [p.outcomes for p in pupils] == [
        dict(zip(GOALS, judgements, strict=True)), dict.fromkeys(GOALS, "A"),
    ]  # fmt: skip
    assert [p.nc_year for p in pupils] == ["R", "R"] and not counts.ignored_assessments


@pytest.mark.parametrize(
    "subject, component, stage, method",
    [("LIT", "ELG09", "EYF", "FA"), ("LIT", "ELG9", "FSP", "TA"), ("FSP", "FSP_LIT_E09", "EYF", "FA"),
     ("LIT", "LIT_E09", "EYFS", ""), ("ELG", "E09", "FS", "FA")],
)  # fmt: skip
def test_every_variant_of_a_goals_row_is_read(subject, component, stage, method):
    row = (f"<StageAssessment><Year>2023</Year><Subject>{subject}</Subject><Method>{method}"
           f"</Method><Component>{component}</Component><Result>1</Result></StageAssessment>")  # fmt: skip
    text = ctf([eyfsp_pupil(1, [None] * 17)]).replace(
        "<Stage>EYF</Stage>", f"<Stage>{stage}</Stage>{row}"
    )
    _, [p], _ = read(text, EYFSP)
    assert p.outcomes == {"elg09": "1"}


def test_a_whole_school_ctf_keeps_reception_children_and_leaves_the_others():
    year1 = pupil(2, nc_year="1", reading=None, writing=None, maths=None, science=None)
    _, pupils, counts = read(ctf([eyfsp_pupil(1), year1]), EYFSP)
    assert [p.upn[-3:] for p in pupils] == ["001"] and counts.ignored_pupils == 1


def test_last_years_profile_rows_are_set_aside_as_last_years():
    text = ctf([eyfsp_pupil(1, year=2023)])
    _, [p], counts = read(text, definition.load("eyfsp-2024"))
    assert p.outcomes == {}
    assert counts.ignored_assessments == {"early years foundation stage profile 2023 rows": 17}
    assert counts.claimed == {"early years foundation stage profile 2023 rows": "eyfsp-2023"}


def test_a_ks1_file_imported_as_eyfsp_and_an_eyfsp_file_imported_as_ks1_name_each_other():
    _, pupils, counts = read(ctf([pupil(1), pupil(2)]), EYFSP)
    assert pupils == []  # Year 2 pupils with no row of the profile
    assert counts.claimed == {"key stage 1 teacher assessment rows": "ks1-2023"}
    _, pupils, counts = read(ctf([eyfsp_pupil(1)]), KS1)
    assert counts.claimed == {"early years foundation stage profile rows": "eyfsp-2023"}
    assert counts.ignored_assessments == {"early years foundation stage profile rows": 17}


CSV_HEADER = "LA,Estab,UPN,Surname,Forename,DOB,Sex,NCyear," + ",".join(
    f"ELG{n:02d}" for n in range(1, 18)
)


def test_the_eyfsp_csv_gives_one_column_per_goal():
    row = "938,2001,A938200123001,Smith,Ava,14/10/2017,F,R," + ",".join(["2"] * 16 + ["1"])
    header, [p], counts = read(f"{CSV_HEADER}\n{row}\n", EYFSP, "EYFSP_2001_23.csv")
    assert (header.la, header.estab) == ("938", "2001")
    assert p.outcomes == {**dict.fromkeys(GOALS, "2"), "elg17": "1"}
    assert (p.dob, p.nc_year) == ("2017-10-14", "R") and not counts.notes


def test_a_csv_names_its_goals_by_the_npd_names_too():
    head = "UPN,Surname,Forename,DOB,Sex," + ",".join(
        f"FSP_{a}_E{n:02d}" for n, a in enumerate(EYFSP_AREAS, 1)
    )
    row = "A938200123001,Smith,Ava,14/10/2017,F," + ",".join(["2"] * 17)
    header, [p], _ = read(f"{head}\n{row}\n", EYFSP, "EYFSP_2001_23.csv")
    assert header.estab == "2001" and p.outcomes == dict.fromkeys(GOALS, "2")


def test_a_settings_csv_is_identified_by_its_urn():
    head = "URN,UPN,Surname,Forename,DOB,Sex," + ",".join(f"ELG{n:02d}" for n in range(1, 18))
    row = "512345,A938200123001,Smith,Ava,14/10/2017,F," + ",".join(["2"] * 17)
    header, [p], _ = read(f"{head}\n{row}\n", EYFSP, "profiles.csv")
    assert (header.la, header.estab, header.urn) == ("", "", "512345")
    header, _, _ = read(f"{CSV_HEADER[11:]}\n{row[7:]}\n", EYFSP, "EYFSP_612345_23.csv")
    assert (header.estab, header.urn) == ("", "612345")


def test_a_settings_ctf_is_identified_by_its_la_and_urn():
    text = ctf([eyfsp_pupil(1)]).replace("<Estab>2001</Estab>", "<URN>712345</URN>", 1)
    header, [p], _ = read(text, EYFSP, "profiles.xml")
    assert (header.la, header.estab, header.urn) == ("938", "", "712345")
    # Neither the header nor the name: the setting is named by the file's name.
    text = ctf([eyfsp_pupil(1)]).replace("<Estab>2001</Estab>", "", 1)
    header, _, counts = read(text, EYFSP, "938_512345_FSP_938LLLL_001.xml")
    assert (header.la, header.estab, header.urn) == ("938", "", "512345")
    assert "LA 938 and URN 512345 were taken from the file name" in counts.notes[0]


def test_a_school_urn_is_no_settings_and_a_ctf_without_estab_is_refused():
    text = ctf([eyfsp_pupil(1)]).replace("<Estab>2001</Estab>", "<URN>112345</URN>", 1)
    with pytest.raises(RejectedFile) as e:
        read(text, EYFSP, "profiles.xml")
    assert "no Estab in its header" in e.value.reason
    # KS1 takes no settings: the same file with a setting's URN is refused there too.
    text = ctf([pupil(1)]).replace("<Estab>2001</Estab>", "<URN>512345</URN>", 1)
    with pytest.raises(RejectedFile):
        read(text, KS1, "profiles.xml")


def test_the_rows_of_a_goal_given_twice_are_kept_for_the_rule():
    text = ctf([eyfsp_pupil(1)]).replace(
        "<Stage>EYF</Stage>", "<Stage>EYF</Stage>" + eyfsp_rows(["1"] + [None] * 16)[0]
    )
    _, [p], _ = read(text, EYFSP)
    assert p.duplicate_outcomes == {"elg01": ["1", "2"]} and p.outcomes["elg01"] == "2"
