"""Read and validate an LA -> national collection return file (spec §1.0b, §2.3, §4.2, §5), made
by Keystage or by any other system, as the collector does on upload.

In order: the prolog (any DOCTYPE refused, as in the CTF reader: it is how entity-expansion and
external-entity attacks get in), well-formedness and the schema (streamed with lxml iterparse
under the definition's XSD), the header (rules H01-H08, against the uploader's LA), each
establishment (in the register and of this LA; twice in one upload refused, E03; then
E02/E04/E05 as findings) and each pupil (the pupil rules). A file that fails the first three,
or names a school that cannot be held, raises `RejectedFile` with one line for a person;
otherwise every establishment comes back with its pupils, findings and query explanations.
Cross-school rules (duplicate UPNs across an LA's whole return) need every file the collector
holds, so the caller runs `rules.check_cohort` over them.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from keystage.engine import rules
from keystage.engine.definition import Definition, definitions_dir
from keystage.engine.readers.ctf import PARSER_OPTIONS as CTF_PARSER_OPTIONS
from keystage.engine.records import FileHeader, Finding, PupilRecord, RejectedFile
from keystage.engine.return_writer import Explanation
from keystage.engine.rules import SchoolInfo
from keystage.engine.words import digits_only

PROLOG_LIMIT = 1024 * 1024
# A return that breaks the schema is validated again as a tree to say at which line, up to
# this size (an LA's largest return is a few tens of megabytes).
SCHEMA_LINE_BYTES = 64 * 1024 * 1024
# The CTF reader's hardened parser settings (no DTD, no entities, no network, libxml2's
# limits kept), keeping blank text: a return's layout is not trimmed before validation.
PARSER_OPTIONS = {
    k: v for k, v in CTF_PARSER_OPTIONS.items() if k not in ("remove_blank_text", "collect_ids")
}
_REMAKE = "make the return again and upload it"
_POSITION = re.compile(r",? line \d+, column \d+$|\s*\(<string>, line \d+\)$")


@dataclass
class ReadPupil:
    record: PupilRecord
    explanations: list[Explanation]
    findings: list[Finding] = field(default_factory=list)


@dataclass
class ReadEstablishment:
    la: str
    estab: str
    line: int
    school: SchoolInfo
    pupils: list[ReadPupil]
    explanations: list[Explanation]
    findings: list[Finding] = field(default_factory=list)

    @property
    def laestab(self) -> str:
        return f"{self.la}{self.estab}"


@dataclass
class ReturnFile:
    name: str
    header: dict[str, str]
    establishments: list[ReadEstablishment]

    @property
    def serial(self) -> int | None:
        value = self.header.get("SerialNo", "")
        return int(value) if digits_only(value) else None


@cache
def _schema(path: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(path, etree.XMLParser(no_network=True)))


def _schema_path(definition: Definition) -> str:
    base = Path(definition.source).parent if definition.source else definitions_dir()
    return str(base / definition.return_layout["xsd"])


def schema_for(definition: Definition) -> etree.XMLSchema:
    """The XSD of the definition's return layout (`[return] xsd`)."""
    return _schema(_schema_path(definition))


def check_prolog(content: bytes, name: str) -> None:
    """Refuse a DOCTYPE (or any other markup declaration) before the root element."""
    buf = content[:PROLOG_LIMIT].removeprefix(b"\xef\xbb\xbf")
    pos = 0
    while True:
        while pos < len(buf) and buf[pos : pos + 1].isspace():
            pos += 1
        if buf.startswith(b"<?", pos):
            end = buf.find(b"?>", pos)
        elif buf.startswith(b"<!--", pos):
            end = buf.find(b"-->", pos)
        elif buf.startswith(b"<!", pos):
            raise RejectedFile(
                f"{name}: the file has a DOCTYPE or other declaration, which a return never has; "
                f"it was not read: {_REMAKE}"
            )
        else:
            if pos >= len(buf) or not buf.startswith(b"<", pos):
                raise RejectedFile(f"{name}: this is not an XML return file; {_REMAKE}")
            return
        if end < 0:
            raise RejectedFile(f"{name}: the file is not well-formed XML at its start; {_REMAKE}")
        pos = end + 2


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _text(el, name: str) -> str:
    child = el.find(name)
    if child is None or child.text is None:
        return ""
    return child.text.strip()


def _explanations(el, layout: dict) -> list[Explanation]:
    group = el.find(layout["query_explanations"])
    if group is None:
        return []
    return [
        Explanation(
            _text(item, layout["explanation_rule"]).upper(),
            _text(item, layout["explanation_field"]),
            _text(item, layout["explanation_text"]),
        )
        for item in group.findall(layout["query_explanation"])
    ]


