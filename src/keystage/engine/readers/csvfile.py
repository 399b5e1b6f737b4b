"""Read a collection's CSV template (KS1 spec §4.3, phonics spec §3.2), as saved from Excel:
find the header row, match its columns to the collection's aliases, and stream one pupil record
per row. A file whose columns are another collection's results and none of this one's is
refused as that collection's file.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Iterator
from typing import BinaryIO

from keystage.engine.definition import Definition
from keystage.engine.definition import _fold as fold_header  # the aliases' own folding
from keystage.engine.readers import SchoolFileReader, display_name, iso_date, other_collections
from keystage.engine.records import PupilRecord, RejectedFile
from keystage.engine.words import digits_only

HEADER_SEARCH_LINES = 10  # title lines Excel users put above the column headings
_LINE_LIMIT = 1024 * 1024  # longest line looked at while searching for the header
_DELIMITERS = (",", ";", "\t")
_DECORATION = re.compile(r"\(.*?\)|\[.*?\]|[*:#?]")  # "Date of birth (DD/MM/YYYY)", "UPN*"
_EXCEL_TEXT = re.compile(r'="(.*)"')  # ="0123": Excel's way of keeping leading zeros
_IDENTITY = frozenset({"upn", "surname", "forename"})
_SCHOOL = ("la", "estab", "laestab", "urn")


class CsvReader(SchoolFileReader):
    """A CSV template: one header row, then one row per pupil."""

    kind = "csv"

    def __init__(self, stream: BinaryIO, definition: Definition, *, name: str, owns_stream: bool):
        super().__init__(stream, definition, name=name, owns_stream=owns_stream)
        self._subjects = definition.subject_keys
        self._characteristics = tuple(definition.characteristics_csv)
        self._aliases = definition.csv_header_map()
        self._first_line = 0
        self._skipped_rows = 0
        codec, self.header.encoding = _encoding(stream)
        # "replace" only matters for Windows-1252's five unassigned bytes: a name with one
        # becomes visible to the name rules instead of stopping the whole file.
        self._text = io.TextIOWrapper(stream, encoding=codec, errors="replace", newline="")
        try:
            self._start()
        except BaseException:
            self.close()  # without closing a file object that belongs to the caller
            raise

    def _start(self) -> None:
        """Find the header row, map its columns and read ahead to the first pupil, whose row
        says which school the file is for."""
        first = []
        for _ in range(HEADER_SEARCH_LINES):
            line = self._text.readline(_LINE_LIMIT)
            if not line:
                break
            first.append(line)
        delimiter, explicit = _declared_delimiter(first)
        found = self._find_header(first[explicit:], delimiter)
        if found is None:
            raise self.rejected(
                "no header row found: the first line should name the columns, e.g. "
                f"{self.words.example_header}; save {self.words.template} as CSV (comma "
                "delimited) and send that"
            )
        delimiter, header_row, consumed = found
        consumed += explicit
        self._columns = self._map_columns(header_row, consumed)
        if not any(f in self._subjects for _, f in self._columns):
            self._refuse_another_collections(header_row)
        # Rows are read from the lines already looked at, then from the rest of the file.
        self._lines_before = consumed  # physical lines before the reader's first line
        self._rows = csv.reader(itertools.chain(first[consumed:], self._text), delimiter=delimiter)
        self._pending = self._next_row()
        self._school()

    # -- the header row ------------------------------------------------------------------
    def _find_header(self, lines: list[str], delimiter: str | None):
        """(delimiter, cells, lines up to and including the header) for the best header row
        among the first lines, trying each delimiter unless the file named one."""
        best = None
        for d in (delimiter,) if delimiter else _DELIMITERS:
            reader = csv.reader(lines, delimiter=d)
            try:
                for row in reader:
                    fields = [self._match(c) for c in row]
                    known = {f for f in fields if f}
                    if len(known) >= 2 and known & _IDENTITY:
                        if best is None or len(known) > best[0]:
                            best = (len(known), d, row, reader.line_num)
                        break
            except csv.Error:
                continue  # a quoted field running past the lines read: not this delimiter
        return best[1:] if best else None

    def _match(self, cell: str) -> str | None:
        aliases = self._aliases
        folded = fold_header(cell)
        if not folded:
            return None
        return aliases.get(folded) or aliases.get(fold_header(_DECORATION.sub("", cell)))

    def _map_columns(self, header_row: list[str], header_line: int) -> list[tuple[int, str]]:
        columns: list[tuple[int, str]] = []
        seen: dict[str, str] = {}
        unused: list[str] = []
        for i, cell in enumerate(header_row):
            field = self._match(cell)
            label = cell.strip()
            if field is None:
                if label:
                    unused.append(label)
            elif field in seen:
                self.counts.notes.append(
                    f"columns {seen[field]!r} and {label!r} both give {field}; the first was used"
                )
            else:
                seen[field] = label
                columns.append((i, field))
        notes = self.counts.notes
        if header_line > 1:
            notes.append(
                f"the column headings are on line {header_line}; the lines above were skipped"
            )
        if unused:
            notes.append(f"columns not used: {', '.join(u[:40] for u in unused[:20])}")
        missing = [s for s in self._subjects if s not in seen]
        if missing:
            notes.append(f"no column for {', '.join(missing)}")
        return columns

    def _refuse_another_collections(self, header_row: list[str]) -> None:
        """Refuse a file with no column for this collection's results and columns for another
        collection's (a phonics CSV imported as KS1): it is that collection's file. The
        other's definition of this year is named when there is one."""
        best = None
        for title, other in other_collections(self.definition):
            aliases = other.csv_header_map()
            subjects = set(other.subject_keys)
            cells = [
                c.strip()
                for c in header_row
                if aliases.get(fold_header(c)) in subjects
                or aliases.get(fold_header(_DECORATION.sub("", c))) in subjects
            ]
            if cells and (best is None or (other.year == self.definition.year) > best[3]):
                best = (title, other, cells, other.year == self.definition.year)
        if best is None:
            return
        title, other, cells, _ = best
        raise RejectedFile(
            f"{self.name}: the file's columns are {title} results "
            f"({', '.join(c[:40] for c in cells[:10])}), with none for {self.definition.name}: "
            f"import it into {other.name} instead",
            belongs_to=other.id,
        )

    # -- rows ----------------------------------------------------------------------------
    def _next_row(self) -> tuple[int, dict[str, str]] | None:
        """The next non-blank row as (physical line, field -> trimmed value), or None."""
        rows = self._rows
        while True:
            start = self._lines_before + rows.line_num + 1
            try:
                row = next(rows, None)
            except csv.Error as e:
                line = self._lines_before + rows.line_num
                raise self.rejected(
                    f"line {line} cannot be read as CSV ({e}); open the file in Excel and save "
                    "it again as CSV (comma delimited)",
                    line=line,
                ) from None
            if row is None:
                return None
            n = len(row)
            values = {f: row[i].strip() for i, f in self._columns if i < n}
            if any(v for f, v in values.items() if f not in _SCHOOL):
                return start, values
            if any(c.strip() for c in row):
                # e.g. template rows with only the school filled in, or a totals line
                self._skipped_rows += 1

    def pupils(self) -> Iterator[PupilRecord]:
        subjects, characteristics = self._subjects, self._characteristics
        while self._pending is not None:
            line, v = self._pending
            self._check_school(line, v)
            get = v.get
            self.counts.pupils += 1
            yield PupilRecord(
                line=line,
                upn=get("upn", ""),
                surname=get("surname", ""),
                forename=get("forename", ""),
                dob=iso_date(get("dob", "")),
                sex=get("sex", ""),
                outcomes={s: x for s in subjects if (x := get(s))},
                nc_year=get("nc_year", ""),
                characteristics={c: x for c in characteristics if (x := get(c))},
            )
            self._pending = self._next_row()
        if self._skipped_rows:
            n = self._skipped_rows
            self.counts.notes.append(
                f"{n} {'line' if n == 1 else 'lines'} with no pupil details (no UPN, name, date "
                f"of birth or result) {'was' if n == 1 else 'were'} skipped"
            )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._owns_stream:
            self._text.close()
        else:
            self._text.detach()  # leave the caller's file object open

    # -- the school ----------------------------------------------------------------------
    def _school(self) -> None:
        """The school from the first pupil row's LA/Estab (or LAESTAB, URN) columns, else from
        a file name like KS1_2001_23.csv (DfE number) or KS1_125000_23.csv (URN)."""
        h = self.header
        if self._pending is not None:
            self._first_line = self._pending[0]
            la, estab, urn = _school_values(self._pending[1])
            h.la, h.estab, h.urn = la, estab, urn
        pattern = self.definition.files.get("csv_file_name")
        m = re.match(pattern, display_name(self.name), re.IGNORECASE) if pattern else None
        if m:
            given = m.group("id")
            if len(given) == 4:
                if h.estab and h.estab != given:
                    self.counts.notes.append(
                        f"the file name says DfE number {given} but the Estab column says "
                        f"{h.estab}; the column was used"
                    )
                h.estab = h.estab or given
            elif len(given) == 6:
                h.urn = h.urn or given
        if not (h.estab or h.urn):
            example = self.words.example_name
            named = (
                f", or name it {example} with the school's 4-digit DfE number" if example else ""
            )
            raise self.rejected(
                f"the file does not say which school it is from: add LA and Estab columns{named}"
            )

    def _check_school(self, line: int, values: dict[str, str]) -> None:
        if not any(values.get(k) for k in _SCHOOL):
            return
        h = self.header
        la, estab, urn = _school_values(values)
        for what, got, want in (("LA", la, h.la), ("Estab", estab, h.estab), ("URN", urn, h.urn)):
            if got and got != want:
                raise self.rejected(
                    f"line {line} is for {what} {got} but the first pupil (line "
                    f"{self._first_line}) is for {what} {want or '(none)'}; a CSV file must hold "
                    "one school's pupils: send one file per school",
                    line=line,
                )


