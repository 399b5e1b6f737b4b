"""The CTF reader: header, pupils, which assessment rows count, encodings and line numbers."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from keystage.engine.definition import load
from keystage.engine.readers import ctf as ctf_reader
from keystage.engine.readers import open_school_file
from keystage.engine.records import RejectedFile

FILES = Path(__file__).resolve().parent.parent / "fixtures" / "files"


@pytest.fixture(autouse=True, params=["parsed whole", "streamed"])
def ctf_mode(request, monkeypatch):
    """Every test reads its files both ways: a school-sized file parsed whole, and the pull
    parser that streams larger files in bounded memory. Both must read the same."""
    if request.param == "streamed":
        monkeypatch.setattr(ctf_reader, "WHOLE_FILE_BYTES", 0)
    return request.param


DEFINITION = load("ks1-2023")

HEADER = (
    "<Header><DocumentName>Common Transfer File</DocumentName><CTFversion>22.0</CTFversion>"
    "<DateTime>2023-06-20T14:05:31</DateTime><SupplierID>TestMIS</SupplierID>"
    "<SourceSchool><LEA>938</LEA><Estab>2001</Estab><SchoolName>Example</SchoolName>"
    "<AcademicYear>2022</AcademicYear></SourceSchool></Header>"
)


def row(subject="ENG", component="READ", result="EXS", *, year="2023", method="TA", date=None):
    parts = f"<Locale>ENG</Locale><Year>{year}</Year><Subject>{subject}</Subject><Method>{method}</Method>"
    if component is not None:
        parts += f"<Component>{component}</Component>"
    parts += f"<ResultStatus>R</ResultStatus><Result>{result}</Result>"
    if date:
        parts += f"<ResultDate>{date}</ResultDate>"
    return f"<StageAssessment>{parts}</StageAssessment>"


def pupil(rows: str = "", *, stage="KS1", upn="A938200123001", extra="", nc_year=None) -> str:
    basic = (
        f"<BasicDetails><NCyearActual>{nc_year}</NCyearActual></BasicDetails>" if nc_year else ""
    )
    return (
        f"<Pupil><UPN>{upn}</UPN><Surname>SMITH</Surname><Forename>AVA</Forename>"
        f"<DOB>2016-01-14</DOB><Sex>F</Sex>{extra}{basic}<StageAssessments><KeyStage>"
        f"<Stage>{stage}</Stage>{rows}</KeyStage></StageAssessments></Pupil>"
    )


def ctf(pupils: str, *, header: str = HEADER, encoding: str = "UTF-8") -> bytes:
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<CTfile>{header}<CTFpupilData>\n'
        f"{pupils}\n</CTFpupilData></CTfile>\n"
    )
    return text.encode("utf-8" if encoding == "UTF-8" else encoding)


def read(content: bytes, name: str = "9382001_CTF_938LLLL_001.xml"):
    with open_school_file(io.BytesIO(content), DEFINITION, name=name) as reader:
        pupils = list(reader.pupils())
        return reader.header, pupils, reader.counts


def read_path(path: Path):
    with open_school_file(path, DEFINITION) as reader:
        return reader.header, list(reader.pupils()), reader.counts


# -- the fixture files --------------------------------------------------------------------


def test_the_spec_example_is_read_in_full():
    header, [p], counts = read_path(FILES / "9382001_CTF_938LLLL_001.xml")
    assert (header.kind, header.la, header.estab, header.urn) == ("ctf", "938", "2001", "125000")
    assert header.laestab == "9382001"
    assert (header.school_name, header.supplier, header.ctf_version) == (
        "Example Primary School", "ExampleMIS", "22.0",
    )  # fmt: skip
    assert (header.created, header.academic_year, header.encoding) == (
        "2023-06-20T14:05:31", "2022", "UTF-8",
    )  # fmt: skip
    assert (p.line, p.upn, p.surname, p.forename, p.dob, p.sex, p.nc_year) == (
        22, "A938200123001", "SMITH", "AVA", "2016-01-14", "F", "2",
    )  # fmt: skip
    assert p.outcomes == {"reading": "EXS", "writing": "WTS", "maths": "GDS", "science": "EXS"}
    assert (p.duplicate_outcomes, p.wrong_parameters) == ({}, {})
    assert (counts.pupils, counts.ignored_assessments, counts.ignored_pupils) == (1, {}, 0)


def test_an_older_ctf_with_gender_and_short_component_codes():
    header, pupils, counts = read_path(FILES / "9382002_KS1_938LLLL_001.xml")
    assert (header.estab, header.ctf_version, header.urn) == ("2002", "12.0", "")
    assert [p.sex for p in pupils] == ["M", "F"]
    # RE / WR components, maths with no Component element at all, SC for science
    assert pupils[0].outcomes == {
        "reading": "WTS",
        "writing": "PK4",
        "maths": "EXS",
        "science": "HNM",
    }
    assert pupils[1].surname == "O'NEILL"
    assert [p.line for p in pupils] == [23, 51]
    assert counts.pupils == 2


def test_a_windows_1252_ctf_keeps_accented_names():
    header, pupils, _ = read_path(FILES / "9382003_CTF_938LLLL_001.xml")
    assert header.encoding == "Windows-1252"
    assert header.school_name == "St Chloé’s Primary School"
    assert [(p.surname, p.forename) for p in pupils] == [
        ("Núñez", "Zoë"),
        ("O’Brien-Löwe", "Renée"),
    ]


def test_rows_that_are_not_ks1_teacher_assessment_for_2023_are_counted_not_used():
    header, pupils, counts = read_path(FILES / "9382004_CTF_938LLLL_001.xml")
    assert [p.upn for p in pupils] == ["J938200416007", "Y938200416008", "M938200416009"]
    assert counts.ignored_assessments == {
        "FSP assessment rows": 2,
        "phonics screening check rows": 1,
        "KS1 test (TT) rows": 2,
        "unrecognised subject/component ENG/XYZ": 1,
        "rows for other years": 5,
        "KS2 assessment rows": 3,
    }
    # the year 3 pupil (last year's KS1 only) and the year 6 pupil (KS2 only)
    assert counts.ignored_pupils == 2
    first, second, third = pupils
    assert first.outcomes == {"reading": "EXS", "writing": "WTS", "maths": "EXS", "science": "EXS"}
    assert first.former_upn == "A938200123001"
    assert first.characteristics == {
        "ethnicity": "ABAN", "eal": "F/URD", "sen": "K", "fsm": "2021-09-01",
    }  # fmt: skip
    # reading twice: the later ResultDate wins though it comes first; maths twice without
    # dates: the last one wins. Every code is kept for KS1-T08.
    assert second.outcomes["reading"] == "EXS"
    assert second.outcomes["maths"] == "EXS"
    assert second.duplicate_outcomes == {"reading": ["EXS", "WTS"], "maths": ["WTS", "EXS"]}
    # reading only for 2022: not an outcome, but recorded for KS1-T14
    assert "reading" not in third.outcomes
    assert third.wrong_parameters == {"reading": "Year 2022"}


# -- assessment rows ----------------------------------------------------------------------


def test_the_latest_result_date_wins_then_document_order():
    rows = (
        row(result="WTS", date="2023-06-20")
        + row(result="GDS", date="2023-06-01")
        + row(result="EXS", date="2023-06-20")
    )
    _, [p], _ = read(ctf(pupil(rows)))
    assert p.outcomes["reading"] == "EXS"
    assert p.duplicate_outcomes["reading"] == ["WTS", "GDS", "EXS"]


def test_a_dated_row_beats_an_undated_one():
    _, [p], _ = read(ctf(pupil(row(result="EXS", date="2023-06-20") + row(result="WTS"))))
    assert p.outcomes["reading"] == "EXS"


def test_result_status_and_qualifier_do_not_matter():
    odd = row().replace("<ResultStatus>R</ResultStatus>", "<ResultStatus>X</ResultStatus>"
                        "<ResultQualifier>ZZ</ResultQualifier>")  # fmt: skip
    _, [p], _ = read(ctf(pupil(odd)))
    assert p.outcomes == {"reading": "EXS"}


def test_values_are_trimmed_but_otherwise_kept_as_written():
    rows = row(result="  exs \n", component=" read ").replace("<Subject>ENG", "<Subject> eng")
    xml = pupil(rows, stage=" ks1 ").replace("<Surname>SMITH", "<Surname>\n  smith-Jones ")
    _, [p], _ = read(ctf(xml.replace("<Method>TA", "<Method>ta")))
    assert p.outcomes == {"reading": "exs"}
    assert p.surname == "smith-Jones"


def test_two_key_stage_blocks_and_a_stage_written_after_its_rows():
    xml = pupil(row("MAT", "MAT", "GDS")).replace(
        "</KeyStage></StageAssessments>",
        "</KeyStage><KeyStage>" + row("SCI", "SCI", "EXS") + "<Stage>KS1</Stage></KeyStage>"
        "<KeyStage><Stage>KS2</Stage>"
        + row("ENG", "WRIT", "EXS")
        + "</KeyStage></StageAssessments>",
    )
    _, [p], counts = read(ctf(xml))
    assert p.outcomes == {"maths": "GDS", "science": "EXS"}
    assert counts.ignored_assessments == {"KS2 assessment rows": 1}


def test_a_wrong_year_does_not_hide_a_right_one():
    _, [p], counts = read(ctf(pupil(row(year="2022", result="WTS") + row(result="EXS"))))
    assert p.outcomes == {"reading": "EXS"}
    assert p.wrong_parameters == {}
    assert counts.ignored_assessments == {"rows for other years": 1}


def test_other_methods_and_missing_stage_are_named():
    rows = row(method="TT", result="101") + row(method="XX")
    xml = pupil(rows, nc_year="2") + pupil(row(), stage="", upn="P938200123002", nc_year="2")
    _, pupils, counts = read(ctf(xml))
    assert [p.outcomes for p in pupils] == [{}, {}]  # both year 2 pupils are kept
    assert counts.ignored_assessments == {
        "KS1 test (TT) rows": 1, "KS1 rows with method XX": 1, "rows with no Stage": 1,
    }  # fmt: skip


def test_which_pupils_are_kept():
    xml = "".join([
        pupil(row(), upn="A1"),  # a 2023 KS1 TA result: kept
        pupil("", upn="A2", nc_year="2"),  # year 2 with no results: kept (KS1-T01..T04)
        pupil("", upn="A3"),  # nothing and no NC year: not a KS1 pupil
        pupil(row(year="2022"), upn="A4"),  # no NC year, KS1 rows for 2022: kept for KS1-T14
        pupil(row(year="2022"), upn="A5", nc_year="3"),  # year 3 with last year's KS1: not ours
    ])  # fmt: skip
    _, pupils, counts = read(ctf(xml))
    assert [p.upn for p in pupils] == ["A1", "A2", "A4"]
    assert pupils[2].wrong_parameters == {"reading": "Year 2022"}
    assert (counts.pupils, counts.ignored_pupils) == (3, 2)


def test_dates_of_birth():
    xml = "".join(
        pupil(row(), upn=f"A{i}").replace("2016-01-14", dob)
        for i, dob in enumerate(["2016-01-14T00:00:00", "14/01/2016", "2016-02-30", " "])
    )
    _, pupils, _ = read(ctf(xml))
    assert [p.dob for p in pupils] == ["2016-01-14", "14/01/2016", "2016-02-30", ""]


def test_sex_wins_over_gender_and_missing_items_are_empty():
    xml = pupil(row()).replace("<Sex>F</Sex>", "<Gender>M</Gender><Sex>F</Sex>")
    xml += (
        "<Pupil><StageAssessments><KeyStage><Stage>KS1</Stage>"
        + row()
        + "</KeyStage></StageAssessments></Pupil>"
    )
    _, pupils, _ = read(ctf(xml))
    assert pupils[0].sex == "F"
    assert (pupils[1].upn, pupils[1].surname, pupils[1].dob, pupils[1].sex) == ("", "", "", "")


def test_entities_and_character_references_are_decoded():
    xml = pupil(row()).replace("<Surname>SMITH", "<Surname>O&apos;Brien &amp; Co &#233;")
    _, [p], _ = read(ctf(xml))
    assert p.surname == "O'Brien & Co é"


# -- the header and the school -------------------------------------------------------------


def test_a_header_without_the_school_takes_it_from_the_file_name():
    header_xml = HEADER.replace("<LEA>938</LEA><Estab>2001</Estab>", "")
    header, _, counts = read(
        ctf(pupil(row()), header=header_xml), name="batch.zip:9382005_CTF_938LLLL_002 (1).xml"
    )
    assert (header.la, header.estab) == ("938", "2005")
    assert any("file name" in n for n in counts.notes)


def test_a_missing_estab_with_an_unhelpful_file_name_is_rejected():
    header_xml = HEADER.replace("<Estab>2001</Estab>", "")
    with pytest.raises(RejectedFile) as e:
        read(ctf(pupil(row()), header=header_xml), name="export.xml")
    assert e.value.reason.startswith("export.xml: the file has no Estab in its header")
    assert "export it again from the MIS" in e.value.reason


def test_pupils_before_the_header_are_read_when_the_name_gives_the_school():
    text = ctf(pupil(row())).replace(HEADER.encode(), b"")
    text = text.replace(b"</CTFpupilData>", b"</CTFpupilData>" + HEADER.encode())
    header, [p], _ = read(text)
    assert (header.la, header.estab, p.outcomes) == ("938", "2001", {"reading": "EXS"})
    with pytest.raises(RejectedFile) as e:
        read(text, name="export.xml")
    assert "export.xml: the file has no Header before its first pupil" in e.value.reason


def test_blank_lines_and_a_bom_before_the_declaration():
    content = b"\xef\xbb\xbf\n\n\n" + ctf(pupil(row()))
    header, [p], _ = read(content)
    assert p.line == 6  # the declaration is on line 4, the pupil two lines below it
    assert header.encoding == "UTF-8"
    header, _, _ = read(b"\xef\xbb\xbf" + ctf(pupil(row())))
    assert header.encoding == "UTF-8"
    header, _, _ = read(b"\xef\xbb\xbf" + ctf(pupil(row())).split(b"\n", 1)[1])
    assert header.encoding == "UTF-8 with BOM"


def test_iso_8859_1_files_written_as_windows_1252_keep_their_punctuation():
    xml = pupil(row()).replace("<Surname>SMITH", "<Surname>O’Brien–Zoë")
    # ’ and – are bytes 0x92 and 0x96 in Windows-1252: control characters in ISO-8859-1
    content = ctf(xml, encoding="cp1252").replace(b'encoding="cp1252"', b'encoding="ISO-8859-1"')
    header, [p], _ = read(content)
    assert header.encoding == "ISO-8859-1"
    assert p.surname == "O’Brien–Zoë"


def test_a_file_object_is_left_open_and_a_path_is_closed(tmp_path):
    stream = io.BytesIO(ctf(pupil(row())))
    with open_school_file(stream, DEFINITION, name="x.xml") as reader:
        assert reader.name == "x.xml"
        list(reader.pupils())
    assert not stream.closed
    path = tmp_path / "9382001_CTF_938LLLL_001.xml"
    path.write_bytes(ctf(pupil(row())))
    reader = open_school_file(path, DEFINITION)
    assert reader.name == path.name
    reader.close()
    assert reader._stream.closed


# -- line numbers past libxml2's 16-bit limit --------------------------------------------------


@pytest.mark.parametrize("layout", ["indented", "one line per pupil", "blank line inside"])
def test_pupil_lines_beyond_line_65535_are_exact(layout):
    if layout == "indented":
        block, lines = (
            "  <Pupil>\n    <UPN>A{i}</UPN>\n    <Surname>S</Surname>\n    {sa}\n  </Pupil>\n",
            5,
        )
    elif layout == "one line per pupil":
        block, lines = "<Pupil><UPN>A{i}</UPN><Surname>S</Surname>{sa}</Pupil>\n", 1
    else:
        block, lines = (
            "  <Pupil>\n\n    <UPN>A{i}</UPN>\n    <Surname>S</Surname>\n    {sa}\n  </Pupil>\n",
            6,
        )
    sa = f"<StageAssessments><KeyStage><Stage>KS1</Stage>{row()}</KeyStage></StageAssessments>"
    n = 70_000 // lines + 50
    text = f'<?xml version="1.0"?>\n<CTfile>{HEADER}\n<CTFpupilData>\n'
    text += "".join(block.format(i=i, sa=sa) for i in range(n)) + "</CTFpupilData></CTfile>\n"
    _, pupils, _ = read(text.encode())
    assert len(pupils) == n
    assert [p.line for p in pupils] == [4 + i * lines for i in range(n)]


# -- speed ----------------------------------------------------------------------------------


def _write_school_files(folder: Path, files: int, pupils: int) -> list[Path]:
    block = (
        "    <Pupil>\n      <UPN>A938200123{i:03d}</UPN>\n      <Surname>SMITH</Surname>\n"
        "      <Forename>AVA</Forename>\n      <DOB>2016-01-14</DOB>\n      <Sex>F</Sex>\n"
        "      <BasicDetails>\n        <NCyearActual>2</NCyearActual>\n      </BasicDetails>\n"
        "      <StageAssessments>\n        <KeyStage>\n          <Stage>KS1</Stage>\n"
        + "".join(
            f"          <StageAssessment>\n            <Locale>ENG</Locale>\n"
            f"            <Year>2023</Year>\n            <Subject>{s}</Subject>\n"
            f"            <Method>TA</Method>\n            <Component>{c}</Component>\n"
            f"            <ResultStatus>R</ResultStatus>\n            <ResultQualifier>TA</ResultQualifier>\n"
            f"            <Result>EXS</Result>\n            <ResultDate>2023-06-20</ResultDate>\n"
            f"          </StageAssessment>\n"
            for s, c in (("ENG", "READ"), ("ENG", "WRIT"), ("MAT", "MAT"), ("SCI", "SCI"))
        )
        + "        </KeyStage>\n      </StageAssessments>\n    </Pupil>\n"
    )
    paths = []
    for f in range(files):
        path = folder / f"938{2000 + f}_CTF_938LLLL_001.xml"
        body = "".join(block.format(i=i % 1000) for i in range(pupils))
        path.write_bytes(ctf(body, header=HEADER.replace("2001", str(2000 + f))))
        paths.append(path)
    return paths