def explanation_for(finding: Finding, explanations: list[Explanation]) -> str:
    """The note the file carries for a query finding ('' when none): same rule, and the same
    item or no item named."""
    for e in explanations:
        if e.rule == finding.rule and (not e.field or e.field == finding.field) and e.text:
            return e.text
    return ""


class _Reader:
    def __init__(self, definition, *, name, la, now, schools):
        self.d = definition
        self.layout = definition.return_layout
        self.name = name
        self.la = la
        self.now = now
        self.schools = schools
        self.header: dict[str, str] | None = None
        self.establishments: list[ReadEstablishment] = []
        self.seen: set[str] = set()
        # (Subject, Component) of the return -> subject key
        self.assessments = {
            (s.return_subject, s.return_component): s.key for s in definition.subjects
        }

    def reject(self, what: str) -> RejectedFile:
        return RejectedFile(f"{self.name}: {what}")

    def read(self, stream: BinaryIO) -> ReturnFile:
        layout = self.layout
        start = stream.tell()
        events = etree.iterparse(stream, events=("start", "end"), **PARSER_OPTIONS)
        depth = 0
        try:
            for event, el in events:
                if event == "start":
                    depth += 1
                    if depth == 1 and _local(el.tag) != layout["root"]:
                        raise self.reject(
                            f"the file starts with <{_local(el.tag)}>, not <{layout['root']}>: it "
                            f"is not a {self.d.collection} return; upload the return made for "
                            "the national collection, not a school's CTF"
                        )
                    continue
                depth -= 1
                tag = el.tag
                if tag == layout.get("header", "Header") and depth == 1:
                    self._header(el)
                elif tag == layout["establishment"] and depth == 2:
                    if self.header is None:
                        raise self.reject(f"the return has no header; {_REMAKE}")
                    self._establishment(el)
                    el.clear()
                    while el.getprevious() is not None:
                        del el.getparent()[0]
        except etree.XMLSyntaxError as e:
            message = _POSITION.sub("", str(e.msg if hasattr(e, "msg") else e)).strip()
            line = getattr(e, "lineno", 0) or 0
            where = f" at line {line}" if line else ""
            raise self.reject(
                f"the file is not well-formed XML{where} ({message}); {_REMAKE}"
            ) from None
        if self.header is None:
            raise self.reject(f"the return has no header; {_REMAKE}")
        stream.seek(start)
        self._check_schema(stream)
        if not self.establishments:
            raise self.reject(f"the return holds no establishment; {_REMAKE}")
        return ReturnFile(self.name, self.header, self.establishments)

    def _check_schema(self, stream: BinaryIO) -> None:
        """A second streamed pass under the XSD. (lxml's iterparse does not report a document
        cut short while it validates, so well-formedness is the first pass's job.)"""
        start = stream.tell()
        events = etree.iterparse(
            stream,
            events=("end",),
            tag=self.layout["pupil"],
            schema=schema_for(self.d),
            **PARSER_OPTIONS,
        )
        try:
            for _, el in events:
                el.clear()
                while el.getprevious() is not None:
                    del el.getparent()[0]
        except etree.XMLSyntaxError as e:
            message = _POSITION.sub("", str(e)).strip()
            line = self._schema_error_line(stream, start)
            where = f" at line {line}" if line else ""
            raise self.reject(
                f"the file does not match the return layout{where} ({message}); {_REMAKE}"
            ) from None

    def _schema_error_line(self, stream: BinaryIO, start: int) -> int:
        """Where the first schema error is: streamed validation gives no line, so a file that
        fails it is validated again as a tree, which does. Only for files up to
        SCHEMA_LINE_BYTES, so that a huge hostile file is never held whole; 0 when not known."""
        stream.seek(0, 2)
        if stream.tell() - start > SCHEMA_LINE_BYTES:
            return 0
        stream.seek(start)
        try:
            tree = etree.parse(stream, etree.XMLParser(**PARSER_OPTIONS))
        except etree.XMLSyntaxError:
            return 0
        schema = _schema.__wrapped__(_schema_path(self.d))  # its own error log, not shared
        if schema.validate(tree):
            return 0
        return next((e.line for e in schema.error_log if e.line), 0)

    def _header(self, el) -> None:
        values = {_local(c.tag): (c.text or "").strip() for c in el.iter() if len(c) == 0}
        self.header = values
        problems = [
            f.message
            for f in rules.check_return_header(values, self.d, la=self.la, now=self.now)
            if f.severity == "error"
        ]
        if problems:
            raise self.reject(" ".join(problems))

    def _establishment(self, el) -> None:
        layout = self.layout
        la, estab = _text(el, "LEA"), _text(el, "Estab")
        # A setting (a collection with `urn_element`) gives its URN in place of Estab, and the
        # caller's `schools` holds it under that URN.
        urn = _text(el, layout["urn_element"]) if layout.get("urn_element") and not estab else ""
        laestab = f"{la}{estab}" if not urn else urn
        line = el.sourceline or 0
        if la != self.header.get("LEA", ""):
            raise self.reject(
                f"establishment {laestab or '(no number)'} (line {line}) gives LEA "
                f"'{la}', not the header's LA {self.header.get('LEA', '')}: an LA returns only "
                f"its own schools; {_REMAKE}"
            )
        school = self.schools.get(laestab)
        if school is None:
            raise self.reject(
                f"establishment {laestab or '(no number)'} (line {line}) is not a school of LA "
                f"{self.la} in the schools register: correct its LEA and Estab, or update the "
                "register if the school has just opened"
            )
        if laestab in self.seen:
            raise self.reject(
                f"establishment {laestab} appears more than once in this upload (line {line}): "
                "send each school once, with all its pupils"
            )
        self.seen.add(laestab)
        pupils = [self._pupil(p) for p in el.iterfind(f"{layout['pupils']}/{layout['pupil']}")]
        header = FileHeader(
            kind="return", la=la, estab=estab, urn=urn or school.urn, school_name=school.name
        )
        explanations = _explanations(el, layout)
        findings = rules.check_school(header, school, len(pupils), self.d)
        findings = [_explained(f, explanations) for f in findings]
        self.establishments.append(
            ReadEstablishment(la, estab, line, school, pupils, explanations, findings)
        )

    def _pupil(self, el) -> ReadPupil:
        layout, d = self.layout, self.d
        record = PupilRecord(
            line=el.sourceline or 0,
            upn=_text(el, "UPN").upper(),
            surname=_text(el, "Surname"),
            forename=_text(el, "Forename"),
            dob=_text(el, "DOB"),
            sex=_text(el, layout.get("sex_element", "Sex")),
            nc_year=_text(el, layout["nc_year_element"]) if layout.get("nc_year_element") else "",
        )
        year, stage, method = str(d.year), d.stage.upper(), d.method.upper()
        path = f"{layout['stage_assessments']}/{layout['key_stage']}"
        for key_stage in el.iterfind(path):
            row_stage = _text(key_stage, "Stage").upper()
            for row in key_stage.iterfind(layout["stage_assessment"]):
                subject = self.assessments.get(
                    (_text(row, "Subject").upper(), _text(row, "Component").upper())
                ) or d.map_ctf_assessment(_text(row, "Subject"), _text(row, "Component"))
                if subject is None:
                    continue
                result = _text(row, "Result")
                wrong = [
                    f"{what} {value or '(none)'}"
                    for what, value, wanted in (
                        ("Stage", row_stage, stage),
                        ("Year", _text(row, "Year"), year),
                        ("Method", _text(row, "Method").upper(), method),
                    )
                    if value != wanted
                ]
                if wrong:
                    if subject not in record.outcomes:
                        record.wrong_parameters.setdefault(subject, ", ".join(wrong))
                    continue
                record.wrong_parameters.pop(subject, None)
                if subject in record.outcomes:
                    seen = record.duplicate_outcomes.setdefault(subject, [record.outcomes[subject]])
                    seen.append(result)
                    continue
                record.outcomes[subject] = result
        explanations = _explanations(el, layout)
        findings = [_explained(f, explanations) for f in rules.check_pupil(record, d)]
        return ReadPupil(record, explanations, findings)


@dataclass(frozen=True)
class ExplainedFinding:
    """A finding of a return file, with the note the file carries for it (queries only)."""

    finding: Finding
    explanation: str

    def __getattr__(self, name):
        return getattr(self.finding, name)


def _explained(finding: Finding, explanations: list[Explanation]) -> ExplainedFinding:
    note = explanation_for(finding, explanations) if finding.severity == "query" else ""
    return ExplainedFinding(finding, note)


def read_return(
    source: bytes | BinaryIO,
    definition: Definition,
    *,
    name: str,
    la: str,
    schools: Mapping[str, SchoolInfo],
    now: dt.datetime,
) -> ReturnFile:
    """Validate one return file uploaded by LA `la`; `schools` are the LA's schools in the
    register, keyed by LAESTAB, and its settings (a collection whose layout has `urn_element`)
    by their URN. Raises `RejectedFile` (one line) when the file cannot be held."""
    if isinstance(source, bytes | bytearray):
        head, stream = bytes(source), io.BytesIO(source)
    else:
        stream = source
        here = stream.tell()
        head = stream.read(PROLOG_LIMIT)
        stream.seek(here)
    check_prolog(head, name)
    return _Reader(definition, name=name, la=la, now=now, schools=schools).read(stream)
