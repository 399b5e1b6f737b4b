"""School-file readers: open a file a school sent, decide from its content what it is, and read it
into a `FileHeader` and a stream of `PupilRecord`s, or reject it with one line an LA officer can act on.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from keystage.engine import definition as definitions
from keystage.engine.definition import Definition
from keystage.engine.records import FileHeader, PupilRecord, ReadCounts, RejectedFile

__all__ = ["FileWords", "SchoolFileReader", "display_name", "iso_date", "open_school_file"]

# Enough of the start of a file to tell what it is (magic numbers, BOMs, the first lines).
SNIFF_BYTES = 64 * 1024

_EXCEL = "this looks like an Excel workbook; save it as CSV (comma delimited) and send that"
# Control characters other than tab, LF, CR, FF and Ctrl-Z (old DOS end-of-file): binary data.
_CONTROL_BYTES = bytes([*range(1, 9), 11, *range(14, 26), *range(27, 32)])
_CONTROL_SAMPLE = 8 * 1024


class FileWords:
    """How messages about a school file speak of the collection's files, from the definition's
    `[files]`: `short_name` ("the KS1 CSV template", "export the KS1 CTF again"), and a header
    row and a file name (`{yy}`: the year's last two digits) to give as examples."""

    def __init__(self, definition: Definition):
        files = definition.files
        self.short = str(files.get("short_name", "")).strip()
        lead = f"{self.short} " if self.short else ""
        self.ctf = f"the {lead}CTF"
        self.csv = f"the {lead}CSV template"
        self.template = f"the {lead}template"
        self.example_header = str(files.get("csv_example_header", "UPN, Surname, Forename"))
        example = str(files.get("csv_example_name", ""))
        self.example_name = example.format(yy=f"{definition.year % 100:02d}") if example else ""
        self.wanted = f"send the CTF (.xml) exported from the school's MIS, or {self.csv}"


class SchoolFileReader:
    """One open school file. `header` is ready as soon as the reader exists; `pupils()` streams
    the pupils once (it may raise `RejectedFile` part way, e.g. for a file cut short); `counts`
    is complete once `pupils()` is exhausted. Use it as a context manager, or call `close()`."""

    kind = ""

    def __init__(self, stream: BinaryIO, definition: Definition, *, name: str, owns_stream: bool):
        self.name = name
        self.definition = definition
        self.words = FileWords(definition)
        self.header = FileHeader(kind=self.kind)
        self.counts = ReadCounts()
        self._stream = stream
        self._owns_stream = owns_stream
        self._closed = False

    def pupils(self) -> Iterator[PupilRecord]:
        raise NotImplementedError

    def close(self) -> None:
        if self._owns_stream and not self._closed:
            self._stream.close()
        self._closed = True

    def __enter__(self) -> SchoolFileReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def rejected(self, what: str, *, line: int | None = None) -> RejectedFile:
        """A `RejectedFile` whose reason starts with this file's name."""
        return RejectedFile(f"{self.name}: {what}", line=line)


def other_collections(definition: Definition) -> tuple[tuple[str, Definition], ...]:
    """The shipped definitions of other kinds of collection than `definition`'s, each with the
    words for it ("phonics screening check"): a file of theirs is named as theirs."""
    return _others(definition.id, definition.kind)


@functools.cache
def _others(definition_id: str, kind: str) -> tuple[tuple[str, Definition], ...]:
    out = []
    for other_id in definitions.available():
        other = definitions.load(other_id)
        if other.kind != kind and other.id != definition_id:
            title = other.name.rsplit(" ", 1)[0] if other.name[-4:].isdigit() else other.name
            out.append((title[:1].lower() + title[1:], other))
    return tuple(out)


def same_kind_of_year(definition: Definition, year: str) -> tuple[str, str]:
    """The words for the shipped definition of `definition`'s kind for another `year`
    ("phonics screening check 2023") and its id, or ("", ""): a file of last year's results
    imported into this year's collection is named as last year's."""
    return _same_kind(definition.id, definition.kind, year.strip())


@functools.cache
def _same_kind(definition_id: str, kind: str, year: str) -> tuple[str, str]:
    for other_id in definitions.available():
        other = definitions.load(other_id)
        if other.kind == kind and other.id != definition_id and str(other.year) == year:
            return other.name[:1].lower() + other.name[1:], other.id
    return "", ""


def display_name(name: str) -> str:
    """The bare file name inside a display name such as "batch.zip:school/KS1_2001_23.csv", so
    that file-name patterns (KS1_DDDD_yy.csv...) can be matched against it."""
    return re.split(r"[/\\:]", name)[-1]


_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T]00:00(?::00(?:\.0+)?)?)?")
_DMY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?: 00:00(?::00)?)?")


