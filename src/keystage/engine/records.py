"""Plain data passed between the readers, the rules and whoever stores the results.

A reader turns one school file into a `FileHeader` and a stream of `PupilRecord`s. Rules turn
records into `Finding`s. Nothing here knows about Django or a database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


class RejectedFile(Exception):  # noqa: N818 - it is a verdict on a file, not a programming error
    """A file that cannot be imported at all. `reason` is one line an LA officer can act on.
    `belongs_to`: the id of the collection the file is a file of, when it is another's."""

    def __init__(self, reason: str, *, line: int | None = None, belongs_to: str = ""):
        self.reason = reason.replace("\n", " ").strip()
        self.line = line
        self.belongs_to = belongs_to
        super().__init__(self.reason)


@dataclass(slots=True)
class FileHeader:
    """Who sent the file and what it is. `la` and `estab` are the school's, as text."""

    kind: str  # "ctf" or "csv"
    la: str = ""
    estab: str = ""
    urn: str = ""
    school_name: str = ""
    supplier: str = ""
    created: str = ""  # CTF Header/DateTime as written
    academic_year: str = ""
    ctf_version: str = ""
    encoding: str = ""

    @property
    def laestab(self) -> str:
        return f"{self.la}{self.estab}"


@dataclass(slots=True)
class PupilRecord:
    """One pupil as the file gives them. Values are kept as written (trimmed), so that a
    message can show what the school sent; rules normalise before they compare."""

    line: int  # line of the file where the pupil starts (1-based)
    upn: str = ""
    surname: str = ""
    forename: str = ""
    dob: str = ""  # ISO YYYY-MM-DD when it could be read as a date, else as written
    sex: str = ""
    outcomes: dict[str, str] = field(default_factory=dict)  # subject key -> code as written
    # Subjects given more than once for the collection year: subject -> every code seen,
    # in document order (the kept one is in `outcomes`), for the rule on results given twice.
    duplicate_outcomes: dict[str, list[str]] = field(default_factory=dict)
    # Subjects found only with the wrong Stage/Year/Method: subject -> "Year 2022" etc (for the
    # rule on wrong assessment parameters).
    wrong_parameters: dict[str, str] = field(default_factory=dict)
    nc_year: str = ""
    former_upn: str = ""
    characteristics: dict[str, str] = field(default_factory=dict)  # fsm, sen, eal, ethnicity

    @property
    def dob_date(self) -> dt.date | None:
        try:
            return dt.date.fromisoformat(self.dob) if len(self.dob) == 10 else None
        except ValueError:
            return None


@dataclass(slots=True)
class ReadCounts:
    """What a reader saw but did not use, so the import summary can say so."""

    pupils: int = 0
    ignored_assessments: dict[str, int] = field(default_factory=dict)  # reason -> rows
    ignored_pupils: int = 0  # pupils with no row of the collection (and not in its year groups)
    notes: list[str] = field(default_factory=list)
    # Reasons in `ignored_assessments` that are another collection's rows -> that collection's
    # definition id ("phonics screening check rows" -> "phonics-2023").
    claimed: dict[str, str] = field(default_factory=dict)

    def ignore(self, reason: str, n: int = 1) -> None:
        self.ignored_assessments[reason] = self.ignored_assessments.get(reason, 0) + n


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule result. `field` names an item ("upn", "reading", "file"...); `value` is the
    value as written; `message` says what is wrong and what to do."""

    rule: str
    severity: str  # "error" or "query"
    field: str
    value: str
    message: str
