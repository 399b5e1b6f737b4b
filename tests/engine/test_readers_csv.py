"""The CSV template reader: header aliases, encodings, delimiters, dates, lost zeros, the school
from columns or the file name, and physical line numbers."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from keystage.engine.definition import load
from keystage.engine.readers import iso_date, open_school_file
from keystage.engine.records import RejectedFile

FILES = Path(__file__).resolve().parent.parent / "fixtures" / "files"
DEFINITION = load("ks1-2023")
HEADER = "LA,Estab,UPN,Surname,Forename,DOB,Sex,Reading,Writing,Maths,Science"
ROW = "938,2001,A938200123001,SMITH,AVA,14/01/2016,F,EXS,WTS,GDS,EXS"


def read(text: str | bytes, name: str = "KS1_2001_23.csv"):
    content = text.encode("utf-8") if isinstance(text, str) else text
    with open_school_file(io.BytesIO(content), DEFINITION, name=name) as reader:
        return reader.header, list(reader.pupils()), reader.counts


# -- the fixture files --------------------------------------------------------------------


def test_aliases_lower_case_codes_day_first_dates_and_lost_zeros():
    with open_school_file(FILES / "KS1_0123_23.csv", DEFINITION) as reader:
        header = reader.header
        pupils = list(reader.pupils())
        counts = reader.counts
    assert (header.kind, header.la, header.estab, header.laestab) == (
        "csv",
        "938",
        "0123",
        "9380123",
    )
    assert header.encoding == "UTF-8"
    # physical lines: a title line, the headings, a blank line between the first two pupils
    assert [p.line for p in pupils] == [3, 5, 6]
    first = pupils[0]
    assert (first.upn, first.surname, first.forename, first.dob, first.sex) == (
        "P938012316011", "HUGHES", "Ella", "2015-09-05", "F",
    )  # fmt: skip
    # codes are kept as written apart from the trimming; the rules upper-case them
    assert first.outcomes == {"reading": "exs", "writing": "wts", "maths": "Exs", "science": "exs"}
    assert pupils[2].surname == "MORGAN, JR"
    assert pupils[2].sex == "f"
    assert counts.pupils == 3
    assert counts.notes == [
        "the column headings are on line 2; the lines above were skipped",
        "columns not used: Class",
        "1 line with no pupil details (no UPN, name, date of birth or result) was skipped",
    ]


def test_a_windows_1252_csv():
    with open_school_file(FILES / "KS1_2005_23.csv", DEFINITION) as reader:
        pupils = list(reader.pupils())
        assert reader.header.encoding == "Windows-1252"
        assert reader.header.laestab == "9382005"
    assert [(p.surname, p.forename) for p in pupils] == [
        ("Bjørnsson", "Anaïs"),
        ("D’Souza", "Séamus"),
    ]
    assert [p.dob for p in pupils] == ["2016-02-03", "2016-06-17"]


def test_a_utf8_csv_with_a_bom_named_by_urn():
    with open_school_file(FILES / "KS1_125000_23.csv", DEFINITION) as reader:
        header = reader.header
        pupils = list(reader.pupils())
    assert header.encoding == "UTF-8 with BOM"
    # no LA or Estab column: the caller finds the school from the URN in the name
    assert (header.la, header.estab, header.urn) == ("", "", "125000")
    assert pupils[0].upn == "G938200116016"  # the BOM is not part of the first heading
    assert pupils[1].surname == "Wójcik"
    assert pupils[0].outcomes == {
        "reading": "EXS",
        "writing": "WTS",
        "maths": "EXS",
        "science": "EXS",
    }


# -- headers --------------------------------------------------------------------------------


def test_headers_match_in_any_case_and_with_decorations():
    text = (
        "la no,DFE_NUMBER,upn*,LAST NAME,first-name,Date of birth (DD/MM/YYYY),SEX:,"
        "reading ta,Writing_TA,MATHS,sci,NC Year,FSM,First language\n"
        "938,2001,A938200123001,SMITH,AVA,14/01/2016,F,EXS,WTS,GDS,EXS,2,Y,ENG\n"
    )
    header, [p], counts = read(text)
    assert header.laestab == "9382001"
    assert (p.upn, p.surname, p.forename, p.dob, p.sex, p.nc_year) == (
        "A938200123001", "SMITH", "AVA", "2016-01-14", "F", "2",
    )  # fmt: skip
    assert p.outcomes == {"reading": "EXS", "writing": "WTS", "maths": "GDS", "science": "EXS"}
    assert p.characteristics == {"fsm": "Y", "eal": "ENG"}
    assert counts.notes == []


def test_missing_subject_columns_and_repeated_columns_are_noted():
    text = "UPN,Surname,Forename,Reading,Reading,Maths\nA938200123001,SMITH,AVA,EXS,WTS,GDS\n"
    _, [p], counts = read(text)
    assert p.outcomes == {"reading": "EXS", "maths": "GDS"}
    assert counts.notes == [
        "columns 'Reading' and 'Reading' both give reading; the first was used",
        "no column for writing, science",
    ]


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_delimiters(delimiter):
    text = f"{HEADER}\n{ROW}\n".replace(",", delimiter)
    header, [p], _ = read(text)
    assert (header.estab, p.surname, p.outcomes["maths"]) == ("2001", "SMITH", "GDS")


def test_excel_sep_line_names_the_delimiter():
    text = f"sep=;\n{HEADER}\n{ROW}\n".replace(",", ";")
    _, [p], _ = read(text)
    assert p.line == 3
    assert p.surname == "SMITH"


def test_a_title_above_the_headings_is_skipped():
    text = f"KS1 teacher assessment 2023\nSchool: Example\n\n{HEADER}\n{ROW}\n"
    _, [p], counts = read(text)
    assert p.line == 5
    assert counts.notes[0] == "the column headings are on line 4; the lines above were skipped"


# -- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("14/01/2016", "2016-01-14"),
        ("4/1/2016", "2016-01-04"),
        ("2016-01-14", "2016-01-14"),
        ("14-01-2016", "2016-01-14"),
        ("14.01.2016", "2016-01-14"),
        ("14/01/2016 00:00", "2016-01-14"),
        ("2016-01-14 00:00:00", "2016-01-14"),
        ("31/02/2016", "31/02/2016"),  # not a date: kept for the school to see
        ("14/01/16", "14/01/16"),  # a two-digit year is ambiguous
        ("01/14/2016", "01/14/2016"),  # American order: not a date read day first
        ("", ""),
    ],
)
def test_dates_of_birth(written, kept):
    assert iso_date(written) == kept
    _, [p], _ = read(f"{HEADER}\n{ROW.replace('14/01/2016', written)}\n")
    assert p.dob == kept


def test_a_quoted_field_over_two_lines_keeps_physical_line_numbers():
    text = f'{HEADER}\n938,2001,A1,"SMITH\nJONES",AVA,,F,EXS,,,\n{ROW}\n'
    _, pupils, _ = read(text)
    assert [p.line for p in pupils] == [2, 4]
    assert pupils[0].surname == "SMITH\nJONES"


def test_short_rows_and_crlf_line_ends():
    text = f"{HEADER}\r\n938,2001,A938200123001,SMITH\r\n\r\n{ROW}\r\n"
    _, pupils, _ = read(text)
    assert [p.line for p in pupils] == [2, 4]
    assert (pupils[0].forename, pupils[0].outcomes) == ("", {})


def test_empty_cells_are_not_outcomes():
    _, [p], _ = read(f"{HEADER}\n938,2001,A1,SMITH,AVA,14/01/2016,F, ,WTS,,EXS\n")
    assert p.outcomes == {"writing": "WTS", "science": "EXS"}


# -- the school ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "row", "la", "estab"),
    [
        ("LA,Estab", "938,123", "938", "0123"),
        ("LA,Estab", '938,="0123"', "938", "0123"),
        ("LAESTAB", "9380123", "938", "0123"),
        ("LAESTAB", "938/0123", "938", "0123"),
        ("LA,DfE number", "38,0123", "038", "0123"),
        ("Estab", "9382001", "938", "2001"),  # a 7-digit number in the Estab column
        ("LA,Estab", "938,12345", "938", "12345"),  # kept as written for KS1-E01
    ],
)
def test_school_columns(columns, row, la, estab):
    header, _, _ = read(f"{columns},UPN,Surname\n{row},A1,SMITH\n", name="upload.csv")
    assert (header.la, header.estab) == (la, estab)


def test_school_from_the_file_name_only():
    header, [p], _ = read("UPN,Surname,Forename\nA1,SMITH,AVA\n", name="x.zip:KS1_2001_23 (1).csv")
    assert (header.la, header.estab, header.urn) == ("", "2001", "")
    assert p.upn == "A1"


def test_a_file_name_that_disagrees_with_the_column_is_noted():
    header, _, counts = read(f"{HEADER}\n{ROW}\n", name="KS1_2002_23.csv")
    assert header.estab == "2001"
    assert counts.notes == [
        "the file name says DfE number 2002 but the Estab column says 2001; the column was used"
    ]


@pytest.mark.parametrize(
    ("collection", "named"),
    [("ks1-2023", "KS1_DDDD_23.csv"), ("ks1-2024", "KS1_DDDD_24.csv"),
     ("phonics-2023", "PHONICS_DDDD_23.csv"), ("phonics-2025", "PHONICS_DDDD_25.csv")],
)  # fmt: skip
def test_no_school_anywhere_is_rejected(collection, named):
    with pytest.raises(RejectedFile) as e:
        open_school_file(io.BytesIO(b"UPN,Surname\nA1,SMITH\n"), load(collection),
                         name="results.csv")  # fmt: skip
    assert e.value.reason == (
        "results.csv: the file does not say which school it is from: add LA and Estab columns, "
        f"or name it {named} with the school's 4-digit DfE number"
    )


def test_two_schools_in_one_file_are_rejected_at_the_line():
    text = f"{HEADER}\n{ROW}\n{ROW}\n{ROW.replace('938,2001', '938,2002')}\n"
    with open_school_file(io.BytesIO(text.encode()), DEFINITION, name="KS1_2001_23.csv") as reader:
        stream = reader.pupils()
        assert [next(stream).line, next(stream).line] == [2, 3]  # rows stream before the bad one
        with pytest.raises(RejectedFile) as e:
            next(stream)
    assert e.value.line == 4
    assert e.value.reason == (
        "KS1_2001_23.csv: line 4 is for Estab 2002 but the first pupil (line 2) is for Estab "
        "2001; a CSV file must hold one school's pupils: send one file per school"
    )


def test_rows_with_only_the_school_filled_in_are_skipped():
    text = f"{HEADER}\n{ROW}\n938,2001,,,,,,,,,\n938,2001,,,,,,,,,\n"
    _, pupils, counts = read(text)
    assert len(pupils) == 1
    assert counts.notes[-1].startswith("2 lines with no pupil details")


def test_a_large_csv_streams(tmp_path):
    path = tmp_path / "KS1_2001_23.csv"
    with path.open("w") as f:
        f.write(HEADER + "\n")
        for _ in range(50_000):
            f.write(ROW + "\n")
    with open_school_file(path, DEFINITION) as reader:
        stream = reader.pupils()
        assert next(stream).line == 2
        assert sum(1 for _ in stream) == 49_999
        assert reader.counts.pupils == 50_000
