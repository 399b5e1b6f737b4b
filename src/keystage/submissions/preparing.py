"""Turn one school file into rows ready to store: read it, find its school, run the rules.

No database here, only the engine and a plain dict of known schools, so that files can be
prepared in worker processes while the main process writes the previous file.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from keystage.engine import definition as definitions
from keystage.engine import rules
from keystage.engine.definition import Definition
from keystage.engine.readers import FileWords, display_name, open_school_file
from keystage.engine.records import Finding, PupilRecord, RejectedFile
from keystage.engine.year_groups import year_group
from keystage.submissions.kept import Keeper

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KnownSchool:
    """What preparing needs to know about a school from the register."""

    school_id: int
    la_id: int
    info: rules.SchoolInfo


@dataclass
class PreparedFile:
    name: str
    path: str
    sha256: str
    size: int
    stored_path: str = ""
    kind: str = ""
    la: str = ""
    estab: str = ""
    school: KnownSchool | None = None
    rejected: str = ""  # one-line reason when the file cannot be imported
    elsewhere: bool = False  # rejected as the file of another LA than the one imported for
    # (line, upn, surname, forename, dob, sex, outcomes_json, nc_year, former_upn, chars_json)
    pupils: list[tuple] = field(default_factory=list)
    pupil_findings: list[tuple[int, Finding]] = field(
        default_factory=list
    )  # (pupil index, finding)
    school_findings: list[Finding] = field(default_factory=list)
    ignored: dict = field(default_factory=dict)
    # The one NC year all its pupils are in, in a collection of several (`year_groups`): the
    # file then replaces only that year group of the school's pupils. "" replaces them all.
    year_group: str = ""

    @property
    def error_count(self) -> int:
        return sum(f.severity == "error" for _, f in self.pupil_findings) + sum(
            f.severity == "error" for f in self.school_findings
        )

    @property
    def query_count(self) -> int:
        return sum(f.severity == "query" for _, f in self.pupil_findings) + sum(
            f.severity == "query" for f in self.school_findings
        )


# One encoder for every pupil: json.dumps builds a new one per call when given options.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_OUTCOMES_JSON: dict[tuple, str] = {}  # a few hundred sets of codes make up a whole country


def outcomes_json(outcomes: dict[str, str]) -> str:
    """A pupil's outcomes as stored (JSON), remembered per set of codes: encoding each of
    650,000 pupils' four codes afresh costs more than looking the text up."""
    key = tuple(outcomes.items())
    text = _OUTCOMES_JSON.get(key)
    if text is None:
        if len(_OUTCOMES_JSON) > 20_000:  # a hostile file with endless variants
            _OUTCOMES_JSON.clear()
        text = _OUTCOMES_JSON[key] = _JSON.encode(outcomes)
    return text


# The most a pupil record's items may hold: the lengths of PupilRecord's columns (a longer
# value would stop the import on PostgreSQL), and for results and characteristics (stored as
# JSON) a Finding's value. No real file comes near them; a hostile or broken one is stored
# clipped, with the rules' findings on what is left (a name too long, a UPN not valid...).
STORED_LENGTHS = {"upn": 40, "surname": 200, "forename": 200, "dob": 40, "sex": 20,
                  "nc_year": 10, "former_upn": 40}  # fmt: skip
VALUE_LENGTH = 200


def clip(pupil: PupilRecord) -> None:
    """Cut each of a pupil's values to what can be stored (`STORED_LENGTHS`), before the rules
    see it, so that what they say is about what is kept."""
    for name, most in STORED_LENGTHS.items():
        value = getattr(pupil, name)
        if len(value) > most:
            setattr(pupil, name, value[:most])
    for values in (pupil.outcomes, pupil.characteristics):
        for key, value in values.items():
            if len(value) > VALUE_LENGTH:
                values[key] = value[:VALUE_LENGTH]
    for key, codes in pupil.duplicate_outcomes.items():
        pupil.duplicate_outcomes[key] = [c[:VALUE_LENGTH] for c in codes]


# Files up to this size are read into memory once, hashed and parsed from there.
IN_MEMORY_LIMIT = 32 * 1024 * 1024


