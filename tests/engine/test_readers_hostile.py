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
from pathlib import Path

import pytest
from lxml import etree

from keystage.engine.definition import load
from keystage.engine.readers import ctf, open_school_file
from keystage.engine.records import RejectedFile

DEFINITION = load("ks1-2023")
HINTS = ("export", "save", "send", "ask")

HEADER = "<Header><SourceSchool><LEA>938</LEA><Estab>2001</Estab></SourceSchool></Header>"
PUPIL = (
    "<Pupil><UPN>A938200123001</UPN><Surname>SMITH</Surname><Forename>AVA</Forename>"
    "<DOB>2016-01-14</DOB><Sex>F</Sex><StageAssessments><KeyStage><Stage>KS1</Stage>"
    "<StageAssessment><Year>2023</Year><Subject>MAT</Subject><Method>TA</Method>"
    "<Component>MAT</Component><Result>EXS</Result></StageAssessment>"
    "</KeyStage></StageAssessments></Pupil>"
)
GOOD_CTF = f'<?xml version="1.0" encoding="UTF-8"?>\n<CTfile>{HEADER}<CTFpupilData>\n{PUPIL}\n</CTFpupilData></CTfile>\n'


def refusal(content: bytes, name: str = "9382001_CTF_938LLLL_001.xml") -> RejectedFile:
    """The RejectedFile a file gets, whether at open or while its pupils are read."""
    with pytest.raises(RejectedFile) as e:
        with open_school_file(io.BytesIO(content), DEFINITION, name=name) as reader:
            for _ in reader.pupils():
                pass
    reason = e.value.reason
    assert reason.startswith(f"{name}: "), reason
    assert "\n" not in reason and "Traceback" not in reason and "XML_PARSE" not in reason
    assert any(h in reason for h in HINTS), reason
    return e.value


# -- not a CTF or a CSV at all ---------------------------------------------------------------


def test_an_empty_file():
    assert refusal(b"").reason.endswith(
        "the file is empty (0 bytes); ask the school to send it again"
    )


def test_a_file_of_blank_lines():
    assert "no content, only blank space" in refusal(b"\r\n \n\t\n").reason


def test_binary_data():
    assert "not a text file" in refusal(os.urandom(2000) + b"\x00" * 10).reason


def test_a_pdf():
    assert "this is a PDF document" in refusal(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj").reason


def test_an_excel_workbook_renamed_to_csv(tmp_path):
    import xlsxwriter

    path = tmp_path / "book.xlsx"
    book = xlsxwriter.Workbook(str(path))
    book.add_worksheet().write_row(0, 0, ["UPN", "Surname", "Forename"])
    book.close()
    e = refusal(path.read_bytes(), name="KS1_2001_23.csv")
    assert e.reason == (
        "KS1_2001_23.csv: this looks like an Excel workbook; save it as CSV (comma delimited) "
        "and send that"
    )


def test_a_word_document_is_named_as_one():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("_rels/.rels", "<Relationships/>")
        z.writestr("word/document.xml", "<w:document/>")
    reason = refusal(buf.getvalue(), name="KS1 covering letter.docx").reason
    assert reason.startswith("KS1 covering letter.docx: this is a Word document, not a CTF")
    assert "Excel" not in reason


def test_an_old_excel_workbook():
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500
    assert refusal(ole2, name="KS1_2001_23.csv").reason.endswith(
        "this looks like an Excel workbook; save it as CSV (comma delimited) and send that"
    )


def test_a_zip_given_as_a_school_file():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("9382001_CTF_938LLLL_001.xml", GOOD_CTF)
    assert "is a zip archive" in refusal(buf.getvalue(), name="upload.xml").reason


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-16-le", b""),
        ("utf-16-be", b""),
    ],
)
@pytest.mark.parametrize(
    "text", [GOOD_CTF, "UPN\tSurname\tForename\r\nA938200123001\tSMITH\tAVA\r\n"]
)
def test_utf16_files(encoding, bom, text):
    e = refusal(bom + text.encode(encoding), name="KS1_2001_23.csv")
    assert e.reason == "KS1_2001_23.csv: the file is UTF-16 encoded; save it again as UTF-8 or CSV"


def test_utf32_files():
    e = refusal(b"\xff\xfe\x00\x00" + GOOD_CTF.encode("utf-32-le"))
    assert "UTF-32" in e.reason


