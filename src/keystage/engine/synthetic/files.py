"""Writing synthetic school files: the CTF envelope (header, pupils' details, assessment rows
and the characteristics a file may carry), and what schools send instead of their file (a PDF,
a workbook, UTF-16, a file cut short, a covering letter, the same file twice). What a pupil's
rows say is the collection's own."""

from __future__ import annotations

import csv
import io
import random
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape as _xml_escape

from keystage.engine.definition import Definition
from keystage.engine.synthetic.pupils import Pupil, encodable
from keystage.engine.synthetic.schools import School


@dataclass(frozen=True)
class FileWriters:
    """A collection's file writers and the words its stray documents carry."""

    ctf: Callable[[School, Definition], tuple[bytes, int]]  # -> (bytes, pupil records)
    csv: Callable[[School, Definition], tuple[str, int]]  # -> (text, pupil records)
    title: str  # what a PDF of the results says, e.g. "Phonics screening check"
    short: str  # a covering letter's name and words
    sheet: str  # a workbook's sheet name


def xml_text(text: str) -> str:
    return _xml_escape(text, {'"': "&quot;", "'": "&apos;"})


def fit(text: str, encoding: str) -> str:
    """Text that the file's encoding can hold: MIS exports fold what they cannot write."""
    if encodable(text, encoding):
        return text
    text = text.replace("’", "'")
    if encodable(text, encoding):
        return text
    folded = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in folded if encodable(ch, encoding) and not unicodedata.combining(ch))


# The pupil columns a one-row-per-pupil CSV opens with (phonics, EYFSP), before its results.
CSV_PUPIL_HEADER = ("LA", "Estab", "UPN", "Surname", "Forename", "DOB", "Sex", "NCyear")


def csv_rows(school: School, results) -> tuple[str, int]:
    """A school's CSV of one row per pupil: CSV_PUPIL_HEADER then `results(None)` (the result
    columns' headers), and per pupil its identity (names in capitals when the school's MIS
    writes them so, folded to what the file's encoding holds) then `results(given)`, given
    the pupil's {item: result} as its file says them. Returns (text, pupils)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([*CSV_PUPIL_HEADER, *results(None)])
    enc = "utf-8" if school.encoding.startswith("utf") else school.encoding
    upper = school.style.get("upper_names", False)
    for p in school.pupils:
        given = dict(p.rows if p.rows is not None else p.outcomes.items())
        surname = p.surname.upper() if upper else p.surname
        forename = p.forename.upper() if upper else p.forename
        w.writerow([
            school.la, school.estab, p.upn, fit(surname, enc), fit(forename, enc),
            p.dob_text if p.dob_text is not None else p.dob.strftime("%d/%m/%Y"),
            p.sex if p.sex_text is None else p.sex_text, p.nc_year, *results(given),
        ])  # fmt: skip
    return buf.getvalue(), len(school.pupils)


def ctf_head(school: School, d: Definition) -> list[str]:
    """The CTF's declaration, header and the opening of its pupil data."""
    st = school.style
    enc = school.encoding
    created = st["created"]
    return [
        f'<?xml version="1.0" encoding="{st["declared"]}"?>\n',
        "<CTfile>\n",
        "  <Header>\n",
        "    <DocumentName>Common Transfer File</DocumentName>\n",
        f"    <CTFversion>{d.raw['collection'].get('ctf_version', '22.0')}</CTFversion>\n",
        f"    <DateTime>{created.isoformat()}</DateTime>\n",
        f"    <DocumentQualifier>{'partial' if st.get('partial') else 'full'}</DocumentQualifier>\n",
        f"    <SupplierID>{xml_text(st['supplier'])}</SupplierID>\n",
        "    <SourceSchool>\n",
        f"      <LEA>{school.la}</LEA>\n",
        f"      <Estab>{school.estab}</Estab>\n",
        f"      <URN>{school.urn}</URN>\n" if st.get("urn") else "",
        f"      <SchoolName>{xml_text(fit(school.name, enc))}</SchoolName>\n",
        f"      <AcademicYear>{d.ctf_academic_year}</AcademicYear>\n",
        "    </SourceSchool>\n",
        "    <DestSchool>\n",
        f"      <LEA>{school.la}</LEA>\n",
        "      <Estab>LLLL</Estab>\n",
        "    </DestSchool>\n",
        "  </Header>\n",
        "  <CTFpupilData>\n",
    ]