def iso_date(text: str, *, day_first: bool = True) -> str:
    """`text` as YYYY-MM-DD when it is a real date written as YYYY-MM-DD or (with `day_first`)
    DD/MM/YYYY or D/M/YYYY (also with "-" or "."); otherwise `text` unchanged, so that the
    rules can show the school what it sent. A midnight time part (Excel adds one) is dropped."""
    m = _ISO.fullmatch(text)
    if m:
        y, mo, d = m.groups()
    elif day_first and (m := _DMY.fullmatch(text)):
        d, mo, y = m.groups()
    else:
        return text
    try:
        return dt.date(int(y), int(mo), int(d)).isoformat()
    except ValueError:
        return text


def _sniff(head: bytes, size: int, name: str, wanted: str) -> str:
    """Which reader the first bytes call for ("ctf" or "csv"); RejectedFile if neither can read
    them. `wanted`: what to send instead (`FileWords.wanted`)."""

    def reject(what: str) -> RejectedFile:
        return RejectedFile(f"{name}: {what}")

    if size == 0:
        raise reject("the file is empty (0 bytes); ask the school to send it again")
    # BOMs first: UTF-32 LE starts with the UTF-16 LE BOM, so it is tested before it.
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        raise reject("the file is UTF-32 encoded; save it again as UTF-8 or CSV")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise reject("the file is UTF-16 encoded; save it again as UTF-8 or CSV")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        # Office files are zips; the names of their parts say which program made them.
        if b"word/" in head:
            raise reject(f"this is a Word document, not a CTF or CSV file; {wanted}")
        if b"ppt/" in head:
            raise reject(f"this is a PowerPoint file, not a CTF or CSV file; {wanted}")
        if b"[Content_Types].xml" in head or b"xl/" in head:
            raise reject(_EXCEL)
        if b"opendocument.spreadsheet" in head:
            raise reject(
                "this looks like a spreadsheet (.ods); save it as CSV (comma delimited) and send that"
            )
        raise reject(
            "the file is a zip archive, not a CTF or CSV file; upload it with a .zip name so "
            "the files inside it are read one by one, or send those files instead"
        )
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE2: .xls (or old .doc)
        raise reject(_EXCEL)
    if head.startswith(b"%PDF"):
        raise reject(f"this is a PDF document, not a CTF or CSV file; {wanted}")
    if b"\x00" in head:
        # Text in UTF-16 without a BOM has a NUL in every other byte.
        sample = head[:512]
        if sample[1::2].count(0) > len(sample) // 4 or sample[0::2].count(0) > len(sample) // 4:
            raise reject("the file is UTF-16 encoded; save it again as UTF-8 or CSV")
        raise reject(f"this is not a text file (it holds binary data); {wanted}")
    # Binary data shows from the start: counting in the first 8 KB rather than all 64 KB
    # spares a national import (16,500 files) most of the time it spent sniffing.
    sample = head[:_CONTROL_SAMPLE]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if controls > max(8, len(sample) // 100):
        raise reject(f"this is not a text file (it holds binary data); {wanted}")
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    body = body.lstrip(b" \t\r\n\x0c")
    if not body:
        if size > len(head):  # kilobytes of blank space and then something: let the CSV reader say
            return "csv"
        raise reject("the file has no content, only blank space; ask the school to send it again")
    return "ctf" if body.startswith(b"<") else "csv"


def open_school_file(
    path: str | os.PathLike[str] | BinaryIO,
    definition: Definition,
    *,
    name: str | None = None,
) -> SchoolFileReader:
    """Open a school file (a path, or a seekable binary file object such as `io.BytesIO`) and
    return the reader its content calls for: a CTF reader for XML, the CSV reader otherwise.

    `name` is what messages call the file (default: the path's file name); it is also matched
    against the collection's file-name patterns when the content does not say which school
    sent the file. A file object passed in is left open for the caller to close.
    Raises `RejectedFile` for a file that cannot be read at all.
    """
    if hasattr(path, "read"):
        stream: BinaryIO = path  # type: ignore[assignment]
        owns = False
        if name is None:
            name = Path(str(getattr(stream, "name", "") or "upload")).name
    else:
        if name is None:
            name = Path(path).name  # type: ignore[arg-type]
        try:
            stream = open(path, "rb")  # the reader owns it and closes it
        except OSError as e:
            raise RejectedFile(f"{name}: the file cannot be opened ({e.strerror})") from None
        owns = True
    try:
        start = stream.tell()
        head = stream.read(SNIFF_BYTES)
        size = len(head) if len(head) < SNIFF_BYTES else stream.seek(0, os.SEEK_END) - start
        stream.seek(start)
        kind = _sniff(head, size, name, FileWords(definition).wanted)
        if kind == "ctf":
            from keystage.engine.readers.ctf import CtfReader

            return CtfReader(stream, definition, name=name, owns_stream=owns)
        from keystage.engine.readers.csvfile import CsvReader

        return CsvReader(stream, definition, name=name, owns_stream=owns)
    except BaseException:
        if owns:
            stream.close()
        raise
