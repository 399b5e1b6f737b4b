"""Files a reader must refuse, or survive, without harm: each refusal is one line naming the
file, what is wrong and what to do; nothing is expanded, fetched or held whole in memory."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from lxml import etree

from keystage.engine import rules
from keystage.engine.definition import load
from keystage.engine.readers import SNIFF_BYTES, ctf, open_school_file
from keystage.engine.records import RejectedFile

HINTS = ("export", "save", "send", "ask")
HEADER = "<Header><SourceSchool><LEA>938</LEA><Estab>2001</Estab></SourceSchool></Header>"


def _assessment(stage: str, year: int, subject: str, method: str, component: str, result: str):
    return (
        f"<StageAssessment><Year>{year}</Year><Subject>{subject}</Subject><Method>{method}</Method>"
        f"<Component>{component}</Component><Result>{result}</Result></StageAssessment>"
    )


@dataclass(frozen=True)
class Shape:
    """A collection's files as a school sends them, and the words its messages use for them."""

    collection: str
    short: str  # "export the KS1 CTF again", "the phonics CSV template"
    dob: str
    nc_year: str
    assessment: str  # one StageAssessment row of the collection
    csv_name: str
    csv_header: tuple[str, ...]
    csv_row: tuple[str, ...]
    example_header: str  # what the "no header row" message gives as an example
    # the CSV columns after the identity ones, and where a reader puts them
    extra_columns: tuple[tuple[str, str], ...]
    stage: str = "KS1"  # the StageAssessments' KeyStage/Stage of the collection's rows

    @property
    def definition(self):
        return load(self.collection)

    @property
    def pupil(self) -> str:
        basic = f"<BasicDetails><NCyearActual>{self.nc_year}</NCyearActual></BasicDetails>"
        return (
            "<Pupil><UPN>A938200123001</UPN><Surname>SMITH</Surname><Forename>AVA</Forename>"
            f"<DOB>{self.dob}</DOB><Sex>F</Sex>{basic}<StageAssessments><KeyStage><Stage>"
            f"{self.stage}</Stage>{self.assessment}</KeyStage></StageAssessments></Pupil>"
        )

    @property
    def good_ctf(self) -> str:
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<CTfile>{HEADER}<CTFpupilData>\n'
            f"{self.pupil}\n</CTFpupilData></CTfile>\n"
        )

    def csv(self, *rows: tuple[str, ...], sep: str = ",", end: str = "\n") -> str:
        return "".join(sep.join(r) + end for r in (self.csv_header, *rows))


def _phonics(year: int) -> Shape:
    return Shape(
        collection=f"phonics-{year}", short="phonics", dob=f"{year - 7}-10-14", nc_year="1",
        assessment=_assessment("KS1", year, "PHO", "TT", "PHO", "34"),
        csv_name=f"PHONICS_2001_{year % 100}.csv",
        csv_header=("UPN", "Surname", "Forename", "DOB", "Sex", "NCyear", "Mark", "Outcome"),
        csv_row=("A938200123001", "SMITH", "AVA", f"14/10/{year - 7}", "F", "1", "34", ""),
        example_header="UPN, Surname, Forename, DOB, Sex, NCyear, Mark, Outcome",
        extra_columns=(("NCyear", "nc_year"), ("Mark", "mark"), ("Outcome", "psc_code")),
    )  # fmt: skip


_GOALS = tuple(f"ELG{n:02d}" for n in range(1, 18))


def _eyfsp(year: int) -> Shape:
    return Shape(
        collection=f"eyfsp-{year}", short="EYFSP", dob=f"{year - 6}-10-14", nc_year="R",
        assessment=_assessment("EYF", year, "LIT", "FA", "E09", "2"), stage="EYF",
        csv_name=f"EYFSP_2001_{year % 100}.csv",
        csv_header=("UPN", "Surname", "Forename", "DOB", "Sex", "NCyear", *_GOALS),
        csv_row=("A938200123001", "SMITH", "AVA", f"14/10/{year - 6}", "F", "R", *["2"] * 17),
        example_header="UPN, Surname, Forename, DOB, Sex, ELG01, ELG02, ... ELG17",
        extra_columns=(("NCyear", "nc_year"), *((g, g.lower()) for g in _GOALS)),
    )  # fmt: skip