def test_a_web_page():
    assert (
        "this is a web page (HTML)"
        in refusal(b"<!DOCTYPE html>\n<html><body>Sorry</body></html>").reason
    )
    assert "this is a web page (HTML)" in refusal(b"<html><body>Sorry</body></html>").reason


# -- XML that is not a CTF, or not well formed ---------------------------------------------------


def test_the_wrong_root_element():
    e = refusal(b'<?xml version="1.0"?>\n<SchoolCensus><Header/></SchoolCensus>')
    assert e.reason == (
        "9382001_CTF_938LLLL_001.xml: the root element is <SchoolCensus>, not <CTfile>: this is "
        "not a Common Transfer File; export the KS1 CTF again from the MIS"
    )


def test_a_root_element_in_a_namespace():
    e = refusal(b'<CTfile xmlns="urn:example"><Header/></CTfile>')
    assert "declares an XML namespace" in e.reason


def test_malformed_xml_names_the_line():
    content = GOOD_CTF.replace("</Surname>", "</Surname>\n\n</Sex>", 1).encode()
    e = refusal(content)
    assert e.line == 5
    assert e.reason.startswith(
        "9382001_CTF_938LLLL_001.xml: the XML is not well formed at line 5 (Opening and ending "
        "tag mismatch:"
    )
    assert e.reason.endswith("ask the school to export it again")


def test_a_truncated_ctf_is_refused_after_the_pupils_before_the_cut():
    content = GOOD_CTF.replace(PUPIL, (PUPIL + "\n") * 3).encode()
    cut = content[: content.rindex(b"<Surname>") + 5]
    seen = []
    with pytest.raises(RejectedFile) as e:
        with open_school_file(io.BytesIO(cut), DEFINITION, name="cut.xml") as reader:
            seen.extend(reader.pupils())
    assert len(seen) == 2
    assert e.value.line == 5
    assert e.value.reason == (
        "cut.xml: the XML is not well formed at line 5 (Couldn't find end of Start Tag Surn); "
        "the file may be cut short: ask the school to export it again"
    )


def test_an_undeclared_entity():
    e = refusal(GOOD_CTF.replace("SMITH", "&nbsp;SMITH").encode())
    assert "line 3 (Entity 'nbsp' not defined)" in e.reason


def test_bytes_that_are_not_the_declared_encoding():
    e = refusal(GOOD_CTF.replace("SMITH", "SMITH\nCAFÉ").encode("cp1252"))
    assert e.line == 4
    assert "the text at line 4 is not in the file's declared encoding (UTF-8)" in e.reason


def test_an_encoding_that_cannot_be_read():
    e = refusal(GOOD_CTF.replace("UTF-8", "x-unknown-42").encode())
    assert "declares an encoding that cannot be read" in e.reason


def test_nesting_deeper_than_libxml2_allows():
    deep = "<a>" * 400 + "</a>" * 400
    e = refusal(GOOD_CTF.replace("<Sex>F</Sex>", deep).encode())
    assert "Excessive depth in document: 256" in e.reason


def test_a_text_node_over_ten_megabytes():
    # libxml2 stops at 10 MB of text; the reader's own limit between pupils comes first
    e = refusal(GOOD_CTF.replace("SMITH", "S" * 11_000_000).encode())
    assert "without a complete pupil" in e.reason or "Text node too long" in e.reason