def result_date(school: School, year: int) -> str:
    """The day the school's results are dated (a day of June of `year`)."""
    return f"{year}-06-{min(school.style['created'].day, 27):02d}"


def stage_assessment(d: Definition, style: dict, subject: str, component: str, result: str, *,
                     method: str, year: int, rdate: str, qualifier: str) -> str:  # fmt: skip
    """One StageAssessment row, laid out as the school's MIS writes them."""
    q = f"<ResultQualifier>{qualifier}</ResultQualifier>" if style.get("qualifier", True) else ""
    rd = f"<ResultDate>{rdate}</ResultDate>" if style.get("result_date", True) else ""
    res = xml_text(result)
    if style.get("compact", False):
        return (f"          <StageAssessment><Locale>{d.locale}</Locale><Year>{year}</Year>"
                f"<Subject>{subject}</Subject><Method>{method}</Method>"
                f"<Component>{component}</Component><ResultStatus>R</ResultStatus>{q}"
                f"<Result>{res}</Result>{rd}</StageAssessment>\n")  # fmt: skip
    q_line = f"<ResultStatus>R</ResultStatus>{q}"
    return (
        "          <StageAssessment>\n"
        f"            <Locale>{d.locale}</Locale><Year>{year}</Year>\n"
        f"            <Subject>{subject}</Subject><Method>{method}</Method>"
        f"<Component>{component}</Component>\n"
        f"            {q_line}\n"
        f"            <Result>{res}</Result>{rd}\n"
        "          </StageAssessment>\n"
    )


def basic_details(p: Pupil, style: dict, d: Definition, nc_year: str) -> str:
    """The pupil's BasicDetails children: the NC year, and the characteristics when the
    school's MIS writes them."""
    basic = [f"        <NCyearActual>{nc_year}</NCyearActual>\n"]
    if style.get("characteristics", False):
        values = {
            "ethnicity": p.ethnicity,
            "eal": "OTH" if p.eal else "ENG",
            "fsm": p.fsm.isoformat() if p.fsm else None,
            "sen": p.sen,
        }
        basic.append(nested(d.characteristics_ctf, values))
    return "".join(basic)


def pupil_element(p: Pupil, style: dict, enc: str, basic: str, stage_rows: list[str]) -> str:
    """One <Pupil>: identity as the school's MIS writes it (upper-case names, <Gender> for
    <Sex>, a mistake's text), its BasicDetails and its StageAssessments."""
    upper = style.get("upper_names", False)
    sex_tag = "Gender" if style.get("gender_tag") else "Sex"
    surname = p.surname.upper() if upper else p.surname
    forename = p.forename.upper() if upper else p.forename
    sex = p.sex if p.sex_text is None else p.sex_text
    dob = p.dob_text if p.dob_text is not None else p.dob.isoformat()
    if surname:
        surname_xml = f"      <Surname>{xml_text(fit(surname, enc))}</Surname>\n"
    else:
        surname_xml = "" if p.omit_surname else "      <Surname></Surname>\n"
    return (
        "    <Pupil>\n"
        f"      <UPN>{xml_text(p.upn)}</UPN>\n"
        f"{surname_xml}"
        f"      <Forename>{xml_text(fit(forename, enc))}</Forename>\n"
        f"      <DOB>{xml_text(dob)}</DOB>\n"
        f"      <{sex_tag}>{xml_text(sex)}</{sex_tag}>\n"
        "      <BasicDetails>\n"
        f"{basic}"
        "      </BasicDetails>\n"
        "      <StageAssessments>\n"
        f"{''.join(stage_rows)}"
        "      </StageAssessments>\n"
        "    </Pupil>\n"
    )


def ctf_end(parts: list[str], school: School) -> bytes:
    """The whole CTF in the school's encoding (with a BOM when its MIS writes one)."""
    parts.append("  </CTFpupilData>\n</CTfile>\n")
    body = "".join(parts).encode(school.encoding)
    if school.style.get("bom"):
        body = b"\xef\xbb\xbf" + body
    return body


