"""The GIAS-style schools register: encodings, required columns, bad rows, which schools each
collection expects."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from keystage.engine import definition
from keystage.engine.register import (
    REQUIRED_COLUMNS,
    RegisterError,
    SchoolEntry,
    expected_for,
    parse_date,
    read_register,
)

D = definition.load()

ROW = {
    "URN": "100001",
    "LA (code)": "938",
    "LA (name)": "West Sussex",
    "EstablishmentNumber": "2001",
    "EstablishmentName": "Oakfield Primary School",
    "TypeOfEstablishment (name)": "Community school",
    "PhaseOfEducation (name)": "Primary",
    "EstablishmentStatus (name)": "Open",
    "OpenDate": "01-09-1974",
    "CloseDate": "",
    "StatutoryLowAge": "4",
    "StatutoryHighAge": "11",
}


def _csv(rows: list[dict[str, str]], columns: list[str] | None = None) -> str:
    columns = columns or list(REQUIRED_COLUMNS)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _row(**changes: str) -> dict[str, str]:
    return {**ROW, **changes}


def _write(tmp_path, text: str, encoding: str = "utf-8", name: str = "edubase.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_reads_utf8(tmp_path):
    path = _write(tmp_path, _csv([_row(), _row(URN="100002", EstablishmentNumber="2002")]))
    rows = read_register(path)
    entries = list(rows)
    assert rows.encoding == "utf-8"
    assert [e.urn for e in entries] == ["100001", "100002"]
    e = entries[0]
    assert e == SchoolEntry(
        urn="100001", la="938", estab="2001", name="Oakfield Primary School",
        type_name="Community school", phase_name="Primary", status_name="Open",
        open_date=dt.date(1974, 9, 1), close_date=None, low_age=4, high_age=11, line=2,
    )  # fmt: skip
    assert e.laestab == "9382001"
    assert rows.skipped == [] and rows.warnings == []


def test_reads_utf8_with_bom(tmp_path):
    path = _write(tmp_path, _csv([_row(EstablishmentName="École Élémentaire")]), "utf-8-sig")
    [entry] = read_register(path)
    assert entry.urn == "100001"  # the BOM is not glued to the URN column
    assert entry.name == "École Élémentaire"


def test_reads_windows_1252(tmp_path):
    name = "St Thérèse’s Catholic Primary School"
    path = _write(tmp_path, _csv([_row(EstablishmentName=name)]), "cp1252")
    rows = read_register(path)
    [entry] = rows
    assert rows.encoding == "cp1252"
    assert entry.name == name


def test_missing_columns_are_named(tmp_path):
    columns = [c for c in REQUIRED_COLUMNS if c not in ("StatutoryLowAge", "LA (code)")]
    path = _write(tmp_path, _csv([_row()], columns))
    with pytest.raises(RegisterError) as err:
        read_register(path)
    assert "LA (code)" in err.value.reason and "StatutoryLowAge" in err.value.reason
    assert "\n" not in err.value.reason
    assert err.value.path == str(path)


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "empty"),
        (b"PK\x03\x04\x14\x00\x06\x00rest of a workbook", "spreadsheet"),
        (b"%PDF-1.4\n\x00\x01\x02binary", "not a text file"),
        ("URN,LA (code)\r\n".encode("utf-16"), "not a text file"),
        (b"URN,\x81\x8d\x8f\x90\x9d\xff\xfe", "not a text file"),
    ],
)
def test_not_a_register(tmp_path, content, words):
    path = tmp_path / "schools.csv"
    path.write_bytes(content)
    with pytest.raises(RegisterError, match=words):
        read_register(path)


def test_missing_file(tmp_path):
    with pytest.raises(RegisterError, match="cannot open"):
        read_register(tmp_path / "nowhere.csv")


def test_bad_rows_are_skipped_with_line_numbers(tmp_path):
    rows = [
        _row(),
        _row(URN="12345"),  # line 3
        _row(URN="100003", **{"LA (code)": ""}),  # line 4
        _row(URN="100004", EstablishmentNumber="ABC"),  # line 5
        _row(URN="100005", EstablishmentNumber=""),  # line 6
        _row(URN="100006", EstablishmentNumber="123"),  # line 7: Excel dropped the zero
    ]
    path = _write(tmp_path, _csv(rows))
    seen = []
    register = read_register(path, on_skip=lambda line, reason: seen.append((line, reason)))
    entries = list(register)
    assert [e.urn for e in entries] == ["100001", "100006"]
    assert entries[1].estab == "0123"
    assert [line for line, _ in register.skipped] == [3, 4, 5, 6]
    assert seen == register.skipped
    reasons = dict(register.skipped)
    assert "URN" in reasons[3] and "12345" in reasons[3]
    assert "LA code" in reasons[4]
    assert "'ABC'" in reasons[5]
    assert "empty" in reasons[6]


def test_line_numbers_survive_multiline_fields_and_blank_lines(tmp_path):
    text = _csv([_row(EstablishmentName="Two\nLines School"), _row(URN="x")]) + "\r\n"
    path = _write(tmp_path, text)
    register = read_register(path)
    [entry] = register
    assert entry.line == 2
    assert register.skipped[0][0] == 4


def test_extra_columns_and_order_and_header_case_are_tolerated(tmp_path):
    columns = ["UKPRN", *reversed(REQUIRED_COLUMNS), "Postcode"]
    text = _csv([{**_row(), "UKPRN": "10012345", "Postcode": "AB1 2CD"}], columns)
    text = text.replace("EstablishmentName", " establishmentname ", 1)
    [entry] = read_register(_write(tmp_path, text))
    assert entry.name == "Oakfield Primary School" and entry.urn == "100001"


def test_dates_and_ages(tmp_path):
    rows = [
        _row(OpenDate="01/09/2012", CloseDate="2023-03-31"),
        _row(URN="100002", OpenDate="", CloseDate="31-02-2020", StatutoryLowAge="four"),
    ]
    register = read_register(_write(tmp_path, _csv(rows)))
    a, b = list(register)
    assert a.open_date == dt.date(2012, 9, 1) and a.close_date == dt.date(2023, 3, 31)
    assert b.open_date is None and b.close_date is None and b.low_age is None
    assert [line for line, _ in register.warnings] == [3, 3]
    assert register.skipped == []


def test_parse_date():
    assert parse_date("05-01-2016") == dt.date(2016, 1, 5)
    assert parse_date("05/01/2016") == dt.date(2016, 1, 5)
    assert parse_date(" 2016-01-05 ") == dt.date(2016, 1, 5)
    assert parse_date("2016/01/05") is None
    assert parse_date("") is None


def _entry(**changes) -> SchoolEntry:
    values = dict(
        urn="100001", la="938", estab="2001", name="Oakfield Primary School",
        type_name="Community school", phase_name="Primary", status_name="Open",
        open_date=dt.date(1974, 9, 1), close_date=None, low_age=4, high_age=11, line=2,
    )  # fmt: skip
    values.update(changes)
    return SchoolEntry(**values)


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({}, True),
        ({"low_age": 4, "high_age": 7}, True),  # infant school
        ({"low_age": 5, "high_age": 9}, True),  # first school
        ({"low_age": 7, "high_age": 11}, False),  # junior school: no year 2
        ({"low_age": None, "high_age": None}, True),  # unknown ages do not exclude
        ({"phase_name": "Secondary", "low_age": 11, "high_age": 16}, False),
        (
            {
                "phase_name": "Nursery",
                "type_name": "Local authority nursery school",
                "low_age": 2,
                "high_age": 5,
            },
            False,
        ),  # fmt: skip
        ({"type_name": "Other independent school", "phase_name": "All-through"}, False),
        (
            {
                "type_name": "Academy special converter",
                "phase_name": "Not applicable",
                "low_age": 2,
                "high_age": 19,
            },
            True,
        ),  # fmt: skip
        ({"phase_name": "All-through", "low_age": 3, "high_age": 18}, True),
        ({"type_name": "academy converter", "phase_name": "PRIMARY"}, True),
        ({"status_name": "Closed", "close_date": dt.date(2021, 8, 31)}, False),
        ({"status_name": "Closed", "close_date": dt.date(2023, 3, 31)}, True),
        ({"status_name": "Closed", "close_date": None}, False),
        ({"status_name": "Open, but proposed to close", "close_date": dt.date(2023, 8, 31)}, True),
        ({"status_name": "Proposed to open", "open_date": dt.date(2023, 9, 1)}, False),
        ({"open_date": dt.date(2023, 9, 1)}, False),
    ],
)
def test_expected_for_ks1(changes, expected):
    assert expected_for(_entry(**changes), D) is expected


INFANT = {"low_age": 4, "high_age": 7}
JUNIOR = {"low_age": 7, "high_age": 11}


@pytest.mark.parametrize("collection", definition.available())
def test_an_infant_school_is_expected_in_every_collection_and_a_junior_school_in_none(collection):
    """Phonics is taken in year 1 (5 when the year starts, 6 by its end), KS1 in year 2 (6 and
    7): an infant school (4-7) has both, a junior school (7-11) neither."""
    found = definition.load(collection)
    assert expected_for(_entry(**INFANT), found)
    assert not expected_for(_entry(**JUNIOR), found)
    assert expected_for(_entry(), found)  # a primary school, 4-11


def test_a_school_up_to_year_1_is_expected_for_phonics_not_ks1():
    """A school of ages 4-6 (reception and year 1, a school still growing) has phonics
    pupils and no year 2."""
    entry = _entry(low_age=4, high_age=6)
    assert expected_for(entry, definition.load("phonics-2023"))
    assert not expected_for(entry, definition.load("ks1-2023"))


@pytest.mark.parametrize("kind", ["ks1", "phonics"])
def test_open_and_close_dates_are_judged_against_the_collections_own_year(kind):
    """A school that closed in the spring of 2023 is expected in the 2023 collection only; one
    that opened in September 2023 in 2024's only (after 2023's school deadline)."""
    closed = _entry(status_name="Closed", close_date=dt.date(2023, 3, 31))
    opened = _entry(open_date=dt.date(2023, 9, 1))
    got = {
        year: (expected_for(closed, definition.load(f"{kind}-{year}")),
               expected_for(opened, definition.load(f"{kind}-{year}")))
        for year in (2023, 2024)
    }  # fmt: skip
    assert got == {2023: (True, False), 2024: (False, True)}


@pytest.mark.parametrize("age", ["²", "٤", "４"])
def test_an_age_in_other_digits_is_a_warning_not_a_crash(tmp_path, age):
    """str.isdigit() is true of "²" and of other scripts' digits; int() cannot read "²"."""
    register = read_register(_write(tmp_path, _csv([_row(StatutoryLowAge=age)])))
    [entry] = list(register)
    assert entry.low_age is None
    assert register.warnings == [(2, f"URN 100001: StatutoryLowAge {age!r} is not a whole number")]