SHAPES = {
    "ks1-2023": Shape(
        collection="ks1-2023", short="KS1", dob="2016-01-14", nc_year="2",
        assessment=_assessment("KS1", 2023, "MAT", "TA", "MAT", "EXS"),
        csv_name="KS1_2001_23.csv",
        csv_header=("UPN", "Surname", "Forename", "DOB", "Sex", "Reading", "Writing", "Maths",
                    "Science"),
        csv_row=("A938200123001", "SMITH", "AVA", "14/01/2016", "F", "EXS", "WTS", "GDS", "EXS"),
        example_header="UPN, Surname, Forename, DOB, Sex, Reading, Writing, Maths, Science",
        extra_columns=(("Reading", "reading"), ("Writing", "writing"), ("Maths", "maths"),
                       ("Science", "science")),
    ),
    "phonics-2023": _phonics(2023),
    "phonics-2024": _phonics(2024),
    "eyfsp-2023": _eyfsp(2023),
    "eyfsp-2024": _eyfsp(2024),
}  # fmt: skip
# The large inputs (megabytes each) are read for one collection of each kind.
ONE_OF_EACH = ["ks1-2023", "phonics-2023", "eyfsp-2023"]


@pytest.fixture(params=list(SHAPES))
def shape(request) -> Shape:
    return SHAPES[request.param]


@pytest.fixture(params=ONE_OF_EACH)
def one_of_each(request) -> Shape:
    return SHAPES[request.param]


def refusal(
    content: bytes, shape: Shape, name: str = "9382001_CTF_938LLLL_001.xml"
) -> RejectedFile:
    """The RejectedFile a file gets, whether at open or while its pupils are read."""
    with pytest.raises(RejectedFile) as e:
        with open_school_file(io.BytesIO(content), shape.definition, name=name) as reader:
            for _ in reader.pupils():
                pass
    reason = e.value.reason
    assert reason.startswith(f"{name}: "), reason
    assert "\n" not in reason and "Traceback" not in reason and "XML_PARSE" not in reason
    assert any(h in reason for h in HINTS), reason
    # the collection's own words, never another's
    other = "phonics" if shape.short == "KS1" else "KS1"
    assert other not in reason, reason
    return e.value


def wanted(shape: Shape) -> str:
    return f"send the CTF (.xml) exported from the school's MIS, or the {shape.short} CSV template"


# -- not a CTF or a CSV at all ---------------------------------------------------------------


def test_an_empty_file(shape):
    assert refusal(b"", shape).reason.endswith(
        "the file is empty (0 bytes); ask the school to send it again"
    )


def test_a_file_of_blank_lines(shape):
    assert "no content, only blank space" in refusal(b"\r\n \n\t\n", shape).reason


def test_binary_data(shape):
    reason = refusal(os.urandom(2000) + b"\x00" * 10, shape).reason
    assert reason.endswith(f"this is not a text file (it holds binary data); {wanted(shape)}")


def test_a_pdf(shape):
    reason = refusal(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", shape).reason
    assert reason.endswith(f"this is a PDF document, not a CTF or CSV file; {wanted(shape)}")


def test_an_excel_workbook_renamed_to_csv(tmp_path, shape):
    import xlsxwriter

    path = tmp_path / "book.xlsx"
    book = xlsxwriter.Workbook(str(path))
    book.add_worksheet().write_row(0, 0, list(shape.csv_header))
    book.close()
    e = refusal(path.read_bytes(), shape, name=shape.csv_name)
    assert e.reason == (
        f"{shape.csv_name}: this looks like an Excel workbook; save it as CSV (comma delimited) "
        "and send that"
    )


def test_a_word_document_is_named_as_one(shape):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("_rels/.rels", "<Relationships/>")
        z.writestr("word/document.xml", "<w:document/>")
    reason = refusal(buf.getvalue(), shape, name="covering letter.docx").reason
    assert reason == (
        f"covering letter.docx: this is a Word document, not a CTF or CSV file; {wanted(shape)}"
    )


def test_an_old_excel_workbook(shape):
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500
    assert refusal(ole2, shape, name=shape.csv_name).reason.endswith(
        "this looks like an Excel workbook; save it as CSV (comma delimited) and send that"
    )


def test_a_zip_given_as_a_school_file(shape):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("9382001_CTF_938LLLL_001.xml", shape.good_ctf)
    assert "is a zip archive" in refusal(buf.getvalue(), shape, name="upload.xml").reason


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-16-le", b""),
        ("utf-16-be", b""),
    ],
)
@pytest.mark.parametrize("kind", ["ctf", "tab-separated csv"])
def test_utf16_files(encoding, bom, kind, shape):
    text = shape.good_ctf if kind == "ctf" else shape.csv(shape.csv_row, sep="\t", end="\r\n")
    e = refusal(bom + text.encode(encoding), shape, name=shape.csv_name)
    assert e.reason == (
        f"{shape.csv_name}: the file is UTF-16 encoded; save it again as UTF-8 or CSV"
    )