def test_megabytes_without_a_pupil_are_refused_early():
    junk = "<Junk>" + "<x>y</x>" * 1_500_000 + "</Junk>"
    e = refusal(GOOD_CTF.replace("<CTFpupilData>", "<CTFpupilData>" + junk).encode())
    assert "MB of the file goes by without a complete pupil" in e.reason


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
def test_external_entities_are_refused_before_parsing(target, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7731")
    target = secret.as_uri() if target == "SECRET" else target
    content = XXE.format(target=target, header=HEADER).encode()
    assert refusal(content).reason == DOCTYPE_REASON


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


def test_billion_laughs_is_refused_before_parsing():
    started = time.monotonic()
    assert refusal(LAUGHS.encode()).reason == DOCTYPE_REASON
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
def test_a_doctype_is_found_wherever_it_hides_in_the_prolog(prolog):
    content = (prolog + f"\n<CTfile>{HEADER}</CTfile>").encode()
    assert refusal(content).reason == DOCTYPE_REASON


def test_a_doctype_inside_a_comment_is_only_a_comment():
    content = GOOD_CTF.replace("<CTfile>", "<!-- <!DOCTYPE CTfile> -->\n<CTfile>").encode()
    with open_school_file(io.BytesIO(content), DEFINITION, name="x.xml") as reader:
        assert len(list(reader.pupils())) == 1


def test_a_megabyte_of_prolog_is_refused():
    content = (
        '<?xml version="1.0"?><!--' + "x" * 1_200_000 + "-->" + GOOD_CTF.split("\n", 1)[1]
    ).encode()
    assert "no XML element starts in the first megabyte" in refusal(content).reason


# -- CSV ------------------------------------------------------------------------------------------


def test_formula_injection_is_kept_as_data():
    rows = [
        "UPN,Surname,Forename,DOB,Sex,Reading,Writing,Maths,Science",
        '"=HYPERLINK(""http://evil.example/"",""x"")",=1+1,+SUM(A1:A9),=1+1,-2+3,=EXS,@SUM(1),-1,+1',
        "A938200123001,@cmd|' /C calc'!A0,-2+3,14/01/2016,F,EXS,EXS,EXS,EXS",
    ]
    with open_school_file(
        io.BytesIO("\n".join(rows).encode()), DEFINITION, name="KS1_2001_23.csv"
    ) as reader:
        first, second = list(reader.pupils())
    assert first.upn == '=HYPERLINK("http://evil.example/","x")'
    assert (first.surname, first.forename, first.dob, first.sex) == (
        "=1+1",
        "+SUM(A1:A9)",
        "=1+1",
        "-2+3",
    )
    assert first.outcomes == {
        "reading": "=EXS",
        "writing": "@SUM(1)",
        "maths": "-1",
        "science": "+1",
    }
    assert (second.surname, second.forename) == ("@cmd|' /C calc'!A0", "-2+3")


def test_a_csv_without_a_header_row():
    e = refusal(b"A938200123001,SMITH,AVA,14/01/2016,F,EXS,WTS,GDS,EXS\n", name="KS1_2001_23.csv")
    assert e.reason.startswith(
        "KS1_2001_23.csv: no header row found: the first line should name the columns, e.g. UPN, "
        "Surname, Forename, DOB, Sex, Reading, Writing, Maths, Science"
    )


def test_a_csv_field_too_long_to_be_real():
    content = b"UPN,Surname\nA1,SMITH\nA2," + b"x" * 200_000 + b"\n"
    e = refusal(content, name="KS1_2001_23.csv")
    assert e.line == 3
    assert "line 3 cannot be read as CSV" in e.reason


def test_a_nul_byte_late_in_a_csv_is_data_for_the_name_rules():
    content = b"UPN,Surname\n" + b"A1,SMITH\n" * 10_000 + b"A2,SM\x00ITH\n"
    with open_school_file(io.BytesIO(content), DEFINITION, name="KS1_2001_23.csv") as reader:
        *_, last = reader.pupils()
    assert (last.line, last.surname) == (10_002, "SM\x00ITH")


def test_one_enormous_line():
    assert "no header row found" in refusal(b"x" * 3_000_000, name="KS1_2001_23.csv").reason


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
        with open_school_file(big, DEFINITION) as reader:
            for _ in reader.pupils():
                read += 1
    assert read == n - 1
    assert e.value.line == expected_line
    assert e.value.reason.startswith(
        f"{big.name}: the XML is not well formed at line {expected_line} ("
    )
    assert e.value.reason.endswith("the file may be cut short: ask the school to export it again")


def test_a_refused_file_object_is_left_open_for_its_owner():
    for content in (b"no header here\n", b"<Nope/>", b""):
        stream = io.BytesIO(content)
        with pytest.raises(RejectedFile):
            open_school_file(stream, DEFINITION, name="x.csv")
        assert not stream.closed
        stream.seek(0)  # still usable


def test_an_opendocument_spreadsheet():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
    e = refusal(buf.getvalue(), name="KS1_2001_23.csv")
    assert e.reason.endswith(
        "this looks like a spreadsheet (.ods); save it as CSV (comma delimited) and send that"
    )
