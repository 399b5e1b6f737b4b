"""The return writer and reader: what Keystage writes matches the XSD and reads back the same;
what the collector refuses is refused with a reason a person can act on."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from lxml import etree

from keystage.engine import definition, upn
from keystage.engine.records import RejectedFile
from keystage.engine.return_reader import read_return, schema_for
from keystage.engine.return_writer import (
    Explanation,
    ReturnEstablishment,
    ReturnPupil,
    bundle_file_name,
    make_header,
    school_file_name,
    write_return,
)
from keystage.engine.rules import SchoolInfo

D = definition.load()
NOW = dt.datetime(2023, 7, 10, 12, 0)
SCHOOLS = {
    "9382001": SchoolInfo(
        "938", "2001", "125000", "Example Primary", "Community school", "Primary", "Open", 4, 11
    ),
    "9382002": SchoolInfo(
        "938", "2002", "125001", "Downs Infant", "Academy converter", "Primary", "Open", 4, 7
    ),
}


def _pupil(n: int, estab="2001", **over) -> ReturnPupil:
    p = ReturnPupil(
        upn=upn.make("938", estab, "16", f"{n:03d}"),
        surname=f"SMITH{chr(65 + n % 26)}",
        forename="Zoë",
        dob="2016-01-14",
        sex="F" if n % 2 else "M",
        outcomes={"reading": "EXS", "writing": "wts ", "maths": "GDS", "science": "EXS"},
    )
    for k, v in over.items():
        setattr(p, k, v)
    return p


def _write(establishments, *, la="938", serial=3, definition=D) -> bytes:
    out = io.BytesIO()
    header = make_header(definition, la=la, serial=serial, release="0.1.0", created=NOW)
    write_return(out, header, establishments, definition)
    return out.getvalue()


def _read(content: bytes, la="938", schools=SCHOOLS):
    return read_return(content, D, name="return.xml", la=la, schools=schools, now=NOW)


def test_written_return_matches_the_xsd_and_reads_back_the_same():
    pupils = [_pupil(n) for n in range(1, 6)]
    pupils[0].explanations = [Explanation("KS1-T11", "reading", "Moderated: spread is right")]
    content = _write(
        [
            ReturnEstablishment("938", "2001", pupils),
            ReturnEstablishment("938", "2002", [_pupil(9, "2002")]),
        ]
    )
    schema_for(D).assertValid(etree.fromstring(content))
    rf = _read(content)
    assert rf.header["SerialNo"] == "3" and rf.header["LEA"] == "938"
    assert rf.header["Collection"] == "KS1" and rf.header["Year"] == "2023"
    assert [e.laestab for e in rf.establishments] == ["9382001", "9382002"]
    got = [p.record for p in rf.establishments[0].pupils]
    assert [(r.upn, r.surname, r.forename, r.dob, r.sex) for r in got] == [
        (p.upn, p.surname, p.forename, p.dob, p.sex) for p in pupils
    ]
    # codes are written trimmed and upper-cased
    assert got[0].outcomes == {"reading": "EXS", "writing": "WTS", "maths": "GDS", "science": "EXS"}
    assert rf.establishments[0].pupils[0].explanations == pupils[0].explanations
    assert all(not p.findings for e in rf.establishments for p in e.pupils)


def test_layout_names_come_from_the_definition():
    assert school_file_name(D, la="938", estab="2001", serial=7) == "9382001_KS1_2023_007.xml"
    assert bundle_file_name(D, la="938", serial=7) == "938_KS1_2023_007.zip"
    raw = dict(D.raw)
    raw["return"] = {**D.raw["return"], "root": "KS1Return", "pupil": "Child"}
    other = definition.parse_definition(raw, source=D.source)
    content = _write([ReturnEstablishment("938", "2001", [_pupil(1)])], definition=other)
    root = etree.fromstring(content)
    assert root.tag == "KS1Return"
    assert root.find("Establishments/Establishment/Pupils/Child/UPN") is not None


def test_empty_items_are_left_out_and_become_pupil_errors_not_a_rejection():
    p = _pupil(1, surname="", outcomes={"reading": "EXS", "writing": "EXS", "maths": "EXS"})
    content = _write([ReturnEstablishment("938", "2001", [p])])
    assert b"<Surname>" not in content and b"<Surname/>" not in content
    schema_for(D).assertValid(etree.fromstring(content))
    read = _read(content).establishments[0].pupils[0]
    rules_found = {f.rule for f in read.findings}
    assert {"KS1-P08", "KS1-T04"} <= rules_found


def test_query_explanations_attach_to_their_findings():
    p = _pupil(1, outcomes={"reading": "Q", "writing": "EXS", "maths": "EXS", "science": "EXS"})
    p.explanations = [Explanation("KS1-T13", "", "LA moderation found maladministration")]
    q = _pupil(2, outcomes={"reading": "Q", "writing": "EXS", "maths": "EXS", "science": "EXS"})
    rf = _read(_write([ReturnEstablishment("938", "2001", [p, q])]))
    first, second = rf.establishments[0].pupils
    t13 = [f for f in first.findings if f.rule == "KS1-T13"]
    assert t13 and t13[0].explanation == "LA moderation found maladministration"
    assert [f.explanation for f in second.findings if f.rule == "KS1-T13"] == [""]


def _good() -> bytes:
    return _write([ReturnEstablishment("938", "2001", [_pupil(1)])])


HOSTILE = {
    "malformed": (lambda: _good()[:-40], "not well-formed"),
    "doctype": (
        lambda: _good().replace(
            b"?>\n", b'?>\n<!DOCTYPE KS1 [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n', 1
        ),
        "DOCTYPE",
    ),
    "billion laughs": (
        lambda: (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;">]><KS1>&lol2;</KS1>'
        ),
        "DOCTYPE",
    ),
    "a CTF": (lambda: b"<CTfile><Header/></CTfile>", "not a KS1 return"),
    "wrong LA": (lambda: _good().replace(b"<LEA>938</LEA>", b"<LEA>202</LEA>", 1), "LA 938"),
    "wrong year": (lambda: _good().replace(b"<Year>2023</Year>", b"<Year>2022</Year>", 1), "2023"),
    "wrong collection": (
        lambda: _good().replace(b"<Collection>KS1</Collection>", b"<Collection>KS2</Collection>"),
        "Collection",
    ),
    "no serial": (lambda: _good().replace(b"<SerialNo>3</SerialNo>", b""), "SerialNo"),
    "other LA's school": (
        lambda: _good().replace(b"<LEA>938</LEA><Estab>", b"<LEA>202</LEA><Estab>"),
        "only its own schools",
    ),
    "unknown school": (lambda: _good().replace(b"<Estab>2001", b"<Estab>2999"), "register"),
    "unexpected element": (
        lambda: _good().replace(b"<Pupils>", b"<Bogus/><Pupils>"),
        "does not match the return layout",
    ),
    "same school twice": (
        lambda: _write(
            [
                ReturnEstablishment("938", "2001", [_pupil(1)]),
                ReturnEstablishment("938", "2001", [_pupil(2)]),
            ]
        ),
        "more than once",
    ),
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_or_wrong_files_are_refused_with_a_reason(kind):
    make, words = HOSTILE[kind]
    with pytest.raises(RejectedFile) as e:
        _read(make())
    reason = e.value.reason
    assert reason.startswith("return.xml: ")
    assert words in reason, reason
    assert "\n" not in reason


def test_a_future_date_time_is_refused():
    content = _good().replace(b"2023-07-10T12:00:00", b"2031-01-01T00:00:00")
    with pytest.raises(RejectedFile, match="future"):
        _read(content)


def test_writer_streams_a_large_la():
    # 20,000 pupils are written from a generator, never held as a list.
    def pupils():
        for n in range(20_000):
            yield _pupil(n % 1000)

    out = io.BytesIO()
    header = make_header(D, la="938", serial=1, release="0.1.0", created=NOW)
    assert write_return(out, header, [ReturnEstablishment("938", "2001", pupils())], D) == 20_000
    assert out.getvalue().count(b"<Pupil>") == 20_000


def test_characters_xml_cannot_carry_are_dropped_not_a_crash():
    content = _write([ReturnEstablishment("938", "2001", [_pupil(1, surname="O\x0bNEILL")])])
    schema_for(D).assertValid(etree.fromstring(content))
    assert _read(content).establishments[0].pupils[0].record.surname == "ONEILL"


def test_a_schema_error_says_at_which_line(monkeypatch):
    from keystage.engine import return_reader

    content = _good().replace(b"<Pupils>", b"<Bogus/><Pupils>")
    line = content[: content.index(b"<Bogus/>")].count(b"\n") + 1
    with pytest.raises(RejectedFile) as e:
        _read(content)
    assert f"does not match the return layout at line {line} (Element 'Bogus'" in e.value.reason
    # A file too large to hold whole is refused all the same, without the line.
    monkeypatch.setattr(return_reader, "SCHEMA_LINE_BYTES", 100)
    with pytest.raises(RejectedFile) as e:
        _read(content)
    assert "does not match the return layout (Element 'Bogus'" in e.value.reason