def test_utf32_files(shape):
    e = refusal(b"\xff\xfe\x00\x00" + shape.good_ctf.encode("utf-32-le"), shape)
    assert "UTF-32" in e.reason


def test_a_web_page(shape):
    expected = f"this is a web page (HTML), not a CTF file; {wanted(shape)}"
    assert refusal(b"<!DOCTYPE html>\n<html><body>Sorry</body></html>", shape).reason.endswith(
        expected
    )
    assert refusal(b"<html><body>Sorry</body></html>", shape).reason.endswith(expected)


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["no BOM", "UTF-8 BOM"])
def test_a_utf8_file_with_or_without_its_bom_is_read(bom, shape):
    for content, name in ((shape.good_ctf, "x.xml"), (shape.csv(shape.csv_row), shape.csv_name)):
        stream = io.BytesIO(bom + content.replace("SMITH", "SMÏTH").encode())
        with open_school_file(stream, shape.definition, name=name) as reader:
            [p] = reader.pupils()
        assert p.surname == "SMÏTH" and p.outcomes, name


# -- XML that is not a CTF, or not well formed ---------------------------------------------------


def test_the_wrong_root_element(shape):
    e = refusal(b'<?xml version="1.0"?>\n<SchoolCensus><Header/></SchoolCensus>', shape)
    assert e.reason == (
        "9382001_CTF_938LLLL_001.xml: the root element is <SchoolCensus>, not <CTfile>: this is "
        f"not a Common Transfer File; export the {shape.short} CTF again from the MIS"
    )


def test_a_root_element_in_a_namespace(shape):
    e = refusal(b'<CTfile xmlns="urn:example"><Header/></CTfile>', shape)
    assert "declares an XML namespace" in e.reason


def test_malformed_xml_names_the_line(shape):
    content = shape.good_ctf.replace("</Surname>", "</Surname>\n\n</Sex>", 1).encode()
    e = refusal(content, shape)
    assert e.line == 5
    assert e.reason.startswith(
        "9382001_CTF_938LLLL_001.xml: the XML is not well formed at line 5 (Opening and ending "
        "tag mismatch:"
    )
    assert e.reason.endswith("ask the school to export it again")


def test_a_truncated_ctf_is_refused_after_the_pupils_before_the_cut(shape):
    content = shape.good_ctf.replace(shape.pupil, (shape.pupil + "\n") * 3).encode()
    cut = content[: content.rindex(b"<Surname>") + 5]
    seen = []
    with pytest.raises(RejectedFile) as e:
        with open_school_file(io.BytesIO(cut), shape.definition, name="cut.xml") as reader:
            seen.extend(reader.pupils())
    assert [p.line for p in seen] == [3, 4]
    assert all(p.outcomes for p in seen)
    assert e.value.line == 5
    assert e.value.reason == (
        "cut.xml: the XML is not well formed at line 5 (Couldn't find end of Start Tag Surn); "
        "the file may be cut short: ask the school to export it again"
    )


def test_an_undeclared_entity(shape):
    e = refusal(shape.good_ctf.replace("SMITH", "&nbsp;SMITH").encode(), shape)
    assert "line 3 (Entity 'nbsp' not defined)" in e.reason