def file_digest(path: str | Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def resolve_school(
    la: str, estab: str, urn: str, schools: dict, *, only_la: str | None
) -> KnownSchool | str:
    """Find the file's school in the register, or say why not (a rejection reason)."""
    found = None
    if la and estab:
        found = schools.get((la, estab))
    if found is None and urn:
        found = schools.get(("urn", urn))
    if found is None and estab and not la:
        if only_la:
            found = schools.get((only_la, estab))
        else:
            candidates = schools.get(("estab", estab), ())
            if len(candidates) == 1:
                found = candidates[0]
            elif candidates:
                return (
                    f"establishment number {estab} exists in {len(candidates)} LAs and the file "
                    "does not say which: add an LA column, or import it with --la LLL"
                )
    if found is None:
        where = (
            f"LA {la} establishment {estab}" if la else f"establishment {estab or urn or '(none)'}"
        )
        return (
            f"{where} is not in the schools register: check the school's LA and DfE numbers in "
            "the file, or load the latest register with `keystage schools load`"
        )
    if only_la and found.info.la != only_la:
        return Elsewhere(elsewhere(found.info.la, only_la, schools))
    return found


class Elsewhere(str):
    """The reason `resolve_school` gives for a school of another LA than the one imported for:
    such a file is refused as that LA's before anything else is said about it."""


def la_label(code: str, schools: dict) -> str:
    """ "West Sussex (938)", from the LA names the register dict carries (key ("la", code))."""
    name = schools.get(("la", code))
    return f"{name} ({code})" if name else f"LA {code}"


def elsewhere(file_la: str, only_la: str, schools: dict) -> str:
    """Why a file of another LA is refused. It says nothing about that LA's schools or uploads:
    what the other LA holds is not the uploader's business."""
    name = schools.get(("la", file_la)) or f"LA {file_la}"
    return (
        f"this file is for {la_label(file_la, schools)}, not {la_label(only_la, schools)}: "
        f"send it to {name}"
    )


def school_from_name(name: str, definition: Definition) -> tuple[str, str, str]:
    """(la, estab, urn) from a school file's name, for a file whose content cannot say."""
    base = display_name(name)
    for key in ("ctf_file_name", "csv_file_name"):
        pattern = definition.files.get(key)
        m = re.match(pattern, base, re.IGNORECASE) if pattern else None
        if m:
            groups = m.groupdict()
            if "la" in groups:
                return groups["la"], groups["estab"], ""
            ident = groups.get("id", "")
            return "", (ident if len(ident) == 4 else ""), (ident if len(ident) == 6 else "")
    return "", "", ""


def stored_name(name: str) -> str:
    """The name an upload is kept under: the file name, or "batch.zip:member" for a member,
    with the middle of a name longer than Upload.file_name holds (255) left out."""
    if ":" in name and not re.match(r"^[A-Za-z]:[\\/]", name):
        archive, member = name.split(":", 1)
        name = f"{Path(archive).name}:{member}"
    else:
        name = Path(name).name
    return name if len(name) <= 255 else f"{name[:100]}…{name[-154:]}"


def reject(prepared: PreparedFile, reason: str) -> PreparedFile:
    """Turn a prepared file into a rejection: nothing of its content will be stored."""
    prepared.rejected = reason
    prepared.pupils, prepared.pupil_findings, prepared.school_findings = [], [], []
    return prepared


class KeepFailed(Exception):
    """The copy of a file could not be kept (a full disk, the store gone)."""


def unreadable(definition: Definition) -> str:
    """Said of a file that failed in a way no reader foresaw (a fault of ours, logged with its
    traceback): never the exception's text, which may hold server paths."""
    csv = " ".join(filter(None, (FileWords(definition).short, "CSV")))
    return (
        f"the file could not be read; check that it is the school's CTF or {csv} file and send "
        "it again (the collection team has been told of the problem)"
    )


def prepare_file(
    path: str | Path,
    name: str,
    definition: Definition,
    schools: dict,
    *,
    only_la: str | None = None,
    keeper: Keeper | None = None,
    refused: str = "",
) -> PreparedFile:
    """Hash the file, read it, find its school, run the pupil and school rules, and keep a
    copy of it (`keeper`: all of an imported file, the first bytes of a rejected one). Never
    raises for a bad file: a rejection is a PreparedFile too, also when reading fails
    unforeseen, so that one file never stops the files after it. `refused`: the reason a file
    was refused before it could be read (a zip over its limits): it is hashed and kept only."""
    content: bytes | None = None
    try:
        if refused:
            sha256, size = file_digest(path)
            prepared = PreparedFile(name=name, path=str(path), sha256=sha256, size=size,
                                    la=only_la or "")  # fmt: skip
            reject(prepared, refused)
        else:
            prepared, content = _prepare(path, name, definition, schools, only_la=only_la)
    except Exception:
        log.exception("preparing %s failed", name)
        try:
            sha256, size = file_digest(path)
        except OSError:
            sha256, size = "", 0  # unreadable: never taken for a repeat of anything
        prepared = PreparedFile(name=name, path=str(path), sha256=sha256, size=size,
                                la=only_la or "")  # fmt: skip
        reject(prepared, f"{name}: {unreadable(definition)}")
    if keeper is not None and prepared.sha256:
        try:
            prepared.stored_path = keeper.keep(
                prepared.sha256, content, path, rejected=bool(prepared.rejected)
            )
        except Exception as e:
            # The store, not the file: the import stops rather than refuse every file.
            raise KeepFailed(name) from e
    return prepared


def _wrong_collection(name: str, definition: Definition, counts) -> str:
    """Why a file with none of the collection's results but another collection's is refused,
    naming the collection it belongs to."""
    reason = max(counts.claimed, key=lambda r: counts.ignored_assessments.get(r, 0))
    other = definitions.load(counts.claimed[reason])
    rows = counts.ignored_assessments.get(reason, 0)
    return (
        f"{name}: the file holds {reason.removesuffix(' rows')} results ({rows} "
        f"{'row' if rows == 1 else 'rows'}) and none of {definition.name}: import it into "
        f"{other.name} instead {_where_to_import(other)}"
    )


def _where_to_import(other: Definition) -> str:
    return f"(its upload page, or `keystage --collection {other.id} import`)"


def _prepare(
    path: str | Path,
    name: str,
    definition: Definition,
    schools: dict,
    *,
    only_la: str | None,
) -> tuple[PreparedFile, bytes | None]:
    """The file prepared, and its bytes when they were small enough to read at once."""
    content: bytes | None = None
    if os.path.getsize(path) <= IN_MEMORY_LIMIT:
        with open(path, "rb") as f:
            content = f.read()
        sha256, size = hashlib.sha256(content).hexdigest(), len(content)
    else:
        sha256, size = file_digest(path)
    prepared = PreparedFile(name=name, path=str(path), sha256=sha256, size=size)
    source = io.BytesIO(content) if content is not None else path
    try:
        with open_school_file(source, definition, name=name) as reader:
            header = reader.header
            prepared.kind, prepared.la, prepared.estab = header.kind, header.la, header.estab
            school = resolve_school(header.la, header.estab, header.urn, schools, only_la=only_la)
            if isinstance(school, str):
                prepared.elsewhere = isinstance(school, Elsewhere)
                raise RejectedFile(f"{name}: {school}")
            prepared.school = school
            prepared.la, prepared.estab = school.info.la, school.info.estab
            dumps = _JSON.encode
            check = rules.check_pupil
            any_result = False
            for index, pupil in enumerate(reader.pupils()):
                clip(pupil)
                any_result = any_result or bool(pupil.outcomes)
                prepared.pupils.append(
                    (
                        pupil.line,
                        pupil.upn,
                        pupil.surname,
                        pupil.forename,
                        pupil.dob,
                        pupil.sex,
                        outcomes_json(pupil.outcomes),
                        pupil.nc_year,
                        pupil.former_upn,
                        dumps(pupil.characteristics) if pupil.characteristics else "{}",
                    )
                )
                for finding in check(pupil, definition, school=school.info):
                    prepared.pupil_findings.append((index, finding))
            counts = reader.counts
            if not any_result and counts.claimed:
                raise RejectedFile(_wrong_collection(name, definition, counts))
            prepared.ignored = {
                "assessments": dict(counts.ignored_assessments),
                "pupils": counts.ignored_pupils,
                "notes": list(counts.notes),
            }
    except RejectedFile as e:
        reason = e.reason if e.reason.startswith(name) else f"{name}: {e.reason}"
        if e.belongs_to:  # another collection's file: where it goes
            reason = f"{reason} {_where_to_import(definitions.load(e.belongs_to))}"
        reject(prepared, reason)
        if prepared.school is None:
            # Say which school's file failed when its name tells us, so the LA can chase it.
            la, estab, urn = school_from_name(name, definition)
            found = resolve_school(
                prepared.la or la, prepared.estab or estab, urn, schools, only_la=only_la
            )
            if not isinstance(found, str):
                prepared.school, prepared.la, prepared.estab = (
                    found,
                    found.info.la,
                    found.info.estab,
                )
        if only_la and prepared.school is None:
            # A refused file is kept as the importing LA's, never as the LA it names: the
            # other LA must not see (nor be chased for) a file it was never sent.
            if prepared.la != only_la:
                prepared.estab = ""
            prepared.la = only_la
        return prepared, content
    if not prepared.pupils:
        ignored = sum(prepared.ignored["assessments"].values())
        if not ignored and not prepared.ignored["pupils"]:  # no pupil of any kind
            only = "its column headings" if header.kind == "csv" else "its header"
            reject(
                prepared,
                f"{name}: the file holds no pupils (only {only}); check that the school "
                f"exported its {definition.name} results and send the file again",
            )
            return prepared, content
        reject(
            prepared,
            f"{name}: no pupil with a result of {definition.name} was found ({ignored} other "
            f"assessment rows ignored): check that the school exported its {definition.name} "
            "results, not another assessment's",
        )
        return prepared, content
    prepared.school_findings = rules.check_school(
        header, prepared.school.info, len(prepared.pupils), definition
    )
    prepared.year_group = year_group((p[7] for p in prepared.pupils), definition)
    return prepared, content