def nested(paths: dict[str, str], values: dict[str, str | None]) -> str:
    """BasicDetails children for characteristics, built from the definition's element paths
    (e.g. "BasicDetails/Languages/Type"), so that a renamed element is a definition change."""
    tree: dict = {}
    for name in ("ethnicity", "eal", "fsm", "sen"):
        path, value = paths.get(name), values.get(name)
        if not path or value is None:
            continue
        steps = path.split("/")
        if steps[0] == "BasicDetails":
            steps = steps[1:]
        node = tree
        for step in steps[:-1]:
            node = node.setdefault(step, {})
        node[steps[-1]] = value

    def render(node: dict, depth: int) -> str:
        pad = "  " * depth
        out = []
        for tag, value in node.items():
            if isinstance(value, dict):
                out.append(f"{pad}<{tag}>\n{render(value, depth + 1)}{pad}</{tag}>\n")
            else:
                out.append(f"{pad}<{tag}>{xml_text(value)}</{tag}>\n")
        return "".join(out)

    return render(tree, 4)


def _zip_bytes(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=(2023, 6, 20, 9, 0, 0))  # fixed: deterministic
            z.writestr(info, text)
    return buf.getvalue()


def _xlsx_bytes(school: School, sheet: str) -> bytes:
    return _zip_bytes({
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        "xl/workbook.xml": f'<?xml version="1.0"?><workbook><sheets><sheet name="{sheet}"/></sheets></workbook>',
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0"?><worksheet><sheetData><row><c t="inlineStr"><is><t>{school.la}{school.estab}</t></is></c></row></sheetData></worksheet>',
    })  # fmt: skip


def _docx_bytes(school: School, short: str) -> bytes:
    return _zip_bytes({
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        "word/document.xml": f'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{short} results for {xml_text(school.name)} are attached.</w:t></w:r></w:p></w:body></w:document>',
    })  # fmt: skip


def _pdf_bytes(school: School, title: str) -> bytes:
    text = f"{title} {school.la}{school.estab}".encode("ascii", "replace")
    stream = b"BT /F1 12 Tf 72 720 Td (" + text + b") Tj ET"
    return (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/Contents 4 0 R>>endobj\n"
            b"4 0 obj<</Length " + str(len(stream)).encode() + b">>stream\n" + stream
            + b"\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")  # fmt: skip


def write_school(school: School, la_dir: Path, d: Definition, rng: random.Random,
                 writers: FileWriters) -> list[tuple[str, str, int, str]]:  # fmt: skip
    """Write the school's file(s); returns (file name, kind, pupil records, encoding) each."""
    out = []
    fault = school.fault
    if fault == "pdf_as_csv":
        (la_dir / school.file_name).write_bytes(_pdf_bytes(school, writers.title))
        return [(school.file_name, "pdf", 0, "")]
    if fault == "xlsx_as_csv":
        (la_dir / school.file_name).write_bytes(_xlsx_bytes(school, writers.sheet))
        return [(school.file_name, "xlsx", 0, "")]
    if school.kind == "csv":
        text, records = writers.csv(school, d)
        if fault == "utf16_csv":
            data, kind, enc = text.encode("utf-16"), "csv_utf16", "utf-16"
        else:
            enc = school.encoding
            data, kind = text.encode(enc), "csv"
    else:
        data, records = writers.ctf(school, d)
        kind, enc = "ctf", school.encoding
        if fault == "truncated_xml":
            data = data[: int(len(data) * rng.uniform(0.3, 0.9))]
            kind = "ctf_truncated"
            records = data.count(b"</Pupil>")  # the pupils that survive whole
    (la_dir / school.file_name).write_bytes(data)
    out.append((school.file_name, kind, records, enc))
    if fault == "word_document":
        name = f"{writers.short} covering letter {school.estab}.docx"
        (la_dir / name).write_bytes(_docx_bytes(school, writers.short))
        out.append((name, "docx", 0, ""))
    if fault == "duplicate_file":
        stem, dot, ext = school.file_name.rpartition(".")
        name = f"{stem} (1){dot}{ext}"
        (la_dir / name).write_bytes(data)
        out.append((name, f"{kind}_copy", records, enc))
    return out
