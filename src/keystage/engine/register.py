"""Reader for a schools register in the layout of a GIAS establishment extract, and for a
register of early-years settings (private, voluntary or independent settings, which GIAS does
not list: `read_settings_register`, docs/cli.md `keystage settings load`).

The register says which schools an LA should expect a file from in a collection
(`expected_for`, read from the collection's definition).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from keystage.engine.definition import Definition
from keystage.engine.words import digits_only

# GIAS column names, as the extract writes them.
URN = "URN"
LA_CODE = "LA (code)"
LA_NAME = "LA (name)"
ESTAB = "EstablishmentNumber"
NAME = "EstablishmentName"
TYPE = "TypeOfEstablishment (name)"
PHASE = "PhaseOfEducation (name)"
STATUS = "EstablishmentStatus (name)"
OPEN_DATE = "OpenDate"
CLOSE_DATE = "CloseDate"
LOW_AGE = "StatutoryLowAge"
HIGH_AGE = "StatutoryHighAge"

REQUIRED_COLUMNS = (
    URN, LA_CODE, LA_NAME, ESTAB, NAME, TYPE, PHASE, STATUS,
    OPEN_DATE, CLOSE_DATE, LOW_AGE, HIGH_AGE,
)  # fmt: skip

# A settings register's columns (docs/cli.md): the setting's 6-digit early-years URN, its LA,
# its name; its status and dates when known (a setting listed without a status is open).
SETTING_NAME = "SettingName"
SETTING_STATUS = "SettingStatus"
SETTINGS_REQUIRED_COLUMNS = (URN, LA_CODE, SETTING_NAME)
SETTINGS_OPTIONAL_COLUMNS = (SETTING_STATUS, OPEN_DATE, CLOSE_DATE)
# What a setting is in the register's terms, so that the definitions' establishment tests
# (`state_funded_types`, `phases_with_ks1`, ages) can say which collections expect it.
SETTING_TYPE = "Private, voluntary or independent setting"
SETTING_PHASE = "Not applicable"
SETTING_AGES = (0, 5)

_ENCODINGS = ("utf-8", "cp1252")
_DATE_FORMATS = ("%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d")
_SNIFF_BYTES = 1 << 20


class RegisterError(Exception):
    """The register cannot be read at all. `reason` is one line saying what to do."""

    def __init__(self, reason: str, *, path: str | Path | None = None):
        self.reason = reason.replace("\n", " ").strip()
        self.path = str(path) if path is not None else None
        super().__init__(self.reason)


@dataclass(frozen=True, slots=True)
class SchoolEntry:
    """One establishment of the register. `estab` is 4 digits, or "" for an early-years
    setting, which has none: its URN stands for its LAESTAB (as in the EYFS profile's return,
    where a setting's URN takes Estab's place)."""

    urn: str
    la: str
    estab: str
    name: str
    type_name: str
    phase_name: str
    status_name: str
    open_date: dt.date | None
    close_date: dt.date | None
    low_age: int | None
    high_age: int | None
    line: int

    @property
    def laestab(self) -> str:
        return f"{self.la}{self.estab}" if self.estab else self.urn


class RegisterRows:
    """The schools of one register, read lazily as an iterator.

    Rows whose URN, LA code or establishment number cannot be used are left out and added to
    `skipped` as (line, reason); `on_skip(line, reason)` is also called for each if given.
    Kept rows with an unreadable date or age get None for it and a (line, reason) in
    `warnings`. Both lists are complete once the iterator is exhausted.
    """

    def __init__(
        self,
        path: Path,
        encoding: str,
        on_skip: Callable[[int, str], None] | None = None,
    ):
        self.path = path
        self.encoding = encoding
        self.skipped: list[tuple[int, str]] = []
        self.warnings: list[tuple[int, str]] = []
        self._on_skip = on_skip
        # utf-8-sig so a BOM never ends up glued to the first column name.
        self._file = path.open(encoding="utf-8-sig" if encoding == "utf-8" else encoding,
                               newline="")  # fmt: skip
        self._reader = csv.reader(self._file)
        try:
            header = next(self._reader)
        except StopIteration:
            self._file.close()
            raise RegisterError(f"{path.name}: the register is empty", path=path) from None
        except csv.Error as e:
            self._file.close()
            raise RegisterError(f"{path.name}: not a readable CSV file ({e})", path=path) from e
        try:
            self._index = self._columns(header, path)
        except RegisterError:
            self._file.close()
            raise
        self._rows = self._entries()

    @property
    def problems(self) -> list[tuple[int, str]]:
        """Skipped rows and warnings together, in line order."""
        return sorted(self.skipped + self.warnings)

    def __iter__(self) -> RegisterRows:
        return self

    def __next__(self) -> SchoolEntry:
        return next(self._rows)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RegisterRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _columns(self, header: list[str], path: Path) -> dict[str, int]:
        return _column_index(header, path)

    def _skip(self, line: int, reason: str) -> None:
        self.skipped.append((line, reason))
        if self._on_skip is not None:
            self._on_skip(line, reason)

    def _entries(self) -> Iterator[SchoolEntry]:
        ix = self._index
        width = max(ix.values()) + 1
        last_line = self._reader.line_num
        try:
            for row in self._reader:
                # A quoted field can span lines; report the line the row starts on.
                line, last_line = last_line + 1, self._reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) < width:
                    row = row + [""] * (width - len(row))
                entry = self._entry(line, row)
                if entry is not None:
                    yield entry
        except csv.Error as e:
            raise RegisterError(
                f"{self.path.name} line {self._reader.line_num}: the CSV is damaged ({e})",
                path=self.path,
            ) from e
        finally:
            self._file.close()

    def _entry(self, line: int, row: list[str]) -> SchoolEntry | None:
        ix = self._index

        def cell(column: str) -> str:
            return row[ix[column]].strip()

        urn, la, estab = cell(URN), cell(LA_CODE), cell(ESTAB)
        if not re.fullmatch(r"\d{6}", urn):
            self._skip(line, f"URN {urn!r} is not 6 digits" if urn else "URN is empty")
            return None
        if not re.fullmatch(r"\d{3}", la):
            self._skip(line, f"URN {urn}: LA code {la!r} is not 3 digits" if la
                       else f"URN {urn}: LA code is empty")  # fmt: skip
            return None
        # Excel drops leading zeros, so "123" is establishment 0123.
        if not re.fullmatch(r"\d{1,4}", estab):
            self._skip(line, f"URN {urn}: establishment number {estab!r} is not 4 digits"
                       if estab else f"URN {urn}: establishment number is empty")  # fmt: skip
            return None

        def date(column: str) -> dt.date | None:
            text = cell(column)
            if not text:
                return None
            parsed = parse_date(text)
            if parsed is None:
                self.warnings.append((line, f"URN {urn}: {column} {text!r} is not a date"))
            return parsed

        def age(column: str) -> int | None:
            text = cell(column)
            if not text:
                return None
            if digits_only(text):
                return int(text)
            self.warnings.append((line, f"URN {urn}: {column} {text!r} is not a whole number"))
            return None

        return SchoolEntry(
            urn=urn,
            la=la,
            estab=estab.zfill(4),
            name=cell(NAME),
            type_name=cell(TYPE),
            phase_name=cell(PHASE),
            status_name=cell(STATUS),
            open_date=date(OPEN_DATE),
            close_date=date(CLOSE_DATE),
            low_age=age(LOW_AGE),
            high_age=age(HIGH_AGE),
            line=line,
        )


def parse_date(text: str) -> dt.date | None:
    """A GIAS date (DD-MM-YYYY, DD/MM/YYYY or ISO), or None if it is not one."""
    text = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _column_index(
    header: list[str],
    path: Path,
    required: tuple[str, ...] = REQUIRED_COLUMNS,
    optional: tuple[str, ...] = (),
    advice: str = "download the establishment fields extract from GIAS",
) -> dict[str, int]:
    # Compare without case or surrounding spaces: hand-edited extracts drift on both.
    folded = {}
    for i, name in enumerate(header):
        folded.setdefault(name.strip().lower(), i)
    index = {c: folded[c.lower()] for c in required + optional if c.lower() in folded}
    missing = [c for c in required if c not in index]
    if missing:
        raise RegisterError(
            f"{path.name}: missing required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}; {advice}",
            path=path,
        )
    return index


class SettingsRows(RegisterRows):
    """The early-years settings of one settings register (columns `SETTINGS_REQUIRED_COLUMNS`,
    and `SETTINGS_OPTIONAL_COLUMNS` when given), as `SchoolEntry` with no establishment number.
    A URN that does not match `urn_pattern` (the definitions' `[establishments] setting_urn`)
    is skipped with its line, like any row that cannot be used."""

    def __init__(self, path: Path, encoding: str, urn_pattern: str, on_skip=None):
        self._urn_pattern = re.compile(urn_pattern)
        super().__init__(path, encoding, on_skip=on_skip)

    def _columns(self, header: list[str], path: Path) -> dict[str, int]:
        return _column_index(
            header, path, SETTINGS_REQUIRED_COLUMNS, SETTINGS_OPTIONAL_COLUMNS,
            advice="a settings register needs URN, LA (code) and SettingName (docs/cli.md)",
        )  # fmt: skip

    def _entry(self, line: int, row: list[str]) -> SchoolEntry | None:
        ix = self._index

        def cell(column: str) -> str:
            return row[ix[column]].strip() if column in ix else ""

        urn, la = cell(URN), cell(LA_CODE)
        if not self._urn_pattern.fullmatch(urn):
            self._skip(line, f"URN {urn!r} is not a setting's 6-digit early-years URN "
                       "(starting 5, 6 or 7)" if urn else "URN is empty")  # fmt: skip
            return None
        if not re.fullmatch(r"\d{3}", la):
            self._skip(line, f"URN {urn}: LA code {la!r} is not 3 digits" if la
                       else f"URN {urn}: LA code is empty")  # fmt: skip
            return None
        name = cell(SETTING_NAME)
        if not name:
            self._skip(line, f"URN {urn}: the setting has no name")
            return None

        def date(column: str) -> dt.date | None:
            text = cell(column)
            parsed = parse_date(text) if text else None
            if text and parsed is None:
                self.warnings.append((line, f"URN {urn}: {column} {text!r} is not a date"))
            return parsed

        return SchoolEntry(
            urn=urn, la=la, estab="", name=name, type_name=SETTING_TYPE,
            phase_name=SETTING_PHASE, status_name=cell(SETTING_STATUS) or "Open",
            open_date=date(OPEN_DATE), close_date=date(CLOSE_DATE),
            low_age=SETTING_AGES[0], high_age=SETTING_AGES[1], line=line,
        )  # fmt: skip


def detect_encoding(path: str | Path) -> str:
    """ "utf-8" or "cp1252": strict UTF-8 if every byte decodes, else Windows-1252 (which is
    what GIAS extracts really are). Raises RegisterError for a file that is not text."""
    path = Path(path)
    try:
        f = path.open("rb")
    except OSError as e:
        raise RegisterError(f"{path.name}: cannot open the register ({e.strerror})",
                            path=path) from e  # fmt: skip
    with f:
        head = f.read(_SNIFF_BYTES)
        if head.startswith(b"PK\x03\x04"):
            raise RegisterError(f"{path.name}: this is a spreadsheet or zip file, not a CSV; "
                                "save it as CSV and load it again", path=path)  # fmt: skip
        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
            raise RegisterError(f"{path.name}: not a text file (binary or UTF-16); save it as "
                                "CSV in UTF-8 or Windows-1252", path=path)  # fmt: skip
        # A strict incremental decode checks the whole file without holding it in memory.
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        chunk = head
        try:
            while chunk:
                decoder.decode(chunk)
                chunk = f.read(_SNIFF_BYTES)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
        f.seek(0)
        try:
            while chunk := f.read(_SNIFF_BYTES):
                chunk.decode("cp1252")
        except UnicodeDecodeError as e:
            raise RegisterError(f"{path.name}: not a text file in UTF-8 or Windows-1252",
                                path=path) from e  # fmt: skip
    return "cp1252"


def read_register(
    path: str | Path, *, on_skip: Callable[[int, str], None] | None = None
) -> RegisterRows:
    """Open a GIAS-style register and return an iterator of `SchoolEntry`.

    The encoding and the header are checked before this returns, so a `RegisterError`
    (not text, empty, missing columns) comes at once; row problems never raise, they are
    collected on the returned `RegisterRows` (`skipped`, `warnings`) and passed to `on_skip`.
    """
    path = Path(path)
    return RegisterRows(path, detect_encoding(path), on_skip=on_skip)


def read_settings_register(
    path: str | Path, urn_pattern: str, *, on_skip: Callable[[int, str], None] | None = None
) -> RegisterRows:
    """Open a register of early-years settings (`SettingsRows`), checked as `read_register`
    checks a schools register."""
    path = Path(path)
    return SettingsRows(path, detect_encoding(path), urn_pattern, on_skip=on_skip)


def expects(definition: Definition) -> Callable[[SchoolEntry], bool]:
    """`expected_for(entry, definition)` as a function of the entry alone, with what it reads
    from the definition worked out once (the register load asks it of every school for every
    collection)."""
    year_start = dt.date(definition.ctf_academic_year, 9, 1)
    est = definition.establishments
    open_statuses = {s.lower() for s in est.get("open_statuses", ())}
    state_funded = {t.lower() for t in est.get("state_funded_types", ())}
    # The phases whose schools have the collection's year groups (the key's name is the one
    # KS1's E05 rule reads too; each definition gives its own list).
    phases = {p.lower() for p in est.get("phases_with_ks1", ())}
    # A school opening after the school deadline has no cohort to report this year.
    deadline = definition.dates.get("school_deadline")
    # The collection's youngest pupils (`dob_usual_to`) are `age` when the year starts and one
    # more by its end (KS1's year 2: 6 and 7; phonics' year 1: 5 and 6). The age range must take
    # in both: a junior school (7-11) has a low age of 7 but no year 1 or 2, an infant school
    # (4-7) has both.
    age = definition.ctf_academic_year - definition.dob_usual_to.year

    def expected(entry: SchoolEntry) -> bool:
        if entry.close_date is not None:
            if entry.close_date < year_start:
                return False
        elif entry.status_name.lower() not in open_statuses:
            return False
        if entry.open_date is not None and deadline is not None and entry.open_date > deadline:
            return False
        if entry.type_name.lower() not in state_funded:
            return False
        if entry.phase_name.lower() not in phases:
            return False
        if entry.low_age is not None and entry.low_age > age:
            return False
        return not (entry.high_age is not None and entry.high_age < age + 1)

    return expected


def expected_for(entry: SchoolEntry, definition: Definition) -> bool:
    """Whether the LA should expect a file from this establishment in the definition's
    collection: open at some point of its year, state-funded, a phase the definition lists,
    and an age range that takes in the collection's youngest year group."""
    return expects(definition)(entry)