def _encoding(stream: BinaryIO) -> tuple[str, str]:
    """(codec, label): UTF-8 if the whole file decodes strictly as UTF-8 (with or without a
    BOM), else Windows-1252, which is what Excel writes for "CSV (comma delimited)"."""
    origin = stream.tell()
    bom = stream.read(3) == codecs.BOM_UTF8
    stream.seek(origin)
    if bom:  # Excel's "CSV UTF-8": trust it; a stray bad byte becomes a visible U+FFFD
        return "utf-8-sig", "UTF-8 with BOM"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := stream.read(1024 * 1024):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        valid = True
    except UnicodeDecodeError:
        valid = False
    stream.seek(origin)
    return ("utf-8", "UTF-8") if valid else ("cp1252", "Windows-1252")


def _declared_delimiter(lines: list[str]) -> tuple[str | None, int]:
    """Excel's "sep=;" first line names the delimiter: (delimiter, lines to skip)."""
    if lines and (m := re.fullmatch(r"sep=(.)\r?\n?", lines[0].lstrip("\ufeff"))):
        return m.group(1), 1
    return None, 0


def _digits(value: str) -> str:
    m = _EXCEL_TEXT.fullmatch(value)
    value = (m.group(1) if m else value).strip()
    return value if digits_only(value) else ""


def _school_values(values: dict[str, str]) -> tuple[str, str, str]:
    """(la, estab, urn) from a row's school columns, mending lost leading zeros: Excel turns
    DfE number 0123 into 123. A 7-digit LAESTAB (in its own column or the Estab one) is split;
    anything else is kept as written, for the school check to show."""
    la, estab = values.get("la", ""), values.get("estab", "")
    urn = values.get("urn", "")
    if (d := _digits(la)) and len(d) <= 3:
        la = d.zfill(3)
    for joined in (values.get("laestab", ""), estab):
        d = _digits(re.sub(r"[\s/\-]", "", joined))
        if len(d) == 7:
            la, estab = la or d[:3], d[3:]
            break
    else:
        if (d := _digits(estab)) and len(d) <= 4:
            estab = d.zfill(4)
    if d := _digits(urn):
        urn = d
    return la, estab, urn
