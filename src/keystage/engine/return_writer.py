"""Write the LA -> national collection return (spec §2.3, §4.2) from plain records.

Element names come from the definition's [return] section (they are reconstructed, so they are
data). The writer streams with `lxml.etree.xmlfile`, one pupil at a time, so an LA of 20,000
pupils never sits in memory as a tree. Empty items are left out, never written empty. A layout with `nc_year_element` gives each
pupil's NC year (a collection of several year groups), one with `urn_element` a setting's URN
(a setting has no establishment number); codes the definition lists in
`[codes] not_sent` are never written (a code the national collection does not take: the item
beside it carries the result).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

from lxml import etree

from keystage.engine.definition import Definition


@dataclass(frozen=True)
class ReturnHeader:
    """The COLLECT header of a return (spec §2.3)."""

    collection: str
    term: str
    year: str
    source_level: str
    la: str
    software_code: str
    release: str
    serial: int
    created: dt.datetime

    @property
    def values(self) -> dict[str, str]:
        """Element name -> text, as `rules.check_return_header` takes them."""
        return {
            "Collection": self.collection,
            "Term": self.term,
            "Year": self.year,
            "SourceLevel": self.source_level,
            "LEA": self.la,
            "SoftwareCode": self.software_code,
            "Release": self.release,
            "SerialNo": str(self.serial),
            "DateTime": self.created.strftime("%Y-%m-%dT%H:%M:%S"),
        }


@dataclass(frozen=True)
class Explanation:
    """Why a query is right, as the LA wrote it: the rule, the item it is about, the note."""

    rule: str
    field: str
    text: str


@dataclass
class ReturnPupil:
    upn: str
    surname: str
    forename: str
    dob: str
    sex: str
    outcomes: dict[str, str]  # subject key -> code
    explanations: list[Explanation] = field(default_factory=list)
    nc_year: str = ""  # written when the layout has `nc_year_element`


@dataclass
class ReturnEstablishment:
    la: str
    estab: str
    pupils: Iterable[ReturnPupil]
    explanations: list[Explanation] = field(default_factory=list)
    # A setting's URN (a collection of settings without an establishment number), written
    # when the layout has `urn_element`.
    urn: str = ""

    @property
    def laestab(self) -> str:
        return f"{self.la}{self.estab}"


def make_header(
    definition: Definition, *, la: str, serial: int, release: str, created: dt.datetime
) -> ReturnHeader:
    layout = definition.return_layout
    return ReturnHeader(
        collection=definition.collection,
        term=definition.term,
        year=str(definition.year),
        source_level=str(layout.get("source_level", "L")),
        la=la,
        software_code=str(layout.get("software_code", "")),
        release=release,
        serial=serial,
        created=created.replace(microsecond=0, tzinfo=None),
    )


def school_file_name(definition: Definition, *, la: str, estab: str, serial: int) -> str:
    return definition.return_layout["school_file_name"].format(
        la=la, estab=estab, year=definition.year, serial=serial
    )


def bundle_file_name(definition: Definition, *, la: str, serial: int) -> str:
    return definition.return_layout["bundle_file_name"].format(
        la=la, year=definition.year, serial=serial
    )


# Outcome codes are written as compared by the rules: trimmed and upper-cased (spec §5 notes).
def _code(value: str) -> str:
    return (value or "").strip().upper()


# Characters XML 1.0 cannot carry (control characters a CSV may have held): dropped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _leaf(xf, name: str, text: str) -> None:
    text = _NOT_XML.sub("", text or "").strip()
    if text:  # leave out elements rather than write empty ones (§4.2)
        with xf.element(name):
            xf.write(text)


def _explanations(xf, layout: dict, explanations: list[Explanation]) -> None:
    if not explanations:
        return
    limit = int(layout.get("explanation_max_length", 1000))
    with xf.element(layout["query_explanations"]):
        for e in explanations:
            with xf.element(layout["query_explanation"]):
                _leaf(xf, layout["explanation_rule"], e.rule)
                _leaf(xf, layout["explanation_field"], e.field)
                _leaf(xf, layout["explanation_text"], e.text.strip()[:limit])


def write_return(
    out: BinaryIO,
    header: ReturnHeader,
    establishments: Iterable[ReturnEstablishment],
    definition: Definition,
) -> int:
    """Write one return to `out` (a binary file); returns the number of pupils written."""
    layout = definition.return_layout
    subjects = definition.subjects
    not_sent = {_code(c) for c in definition.codes.get("not_sent", ())}
    pupils_written = 0
    with etree.xmlfile(out, encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element(layout["root"]):
            with xf.element(layout.get("header", "Header")):
                values = header.values
                with xf.element(layout.get("collection_details", "CollectionDetails")):
                    for name in ("Collection", "Term", "Year"):
                        _leaf(xf, name, values[name])
                with xf.element(layout.get("source", "Source")):
                    for name in (
                        "SourceLevel",
                        "LEA",
                        "SoftwareCode",
                        "Release",
                        "SerialNo",
                        "DateTime",
                    ):
                        _leaf(xf, name, values[name])
            xf.write("\n")
            with xf.element(layout["establishments"]):
                for estab in establishments:
                    xf.write("\n")
                    with xf.element(layout["establishment"]):
                        _leaf(xf, "LEA", estab.la)
                        _leaf(xf, "Estab", estab.estab)
                        if layout.get("urn_element"):
                            _leaf(xf, layout["urn_element"], estab.urn)
                        _explanations(xf, layout, estab.explanations)
                        with xf.element(layout["pupils"]):
                            for p in estab.pupils:
                                xf.write("\n")  # a line per pupil: messages give lines
                                _write_pupil(xf, layout, definition, subjects, p, not_sent)
                                pupils_written += 1
                            xf.write("\n")
                    xf.flush()
    return pupils_written


def _write_pupil(
    xf, layout, definition: Definition, subjects, p: ReturnPupil, not_sent: set[str]
) -> None:
    with xf.element(layout["pupil"]):
        _leaf(xf, "UPN", p.upn)
        _leaf(xf, "Surname", p.surname)
        _leaf(xf, "Forename", p.forename)
        _leaf(xf, "DOB", p.dob)
        _leaf(xf, layout.get("sex_element", "Sex"), p.sex)
        if layout.get("nc_year_element"):
            _leaf(xf, layout["nc_year_element"], p.nc_year)
        rows = [(s, _code(p.outcomes.get(s.key, ""))) for s in subjects]
        rows = [(s, code) for s, code in rows if code and code not in not_sent]
        if rows:
            with xf.element(layout["stage_assessments"]):
                with xf.element(layout["key_stage"]):
                    _leaf(xf, "Stage", definition.stage)
                    for s, code in rows:
                        with xf.element(layout["stage_assessment"]):
                            _leaf(xf, "Locale", definition.locale)
                            _leaf(xf, "Year", str(definition.year))
                            _leaf(xf, "Subject", s.return_subject)
                            _leaf(xf, "Method", definition.method)
                            _leaf(xf, "Component", s.return_component)
                            _leaf(xf, "Result", code)
        _explanations(xf, layout, p.explanations)
