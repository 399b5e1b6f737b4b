"""Read a Common Transfer File (CTF) from a school's MIS into a header and pupil records (spec
§2.4, §4.1), streaming with lxml so that a file of any size is read in bounded memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from keystage.engine.definition import Definition
from keystage.engine.readers import (
    SchoolFileReader,
    display_name,
    iso_date,
    other_collections,
    same_kind_of_year,
)
from keystage.engine.records import PupilRecord, RejectedFile

# The parser never loads a DTD, expands an entity or touches the network, and keeps libxml2's
# limits on text and depth. The DOCTYPE check in `_scan_prolog` refuses such files before they
# reach the parser; these settings are the second line of defence.
PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "attribute_defaults": False,
    "huge_tree": False,
    "remove_blank_text": True,  # fewer nodes to build and free: about a tenth faster
    "remove_comments": True,
    "remove_pis": True,
    "collect_ids": False,
}

# Speed: an LA imports some 650,000 pupils, so each <Pupil> is walked once (no path lookups),
# each distinct kind of assessment row is judged once (see _verdicts), and finished pupils are
# deleted in batches. On 20 files of 2,000 pupils this takes about twice the time of a bare
# lxml.etree.parse of the same files; most of the difference is lxml making a Python object
# for each element visited, which no lxml API avoids without losing the element names.
FEED_BYTES = 64 * 1024  # read and parsed at a time: small enough to stay in the CPU cache
# A file up to this size (nearly every school's) is parsed whole by a plain parser, which takes
# about two thirds of the pull parser's time (its events cost extra); the tree holds a few times
# the file's size in memory. Larger files, and any file that is not well formed, are streamed.
WHOLE_FILE_BYTES = 2 * 1024 * 1024
RELEASE_EVERY = 32  # pupils read between two deletions of the finished ones from the tree
GAP_LIMIT = 8 * 1024 * 1024  # bytes allowed between two pupils (see _elements)
PROLOG_LIMIT = 1024 * 1024  # bytes allowed before the root element (declaration, comments)
_CHUNK = 64 * 1024
_REASONS_LIMIT = 50  # distinct "ignored" reasons kept before the rest are lumped together

_ENCODING_DECL = re.compile(rb"""<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._:\-]+)["']""")
_NAME = re.compile(rb"[^\s/>]+")
_DEFAULT_NAMESPACE = re.compile(rb"\sxmlns\s*=")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)")
_LATIN1 = {"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "cp819"}
# A file declared ISO-8859-1 was nearly always written as Windows-1252, whose bytes 0x80-0x9F
# are letters and punctuation (’ – š) rather than the control characters ISO-8859-1 gives.
_C1_AS_CP1252 = {
    c: bytes([c]).decode("cp1252", errors="ignore") or chr(c) for c in range(0x80, 0xA0)
}
_LXML_POSITION = re.compile(r",? line \d+, column \d+$")
# libxml2's advice to raise its limits is not for an LA officer
_LXML_ADVICE = re.compile(r",? (?:use|try) XML_PARSE_HUGE(?: option)?")
# Messages libxml2 gives when the document stops part way through.
_CUT_SHORT = (
    "Premature end of data", "EndTag: '</' not found", "Couldn't find end of Start Tag",
    "Comment not terminated", "Unfinished",
)  # fmt: skip

_USE, _WRONG_YEAR, _IGNORE = 0, 1, 2
# The elements of StageAssessments that the pupil walk reads. Asking lxml for these alone skips
# the rest (Locale, ResultStatus, ResultQualifier...) without making a Python object for each:
# about a fifth fewer objects per pupil, 5% off the walk's instructions (callgrind).
_ASSESSMENT_TAGS = (
    "KeyStage", "Stage", "StageAssessment", "Year", "Subject", "Method", "Component", "Result",
    "ResultDate",
)  # fmt: skip


def _text(el) -> str:
    t = el.text
    return t.strip() if t else ""


def _value(el) -> str:
    """An element's text, or for a group such as Languages/Type its children's texts."""
    t = _text(el)
    if not t and len(el):
        t = "/".join(v for c in el if (v := _text(c)))
    return t


def _other_collection_claiming(
    definition: Definition, stage: str, subj: str, comp: str, year: str
) -> tuple[str, str]:
    """The words for another kind of collection whose rows these are ("phonics screening
    check") and its definition id (the one of the row's year if there is one), or ("", ""): a
    KS1 file may carry its Year 2 pupils' phonics re-check, and the other way round; each
    import counts the other's rows as ignored, by name."""
    found = ("", "")
    for title, other in other_collections(definition):
        if stage in other.ctf_stages and other.ctf_mapping_for(subj, comp) is not None:
            if str(other.year) == year:
                return title, other.id
            if not found[0]:
                found = (title, other.id)
    return found


class CtfReader(SchoolFileReader):
    """A CTF: `<CTfile>` with a `Header` and `CTFpupilData/Pupil` elements."""

    kind = "ctf"

    def __init__(self, stream: BinaryIO, definition: Definition, *, name: str, owns_stream: bool):
        super().__init__(stream, definition, name=name, owns_stream=owns_stream)
        self._year = str(definition.year)
        self._nc_years = frozenset(definition.nc_years)
        # (stage, year, subject, method, component) as written -> verdict; files repeat the
        # same few combinations thousands of times, so each is worked out once.
        self._verdicts: dict[tuple[str, str, str, str, str], tuple[int, str, str]] = {}
        self._top_paths, self._basic_paths = _characteristic_paths(definition)
        origin = stream.tell()
        start, lead, encoding = self._scan_prolog()
        self.header.encoding = encoding
        self._fix_c1 = encoding.lower() in _LATIN1
        # libxml2 refuses blank lines before the XML declaration, so they are skipped here and
        # counted back into every line number.
        self._line_offset = lead.count(b"\n")
        self._text_lag: int | None = None  # see _line
        blank_lead = lead.removeprefix(b"\xef\xbb\xbf")
        xml_start = origin + (start if blank_lead else 0)
        stream.seek(xml_start)
        etree.clear_error_log()  # so that the log holds this file's errors (see _malformed)
        self._whole = False
        self._events = self._whole_file(stream.read(WHOLE_FILE_BYTES + 1))
        if self._events is None:
            stream.seek(xml_start)
            self._parser = etree.XMLPullParser(
                events=("end",), tag=("Header", "Pupil"), **PARSER_OPTIONS
            )
            self._events = self._elements()
        self._pending = None
        root = None
        try:
            for el in self._events:
                root = el.getroottree().getroot()
                if el.tag == "Header":
                    self._read_header(el)
                    el.clear()
                else:  # a pupil before any header: keep it for pupils()
                    self._pending = el
                break
            else:
                root = self._root
        except etree.XMLSyntaxError as e:
            raise self._malformed(e) from None
        if root is not None and root.tag != "CTfile":
            raise self._namespaced()
        self._school_from_name()

    def _whole_file(self, data: bytes) -> Iterator | None:
        """Header and Pupil elements of a small file parsed whole, in document order; None when
        the file is too large or not well formed, which the pull parser then reads (and reports
        on exactly as for a large file: where it breaks, after the header it could read)."""
        if len(data) > WHOLE_FILE_BYTES:
            return None
        parser = etree.XMLParser(**PARSER_OPTIONS)
        try:
            parser.feed(data)
            self._root = parser.close()
        except etree.XMLSyntaxError:
            etree.clear_error_log()
            return None
        self._whole = True
        return self._root.iter("Header", "Pupil")

    def _elements(self) -> Iterator:
        """Header and Pupil elements as the parser completes them. Feeding large chunks to a
        pull parser costs much less per element than iterparse's own reading."""
        parser, read = self._parser, self._stream.read
        self._root = None
        without_pupil = 0
        while chunk := read(FEED_BYTES):
            parser.feed(chunk)
            without_pupil += len(chunk)
            for _, el in parser.read_events():
                without_pupil = 0
                yield el
            if without_pupil > GAP_LIMIT:
                # Everything since the last pupil is held in memory until the next one ends:
                # a real CTF never goes this far between pupils, a hostile file would.
                raise self.rejected(
                    f"more than {GAP_LIMIT >> 20} MB of the file goes by without a complete "
                    f"pupil, which no MIS export does; export {self.words.ctf} again from the MIS"
                )
        self._root = parser.close()
        for _, el in parser.read_events():
            yield el

    # -- the prolog ----------------------------------------------------------------------
    def _scan_prolog(self) -> tuple[int, bytes, str]:
        """Read up to the root element and refuse any DOCTYPE: a CTF never has one, and a
        DOCTYPE is how entity-expansion and external-entity attacks get in. Returns where the
        XML starts, the bytes before it (a BOM, blank lines) and the declared encoding."""
        buf = b""

        def more() -> bool:
            nonlocal buf
            if len(buf) > PROLOG_LIMIT:
                raise self.rejected(
                    "no XML element starts in the first megabyte of the file, so it is not a "
                    "Common Transfer File; export it again from the MIS"
                )
            chunk = self._stream.read(_CHUNK)
            buf += chunk
            return bool(chunk)

        def skip_blanks(pos: int) -> int:
            while True:
                while pos < len(buf) and buf[pos] in b" \t\r\n\x0c":
                    pos += 1
                if pos < len(buf) or not more():
                    return pos

        def find(token: bytes, pos: int) -> int:
            while (end := buf.find(token, pos)) < 0 and more():
                pass
            return end

        more()
        bom = buf.startswith(b"\xef\xbb\xbf")
        start = pos = skip_blanks(3 if bom else 0)
        encoding = ""
        while True:
            while len(buf) - pos < 256 and more():
                pass
            if buf.startswith(b"<?", pos):
                end = find(b"?>", pos)
                if end < 0:
                    break  # the parser reports the unfinished declaration
                if pos == start and (m := _ENCODING_DECL.match(buf, pos)):
                    encoding = m.group(1).decode("ascii")
                pos = end + 2
            elif buf.startswith(b"<!--", pos):
                end = find(b"-->", pos + 4)
                if end < 0:
                    break
                pos = end + 3
            elif buf.startswith(b"<!", pos):
                if buf[pos + 2 : pos + 9].upper() == b"DOCTYPE":
                    if buf[pos + 9 : pos + 16].strip().lower().startswith(b"html"):
                        raise self.rejected(
                            f"this is a web page (HTML), not a CTF file; {self.words.wanted}"
                        )
                    raise self.rejected(
                        "the file has a DOCTYPE declaration, which CTF files never have; export "
                        "it again from the MIS"
                    )
                break
            elif buf.startswith(b"<", pos):
                self._check_root_name(buf, pos)
                break
            else:
                break  # text before the root element, or nothing: the parser reports it
            pos = skip_blanks(pos)
        if not encoding:
            encoding = "UTF-8 with BOM" if bom else "UTF-8"
        return start, buf[:start], encoding

    def _check_root_name(self, buf: bytes, pos: int) -> None:
        m = _NAME.match(buf, pos + 1)
        root = m.group(0).decode("utf-8", "replace")[:40] if m else ""
        if not root:
            return  # "<" and no name: the parser reports where
        if root.lower() == "html":
            raise self.rejected(f"this is a web page (HTML), not a CTF file; {self.words.wanted}")
        if root != "CTfile":
            raise self.rejected(
                f"the root element is <{root}>, not <CTfile>: this is not a Common Transfer "
                f"File; export {self.words.ctf} again from the MIS"
            )
        end = buf.find(b">", pos)
        if _DEFAULT_NAMESPACE.search(buf, pos, end if end > 0 else len(buf)):
            # Checked here because no element of such a file would match, and the parser
            # would hold all of it in memory before saying so.
            raise self._namespaced()

    def _namespaced(self) -> RejectedFile:
        return self.rejected(
            "the root element <CTfile> declares an XML namespace, which CTF files do not use; "
            "export it again from the MIS"
        )

    # -- header --------------------------------------------------------------------------
    def _read_header(self, el) -> None:
        h = self.header
        for child in el:
            tag = child.tag
            if tag == "SourceSchool":
                for c in child:
                    t = c.tag
                    if t == "LEA":
                        h.la = _text(c)
                    elif t == "Estab":
                        h.estab = _text(c)
                    elif t == "URN":
                        h.urn = _text(c)
                    elif t == "SchoolName":
                        h.school_name = self._fixed(_text(c))
                    elif t == "AcademicYear":
                        h.academic_year = _text(c)
            elif tag == "SupplierID":
                h.supplier = self._fixed(_text(child))
            elif tag == "DateTime":
                h.created = _text(child)
            elif tag == "CTFversion":
                h.ctf_version = _text(child)

    def _school_from_name(self) -> None:
        """Fill a missing LEA/Estab from a name like 9382001_CTF_938LLLL_001.xml."""
        h = self.header
        if h.la and (h.estab or self.definition.is_setting_urn(h.urn)):
            return
        pattern = self.definition.files.get("ctf_file_name")
        m = re.match(pattern, display_name(self.name), re.IGNORECASE) if pattern else None
        if m:
            found = m.groupdict()
            h.la = h.la or found["la"]
            # A setting's file may be named by its URN instead (the definition's pattern has
            # a `urn` group when the collection takes settings).
            if (
                not h.estab
                and not found.get("estab")
                and self.definition.is_setting_urn(found.get("urn"))
            ):
                h.urn = h.urn or found["urn"]
                self.counts.notes.append(
                    f"the CTF header does not give the setting's LEA and URN, so LA {h.la} and "
                    f"URN {h.urn} were taken from the file name"
                )
                return
            h.estab = h.estab or found["estab"] or ""
            self.counts.notes.append(
                f"the CTF header does not give the school's LEA and Estab, so {h.la}{h.estab} "
                "was taken from the file name"
            )
            return
        if self._pending is not None:
            lacking = "no Header before its first pupil (a CTF starts with one)"
        else:
            missing = " and ".join(x for x, v in (("LEA", h.la), ("Estab", h.estab)) if not v)
            lacking = f"no {missing} in its header (Header/SourceSchool)"
        raise self.rejected(
            f"the file has {lacking} and its name does not say which school sent it; export "
            "it again from the MIS, or rename it like 9382001_CTF_938LLLL_001.xml (LA number "
            "and DfE number first)"
        )

    # -- pupils --------------------------------------------------------------------------
    def pupils(self) -> Iterator[PupilRecord]:
        counts = self.counts
        read = self._pupil
        whole = self._whole  # a whole file's tree goes at once; nothing to release on the way
        unreleased = 0
        try:
            if self._pending is not None:
                el, self._pending = self._pending, None
                record = read(el)
                if record is not None:
                    counts.pupils += 1
                    yield record
            for el in self._events:
                if el.tag != "Pupil":
                    el.clear()
                    continue
                record = read(el)
                unreleased += 1
                if unreleased >= RELEASE_EVERY and not whole:
                    _release_before(el)
                    unreleased = 0
                if record is not None:
                    counts.pupils += 1
                    yield record
        except etree.XMLSyntaxError as e:
            raise self._malformed(e) from None

    def _pupil(self, el) -> PupilRecord | None:
        """One <Pupil>, read by walking its elements once: much cheaper than a path lookup per
        item, which matters when an LA imports hundreds of thousands of pupils."""
        upn = surname = forename = dob = sex = gender = nc_year = former_upn = None
        characteristics: dict[str, str] = {}
        rows: list[list] = []
        for child in el:
            tag = child.tag
            if tag == "StageAssessments":
                # Inside StageAssessments every tag has one meaning, so one flat walk in
                # document order does: a StageAssessment starts a row, its fields fill it.
                stage = ""
                block = 0
                row = [None] * 7  # catches fields outside any StageAssessment
                for e in child.iter(_ASSESSMENT_TAGS):
                    t = e.tag
                    if t == "Year":
                        row[1] = e.text
                    elif t == "Subject":
                        row[2] = e.text
                    elif t == "Method":
                        row[3] = e.text
                    elif t == "Component":
                        row[4] = e.text
                    elif t == "Result":
                        row[5] = e.text
                    elif t == "ResultDate":
                        row[6] = e.text
                    elif t == "StageAssessment":
                        row = [stage, None, None, None, None, None, None]
                        rows.append(row)
                    elif t == "Stage":
                        stage = e.text
                        for r in rows[block:]:  # rows written before their block's Stage
                            r[0] = stage
                    elif t == "KeyStage":
                        stage, block = "", len(rows)
            elif tag == "UPN":
                upn = child.text
            elif tag == "Surname":
                surname = child.text
            elif tag == "Forename":
                forename = child.text
            elif tag == "DOB":
                dob = child.text
            elif tag == "Sex":
                sex = child.text
            elif tag == "Gender":
                gender = child.text
            elif tag == "BasicDetails":
                basic = self._basic_paths
                for c in child:
                    ctag = c.tag
                    if ctag == "NCyearActual":
                        nc_year = c.text
                    elif ctag == "FormerUPN":
                        former_upn = c.text
                    elif ctag in basic:
                        _collect(c, basic[ctag], characteristics)
            elif tag in self._top_paths:
                for key, below in self._top_paths[tag]:
                    if not below:
                        _collect(child, [(key, "")], characteristics)
                    else:
                        first_tag, _, rest = below.partition("/")
                        for c in child:
                            if c.tag == first_tag:
                                _collect(c, [(key, rest)], characteristics)

        # Texts were taken raw above (cheaper); trimmed here, "" for a missing or empty item.
        upn = upn.strip() if upn else ""
        surname = surname.strip() if surname else ""
        forename = forename.strip() if forename else ""
        dob = dob.strip() if dob else ""
        sex = sex.strip() if sex else (gender.strip() if gender else "")
        nc_year = nc_year.strip() if nc_year else ""
        former_upn = former_upn.strip() if former_upn else ""
        outcomes, duplicates, wrong = self._outcomes(rows)
        if not outcomes and nc_year not in self._nc_years and (nc_year or not wrong):
            # Not in the KS1 cohort: a whole-school CTF carries every year group. A pupil with
            # no NC year but KS1 rows for the wrong year is kept, so that the rule on wrong
            # assessment parameters can say so.
            self.counts.ignored_pupils += 1
            return None
        if self._fix_c1:
            surname, forename = self._fixed(surname), self._fixed(forename)
        if len(dob) > 10:
            dob = iso_date(dob, day_first=False)  # "2016-01-14T00:00:00" -> "2016-01-14"
        return PupilRecord(
            self._line(el),
            upn,
            surname,
            forename,
            dob,
            sex,
            outcomes,
            duplicates,
            wrong,
            nc_year,
            former_upn,
            characteristics,
        )

    def _outcomes(self, rows: list[list]):
        """The result kept per subject, every result of a subject given twice, and subjects
        found only with the wrong year; rows not used are counted in `counts`."""
        outcomes: dict[str, str] = {}
        duplicates: dict[str, list[str]] = {}
        wrong: dict[str, str] = {}
        if not rows:
            return outcomes, duplicates, wrong
        verdicts = self._verdicts
        ignored = self.counts.ignored_assessments
        used: dict[str, list] = {}
        for row in rows:
            key = (row[0], row[1], row[2], row[3], row[4])
            verdict = verdicts.get(key)
            if verdict is None:
                if len(verdicts) > 10_000:  # a hostile file with endless variants
                    verdicts.clear()
                verdict = verdicts[key] = self._verdict(*(x or "" for x in key))
            kind, subject_key, detail = verdict
            if kind == _USE:
                code = row[5]
                code = code.strip() if code else ""
                if detail and not _NUMBER.fullmatch(code):
                    # A code given in place of a mark (codes_to). Anything written as a number
                    # ("-1", "40.0") stays a mark, for the rule on marks to name it as one.
                    subject_key = detail
                if subject_key in outcomes:
                    found = duplicates.setdefault(subject_key, [used[subject_key]])
                    found.append(row)
                else:
                    used[subject_key] = row
                outcomes[subject_key] = code
            else:
                if detail in ignored:  # nearly always: the same few kinds of row on every pupil
                    ignored[detail] += 1
                else:
                    self._ignore(detail)
                if kind == _WRONG_YEAR:
                    shown = f"Year {(row[1] or '').strip()}"
                    if subject_key not in wrong or shown > wrong[subject_key]:
                        wrong[subject_key] = shown
        for subject_key, found in duplicates.items():
            # The latest ResultDate wins, then the last in the file: the index breaks ties.
            best = max(range(len(found)), key=lambda i: (_date_key(found[i][6] or ""), i))
            outcomes[subject_key] = (found[best][5] or "").strip()
            duplicates[subject_key] = [(r[5] or "").strip() for r in found]
        if wrong:
            for subject_key in outcomes:
                wrong.pop(subject_key, None)
        return outcomes, duplicates, wrong

    def _verdict(self, stage: str, year: str, subject: str, method: str, component: str):
        """Whether a StageAssessment row is one of ours: (_USE, subject key, where a Result that
        is not a whole number goes), (_WRONG_YEAR, subject key, reason) or (_IGNORE, "",
        reason), with reasons an LA officer reads. Which rows are ours is the definition's:
        its stages, methods and CTF mapping."""
        stage, year, method = stage.strip().upper(), year.strip(), method.strip().upper()
        subj, comp = subject.strip().upper(), component.strip().upper()
        d = self.definition
        mapping = d.ctf_mapping_for(subj, comp)
        if mapping is None or stage not in d.ctf_stages:
            title, other_id = _other_collection_claiming(d, stage, subj, comp, year)
            if title:
                reason = f"{title} rows"
                self.counts.claimed[reason] = other_id
                return _IGNORE, "", reason
        if stage not in d.ctf_stages:
            return _IGNORE, "", f"{stage[:20]} assessment rows" if stage else "rows with no Stage"
        if method not in d.ctf_methods:
            if method == "TT":
                return _IGNORE, "", f"{stage} test (TT) rows"
            return _IGNORE, "", f"{stage} rows with method {method[:20] or '(none)'}"
        if year != self._year:
            if mapping is not None:
                title, other_id = same_kind_of_year(d, year)
                if title:  # last year's file (or next year's), which that collection takes
                    reason = f"{title} rows"
                    self.counts.claimed[reason] = other_id
                    return _WRONG_YEAR, mapping.maps_to, reason
                return _WRONG_YEAR, mapping.maps_to, "rows for other years"
            return _IGNORE, "", "rows for other years"
        if mapping is None:
            return _IGNORE, "", f"unrecognised subject/component {subj[:20]}/{comp[:20]}"
        return _USE, mapping.maps_to, mapping.codes_to

    def _ignore(self, reason: str) -> None:
        counted = self.counts.ignored_assessments
        if reason not in counted and len(counted) >= _REASONS_LIMIT:
            reason = "other rows not used"
        counted[reason] = counted.get(reason, 0) + 1

    # -- helpers -------------------------------------------------------------------------
    def _line(self, el) -> int:
        line = el.sourceline or 0
        if line < 65535:
            if self._text_lag is None and len(el):
                self._text_lag = _first_text_line(el) - line
            return line + self._line_offset
        # libxml2 stores element lines in 16 bits. Past 65535 it reports the line where the
        # element's first text ends (normally the UPN's line); files keep one layout, so the
        # distance measured on an earlier pupil turns that back into the <Pupil> line.
        return line - (self._text_lag or 0) + self._line_offset

    def _fixed(self, value: str) -> str:
        return value.translate(_C1_AS_CP1252) if self._fix_c1 else value

    def _malformed(self, e: etree.XMLSyntaxError) -> RejectedFile:
        msg, line = e.msg or "", e.lineno or 0
        if not line or msg == "no element found":
            # With entity resolution off lxml raises a generic message; the log has the cause.
            last = e.error_log.last_error if e.error_log else None
            if last is not None and last.line:
                msg, line = last.message, last.line
        line += self._line_offset
        msg = _LXML_ADVICE.sub("", _LXML_POSITION.sub("", msg.strip()))
        msg = " ".join(msg.split())[:160]
        if "Unsupported encoding" in msg:
            return self.rejected(
                f"the file declares an encoding that cannot be read ({msg}); export it again as "
                "UTF-8",
                line=line,
            )
        if "encoding" in msg.lower() or "UTF-8" in msg:
            return self.rejected(
                f"the text at line {line} is not in the file's declared encoding "
                f"({self.header.encoding}); it was probably saved as Windows-1252 without saying "
                "so: export it again from the MIS",
                line=line,
            )
        cut = msg.startswith(_CUT_SHORT)
        hint = "the file may be cut short" if cut else "the file may be damaged or edited by hand"
        return self.rejected(
            f"the XML is not well formed at line {line} ({msg}); {hint}: ask the school to "
            "export it again",
            line=line,
        )


def _release_before(el) -> None:
    """Delete everything before `el` in its parent: the pupils already read, and whatever else
    sits between them, so that memory stays flat however long the file is."""
    parent = el.getparent()
    if parent is not None:
        del parent[: parent.index(el)]


def _collect(el, wanted: list[tuple[str, str]], into: dict[str, str]) -> None:
    for key, below in wanted:
        if key in into:
            continue
        target = el.find(below) if below else el
        if target is not None and (v := _value(target)):
            into[key] = v


def _characteristic_paths(definition: Definition):
    """The definition's characteristic paths (relative to <Pupil>), split so that the pupil walk
    can pick them up on the way: {pupil child: [(key, path below it)]} for most, and
    {BasicDetails child: [(key, path below it)]} for those in BasicDetails, which the walk
    visits anyway."""
    top: dict[str, list[tuple[str, str]]] = {}
    basic: dict[str, list[tuple[str, str]]] = {}
    for key, path in definition.characteristics_ctf.items():
        first, _, rest = path.strip("/").partition("/")
        if first == "BasicDetails" and rest:
            second, _, below = rest.partition("/")
            basic.setdefault(second, []).append((key, below))
        else:
            top.setdefault(first, []).append((key, rest))
    return top, basic


def _first_text_line(el) -> int:
    """The line libxml2 gives for a big-line element: where its first text ends."""
    while len(el) and not (el.text or "").strip():
        el = el[0]
    return (el.sourceline or 0) + (el.text or "").count("\n")


def _date_key(text: str) -> str:
    """A ResultDate as YYYY-MM-DD for comparison; "" (earliest) when it is not a date."""
    iso = iso_date(text.strip())
    return iso if len(iso) == 10 and iso[4] == "-" else ""