def test_bytes_that_are_not_the_declared_encoding(shape):
    e = refusal(shape.good_ctf.replace("SMITH", "SMITH\nCAFÉ").encode("cp1252"), shape)
    assert e.line == 4
    assert "the text at line 4 is not in the file's declared encoding (UTF-8)" in e.reason


def test_an_encoding_that_cannot_be_read(shape):
    e = refusal(shape.good_ctf.replace("UTF-8", "x-unknown-42").encode(), shape)
    assert "declares an encoding that cannot be read" in e.reason


def test_a_nul_byte_past_the_first_bytes_of_a_ctf(shape):
    pupils = (shape.pupil + "\n") * (SNIFF_BYTES // len(shape.pupil) + 2)
    content = shape.good_ctf.replace(shape.pupil, pupils + shape.pupil.replace("SMITH", "SM\0ITH"))
    e = refusal(content.encode(), shape)
    assert e.line == 3 + pupils.count("\n")
    assert "the XML is not well formed at line" in e.reason
    assert e.reason.endswith("the file may be damaged or edited by hand: ask the school to "
                             "export it again")  # fmt: skip


def test_nesting_deeper_than_libxml2_allows(shape):
    deep = "<a>" * 400 + "</a>" * 400
    e = refusal(shape.good_ctf.replace("<Sex>F</Sex>", deep).encode(), shape)
    assert "Excessive depth in document: 256" in e.reason


def test_a_large_attribute_is_ignored_with_the_rest_of_the_markup(shape):
    content = shape.good_ctf.replace("<Pupil>", f'<Pupil note="{"x" * 1_000_000}">')
    with open_school_file(io.BytesIO(content.encode()), shape.definition, name="x.xml") as r:
        [p] = r.pupils()
    assert p.upn == "A938200123001" and p.outcomes


def test_an_attribute_over_ten_megabytes(one_of_each):
    content = one_of_each.good_ctf.replace("<Pupil>", f'<Pupil note="{"x" * 11_000_000}">')
    e = refusal(content.encode(), one_of_each)
    assert "without a complete pupil" in e.reason or "AttValue length too long" in e.reason


def test_a_text_node_over_ten_megabytes(one_of_each):
    # libxml2 stops at 10 MB of text; the reader's own limit between pupils comes first
    e = refusal(one_of_each.good_ctf.replace("SMITH", "S" * 11_000_000).encode(), one_of_each)
    assert "without a complete pupil" in e.reason or "Text node too long" in e.reason


def test_megabytes_without_a_pupil_are_refused_early(one_of_each):
    junk = "<Junk>" + "<x>y</x>" * 1_500_000 + "</Junk>"
    ctf_text = one_of_each.good_ctf.replace("<CTFpupilData>", "<CTFpupilData>" + junk)
    assert refusal(ctf_text.encode(), one_of_each).reason.endswith(
        "MB of the file goes by without a complete pupil, which no MIS export does; export the "
        f"{one_of_each.short} CTF again from the MIS"
    )


# -- DOCTYPEs, external entities, entity expansion --------------------------------------------------

XXE = textwrap.dedent("""\
    <?xml version="1.0"?>
    <!DOCTYPE CTfile [
      <!ENTITY xxe SYSTEM "{target}">
    ]>
    <CTfile>{header}<CTFpupilData><Pupil><UPN>A938200123001</UPN><Surname>&xxe;</Surname>
    </Pupil></CTFpupilData></CTfile>
    """)

LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE CTfile [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n<CTfile><Header><SourceSchool><LEA>&lol9;</LEA></SourceSchool></Header></CTfile>\n"
)

DOCTYPE_REASON = (
    "9382001_CTF_938LLLL_001.xml: the file has a DOCTYPE declaration, which CTF files never "
    "have; export it again from the MIS"
)


class RecordingResolver(etree.Resolver):
    def __init__(self):
        super().__init__()
        self.asked: list[str] = []

    def resolve(self, system_url, public_id, context):
        self.asked.append(system_url)
        return None


@pytest.mark.parametrize("target", ["file:///etc/passwd", "http://127.0.0.1:9/ks1.dtd", "SECRET"])
def test_external_entities_are_refused_before_parsing(target, tmp_path, shape):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7731")
    target = secret.as_uri() if target == "SECRET" else target
    content = XXE.format(target=target, header=HEADER).encode()
    assert refusal(content, shape).reason == DOCTYPE_REASON
    # also where the entity stands for a result rather than a name
    content = shape.good_ctf.replace(
        "<CTfile>", f'<!DOCTYPE CTfile [<!ENTITY r SYSTEM "{target}">]>\n<CTfile>'
    ).replace("</Result>", "&r;</Result>")
    assert refusal(content.encode(), shape).reason == DOCTYPE_REASON


@pytest.mark.parametrize("target", ["file:///etc/passwd", "SECRET"])
def test_the_parser_would_not_read_external_entities_either(target, tmp_path):
    """The second line of defence: the parser settings alone, without the DOCTYPE check."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7731")
    target = secret.as_uri() if target == "SECRET" else target
    content = XXE.format(target=target, header=HEADER).encode()
    resolver = RecordingResolver()
    parser = etree.XMLPullParser(events=("end",), **ctf.PARSER_OPTIONS)
    parser.resolvers.add(resolver)
    parser.feed(content)
    root = parser.close()
    text = etree.tostring(root, encoding="unicode")
    assert "TOP-SECRET" not in text and "root:" not in text
    assert resolver.asked == []


def test_billion_laughs_is_refused_before_parsing(shape):
    started = time.monotonic()
    assert refusal(LAUGHS.encode(), shape).reason == DOCTYPE_REASON
    assert time.monotonic() - started < 1


def test_the_parser_would_not_expand_billion_laughs_either():
    parser = etree.XMLPullParser(events=("end",), **ctf.PARSER_OPTIONS)
    started = time.monotonic()
    try:
        parser.feed(LAUGHS.encode())
        root = parser.close()
        assert len(etree.tostring(root)) < 10_000
    except etree.XMLSyntaxError:
        pass  # libxml2's own amplification limit: refusing is fine too
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "prolog",
    [
        '<?xml version="1.0"?>\n<!-- an innocent comment -->\n<!DOCTYPE CTfile>',
        '\ufeff\n\n  <?xml version="1.0"?><?pi stuff?>\n<!doctype CTfile SYSTEM "x.dtd">',
        '<?xml version="1.0"?><!--' + "x" * 200_000 + "-->\n<!DOCTYPE CTfile>",
        '<?xml version="1.0"?>' + " " * (65536 - 24) + "<!DOCTYPE CTfile>",  # across a chunk
    ],
)
def test_a_doctype_is_found_wherever_it_hides_in_the_prolog(prolog, shape):
    content = (prolog + f"\n<CTfile>{HEADER}</CTfile>").encode()
    assert refusal(content, shape).reason == DOCTYPE_REASON


def test_a_doctype_inside_a_comment_is_only_a_comment(shape):
    content = shape.good_ctf.replace("<CTfile>", "<!-- <!DOCTYPE CTfile> -->\n<CTfile>").encode()
    with open_school_file(io.BytesIO(content), shape.definition, name="x.xml") as reader:
        assert len(list(reader.pupils())) == 1


def test_a_megabyte_of_prolog_is_refused(one_of_each):
    content = (
        '<?xml version="1.0"?><!--'
        + "x" * 1_200_000
        + "-->"
        + one_of_each.good_ctf.split("\n", 1)[1]
    ).encode()
    assert "no XML element starts in the first megabyte" in refusal(content, one_of_each).reason


# -- CSV ------------------------------------------------------------------------------------------

FORMULAS = ('=HYPERLINK("http://evil.example/","x")', "=1+1", "+SUM(A1:A9)", "@SUM(1)", "-2+3",
            "=cmd|' /C calc'!A0", "-1", "+1", "@cmd")  # fmt: skip


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if '"' in cell or "," in cell else cell


def test_formula_injection_is_kept_as_data(shape):
    """Cells that a spreadsheet would run are read as text, whatever column they are in (the
    exports neutralise them: tests/app/test_import.py, test_data_errors_web.py)."""
    n = len(shape.csv_header)
    first = tuple(_quoted(FORMULAS[i % len(FORMULAS)]) for i in range(n))
    second = (*shape.csv_row[:1], "@cmd|' /C calc'!A0", "-2+3", *shape.csv_row[3:])
    content = shape.csv(first, second).encode()
    with open_school_file(io.BytesIO(content), shape.definition, name=shape.csv_name) as reader:
        one, two = list(reader.pupils())
    read = {
        "UPN": one.upn,
        "Surname": one.surname,
        "Forename": one.forename,
        "DOB": one.dob,
        "Sex": one.sex,
        "NCyear": one.nc_year,
    } | {  # fmt: skip
        column: one.outcomes.get(key, getattr(one, key, None))
        for column, key in shape.extra_columns
    }
    assert [read[c] for c in shape.csv_header] == [FORMULAS[i % len(FORMULAS)] for i in range(n)]
    assert (two.surname, two.forename) == ("@cmd|' /C calc'!A0", "-2+3")


def test_a_csv_without_a_header_row(shape):
    e = refusal(",".join(shape.csv_row).encode() + b"\n", shape, name=shape.csv_name)
    assert e.reason == (
        f"{shape.csv_name}: no header row found: the first line should name the columns, e.g. "
        f"{shape.example_header}; save the {shape.short} template as CSV (comma delimited) and "
        "send that"
    )


def test_a_csv_of_headers_only_has_no_pupils(shape):
    content = shape.csv().encode()
    with open_school_file(io.BytesIO(content), shape.definition, name=shape.csv_name) as reader:
        assert list(reader.pupils()) == []
        assert reader.header.estab == "2001"  # from the name


def test_a_csv_field_too_long_to_be_real(shape):
    content = b"UPN,Surname\nA1,SMITH\nA2," + b"x" * 200_000 + b"\n"
    e = refusal(content, shape, name=shape.csv_name)
    assert e.line == 3
    assert "line 3 cannot be read as CSV" in e.reason


def test_a_nul_byte_late_in_a_csv_is_data_for_the_name_rules(shape):
    content = b"UPN,Surname\n" + b"A1,SMITH\n" * 10_000 + b"A2,SM\x00ITH\n"
    with open_school_file(io.BytesIO(content), shape.definition, name=shape.csv_name) as reader:
        *_, last = reader.pupils()
    assert (last.line, last.surname) == (10_002, "SM\x00ITH")


def test_one_enormous_line(one_of_each):
    content = b"x" * 3_000_000
    assert "no header row found" in refusal(content, one_of_each, one_of_each.csv_name).reason


# -- results as schools write them (phonics: a mark 0-40, or an outcome code) -------------------

# (mark, outcome code) as a school wrote them, and the phonics rules that answer them. A value
# written as a number is a mark, however it is written; a code is read whatever its case.
MARKS = [
    ("34", "", set()),
    (" 32 ", "", set()),
    ("40.0", "", {"PSC-R02"}),
    ("-1", "", {"PSC-R02"}),
    ("41", "", {"PSC-R02"}),
    ("32.5", "", {"PSC-R02"}),
    ("+32", "", {"PSC-R02"}),
    ("٣٢", "", {"PSC-R02"}),  # Arabic-Indic digits: not a mark the return can carry
    ("３２", "", {"PSC-R02"}),  # full-width digits
    ("32", "wa", set()),
    ("31", "Wa", {"PSC-R05"}),  # working at, below the threshold
    ("35", "WT", {"PSC-R05"}),  # working towards, at or above it
    ("", "a", set()),
    ("32", "a", {"PSC-R03"}),
    ("", "wt", {"PSC-R01"}),
    ("", "", {"PSC-R01"}),
    ("", "q", {"PSC-R06"}),
    ("", "ABSENT", {"PSC-R04"}),
    ("", "X" * 300, {"PSC-R04"}),
]
PHONICS = [c for c in SHAPES if c.startswith("phonics")]


def _findings(pupils, definition) -> list[set[str]]:
    return [
        {f.rule for f in rules.check_pupil(p, definition) if f.rule.startswith("PSC-R")}
        for p in pupils
    ]


@pytest.mark.parametrize("collection", PHONICS)
def test_marks_and_codes_in_a_ctf_as_schools_write_them(collection):
    shape = SHAPES[collection]
    year = shape.definition.year
    pupils = []
    for i, (mark, code) in enumerate((m, c) for m, c, _ in MARKS):
        rows = "".join(
            _assessment("KS1", year, "PHO", "TT", "PHO", escape(v)) for v in (mark, code) if v
        )
        pupils.append(
            shape.pupil.replace("A938200123001", f"A9382001230{i:02d}").replace(
                shape.assessment, rows
            )
        )
    content = shape.good_ctf.replace(shape.pupil, "\n".join(pupils))
    with open_school_file(io.BytesIO(content.encode()), shape.definition, name="x.xml") as r:
        read = list(r.pupils())
    assert len(read) == len(MARKS)
    assert _findings(read, shape.definition) == [expected for *_, expected in MARKS]
    for p, (mark, code, _) in zip(read, MARKS, strict=True):
        assert p.outcomes.get("mark", "") == mark.strip(), p.line
        assert p.outcomes.get("psc_code", "") == code, p.line
        for f in rules.check_pupil(p, shape.definition):
            value = f.value.strip()
            assert value[:50].upper() in f.message.upper(), f  # says what the school wrote


@pytest.mark.parametrize("collection", PHONICS)
def test_marks_and_codes_in_a_csv_as_schools_write_them(collection):
    shape = SHAPES[collection]
    rows = [(*shape.csv_row[:6], _quoted(m), _quoted(c)) for m, c, _ in MARKS]
    rows.append((*shape.csv_row[:6], "²", ""))  # a superscript two: no whole number either
    content = shape.csv(*rows).encode()
    with open_school_file(io.BytesIO(content), shape.definition, name=shape.csv_name) as r:
        read = list(r.pupils())
    assert [p.line for p in read] == list(range(2, len(MARKS) + 3))
    expected = [e for *_, e in MARKS] + [{"PSC-R02"}]
    assert _findings(read, shape.definition) == expected


# -- a file of another collection ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "imported_as", "words", "columns"),
    [
        ("phonics-2023", "ks1-2023", "phonics screening check", "Mark, Outcome"),
        ("phonics-2024", "ks1-2024", "phonics screening check", "Mark, Outcome"),
        ("ks1-2023", "phonics-2023", "key stage 1 teacher assessment",
         "Reading, Writing, Maths, Science"),
        ("eyfsp-2023", "ks1-2023", "early years foundation stage profile",
         ", ".join(_GOALS[:10])),
        ("ks1-2023", "eyfsp-2023", "key stage 1 teacher assessment",
         "Reading, Writing, Maths, Science"),
    ],
)  # fmt: skip
def test_a_csv_of_another_collection_is_refused_as_that_collections(
    sent, imported_as, words, columns
):
    shape, other = SHAPES[sent], load(imported_as)
    for name in (shape.csv_name, "results.csv"):  # its own name, and one that says nothing
        with pytest.raises(RejectedFile) as e:
            open_school_file(io.BytesIO(shape.csv(shape.csv_row).encode()), other, name=name)
        assert e.value.reason == (
            f"{name}: the file's columns are {words} results ({columns}), with none for "
            f"{other.name}: import it into {load(sent).name} instead"
        )
        assert e.value.belongs_to == sent


def test_a_csv_with_its_own_columns_and_another_collections_is_its_own():
    shape = SHAPES["ks1-2023"]
    header = (*shape.csv_header, "Phonics mark")
    content = ",".join(header) + "\n" + ",".join((*shape.csv_row, "34")) + "\n"
    with open_school_file(io.BytesIO(content.encode()), shape.definition,
                          name=shape.csv_name) as reader:  # fmt: skip
        [p] = reader.pupils()
        assert reader.counts.notes == ["columns not used: Phonics mark"]
    assert p.outcomes == {"reading": "EXS", "writing": "WTS", "maths": "GDS", "science": "EXS"}


# -- 200 MB ---------------------------------------------------------------------------------------

BIG_PUPIL = (
    "    <Pupil>\n      <UPN>A938200123001</UPN>\n      <Surname>SMITH</Surname>\n"
    "      <Forename>AVA</Forename>\n      <DOB>2016-01-14</DOB>\n      <Sex>F</Sex>\n"
    "      <BasicDetails>\n        <NCyearActual>2</NCyearActual>\n      </BasicDetails>\n"
    "      <StageAssessments>\n        <KeyStage>\n          <Stage>KS1</Stage>\n"
    + "".join(
        "          <StageAssessment>\n            <Locale>ENG</Locale>\n"
        f"            <Year>2023</Year>\n            <Subject>{s}</Subject>\n"
        f"            <Method>TA</Method>\n            <Component>{c}</Component>\n"
        "            <ResultStatus>R</ResultStatus>\n            <Result>EXS</Result>\n"
        "          </StageAssessment>\n"
        for s, c in (("ENG", "READ"), ("ENG", "WRIT"), ("MAT", "MAT"), ("SCI", "SCI"))
    )
    + "        </KeyStage>\n      </StageAssessments>\n    </Pupil>\n"
)
BIG_HEAD = f'<?xml version="1.0" encoding="UTF-8"?>\n<CTfile>\n  {HEADER}\n  <CTFpupilData>\n'
BIG_TAIL = "  </CTFpupilData>\n</CTfile>\n"

MEASURE = textwrap.dedent("""\
    import resource, sys
    from keystage.engine.definition import load
    from keystage.engine.readers import open_school_file
    with open_school_file(sys.argv[1], load()) as reader:
        last = None
        for last in reader.pupils():
            pass
        print(reader.counts.pupils, last.line if last else 0,
              resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
    """)


def _measure(path: Path) -> tuple[int, int, int]:
    """(pupils, line of the last pupil, peak memory in MB) of reading `path` in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), int(out[1]), int(out[2])


@pytest.mark.slow
def test_a_200_mb_ctf_streams_in_bounded_memory_and_its_truncation_is_refused(tmp_path):
    small = tmp_path / "small.xml"
    small.write_text(BIG_HEAD + BIG_PUPIL + BIG_TAIL)
    big = tmp_path / "9382001_CTF_938LLLL_001.xml"
    n = 200_000_000 // len(BIG_PUPIL) + 1
    with big.open("w") as f:
        f.write(BIG_HEAD)
        for _ in range(n // 1000):
            f.write(BIG_PUPIL * 1000)
        f.write(BIG_PUPIL * (n % 1000))
        f.write(BIG_TAIL)
    assert big.stat().st_size > 200_000_000

    _, _, baseline_mb = _measure(small)
    pupils, last_line, peak_mb = _measure(big)
    lines_per_pupil = BIG_PUPIL.count("\n")
    assert pupils == n
    assert last_line == BIG_HEAD.count("\n") + 1 + (n - 1) * lines_per_pupil
    # a whole 200 MB tree would take gigabytes; streaming stays within a few MB of an empty run
    assert peak_mb - baseline_mb < 60, (baseline_mb, peak_mb)

    # cut it short in the middle of the last pupil's Surname line
    size = big.stat().st_size
    cut = size - len(BIG_TAIL) - len(BIG_PUPIL) + BIG_PUPIL.index("SMITH") + 2
    os.truncate(big, cut)
    expected_line = BIG_HEAD.count("\n") + (n - 1) * lines_per_pupil + 3
    read = 0
    with pytest.raises(RejectedFile) as e:
        with open_school_file(big, load("ks1-2023")) as reader:
            for _ in reader.pupils():
                read += 1
    assert read == n - 1
    assert e.value.line == expected_line
    assert e.value.reason.startswith(
        f"{big.name}: the XML is not well formed at line {expected_line} ("
    )
    assert e.value.reason.endswith("the file may be cut short: ask the school to export it again")


def test_a_refused_file_object_is_left_open_for_its_owner(shape):
    for content in (b"no header here\n", b"<Nope/>", b""):
        stream = io.BytesIO(content)
        with pytest.raises(RejectedFile):
            open_school_file(stream, shape.definition, name="x.csv")
        assert not stream.closed
        stream.seek(0)  # still usable


def test_an_opendocument_spreadsheet(shape):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
    e = refusal(buf.getvalue(), shape, name=shape.csv_name)
    assert e.reason.endswith(
        "this looks like a spreadsheet (.ods); save it as CSV (comma delimited) and send that"
    )
