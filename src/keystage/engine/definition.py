"""Collection definitions: one TOML file per collection and year, read into plain objects.

Code asks the definition for codes, subject mappings, dates, rule settings and the return
layout; nothing about a collection is written into the code itself. A definition may extend
another (`extends = "ks1-2023"`) and state only what changed: docs/definitions.md.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT_COLLECTION = "ks1-2023"
# Top-level keys of a definition file that say how it inherits; they are not data.
EXTENDS, REMOVE = "extends", "remove"


class DefinitionError(ValueError):
    """A definition file that cannot be read: the message names the file and what to do."""


def _fold(header: str) -> str:
    """Fold a CSV header for comparison: lower case, no spaces, underscores, dots or hyphens."""
    return re.sub(r"[\s_.\-]+", "", header.strip().lower())


@dataclass(frozen=True)
class Subject:
    key: str
    label: str
    short: str
    valid: tuple[str, ...]
    order: tuple[str, ...]
    met: frozenset[str]
    higher: frozenset[str]
    legacy: frozenset[str]
    csv_headers: tuple[str, ...]
    return_subject: str
    return_component: str
    # A result that is a whole-number mark in this range (inclusive) rather than a code, e.g.
    # a phonics mark 0-40; None for a subject judged by codes only.
    marks: tuple[int, int] | None = None


@dataclass(frozen=True)
class CtfMapping:
    subjects: frozenset[str]
    components: frozenset[str]  # "*" matches any component
    maps_to: str
    # Where a Result that is not a whole number goes instead (a code given in place of a
    # mark, e.g. a phonics outcome code); "" when the row always holds `maps_to`.
    codes_to: str = ""


@dataclass(frozen=True)
class Retention:
    """How long the collection's pupil-level data is kept: `pupil_data_years` after the
    collection closes (`dates.closes`). Figures are kept for good."""

    closes: dt.date
    pupil_data_years: int

    def delete_from(self, years: int | None = None) -> dt.date:
        """The first day the pupil-level data is past its retention (`years` overrides the
        definition's). 29 February closes count from 28 February in a year without it."""
        years = self.pupil_data_years if years is None else years
        try:
            return self.closes.replace(year=self.closes.year + years)
        except ValueError:
            return self.closes.replace(year=self.closes.year + years, day=28)


@dataclass(frozen=True)
class Definition:
    id: str
    name: str
    collection: str
    year: int
    academic_year: str
    ctf_academic_year: int
    term: str
    stage: str
    method: str
    locale: str
    dates: dict[str, dt.date]
    dob_usual_from: dt.date
    dob_usual_to: dt.date
    dob_plausible_from: dt.date
    dob_plausible_to: dt.date
    nc_year: str
    name_max_length: int
    name_extra_characters: str
    sex_codes: frozenset[str]
    upn_letters: str
    upn_la_codes: frozenset[str]
    subjects: tuple[Subject, ...]
    legacy_codes: frozenset[str]
    codes: dict[str, frozenset[str]]
    ctf_mappings: tuple[CtfMapping, ...]
    characteristics_ctf: dict[str, str]
    characteristics_csv: dict[str, tuple[str, ...]]
    csv_headers: dict[str, tuple[str, ...]]
    files: dict[str, str]
    # Lists (phases, statuses, types) as frozensets; other settings (a pattern, a word) as given.
    establishments: dict[str, Any]
    rules: dict[str, dict[str, Any]]
    return_layout: dict[str, Any]
    retention: Retention
    source: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # Which collection's own module (rules, measures) applies, e.g. "ks1"; the id's part
    # before its year when the file does not say.
    kind: str = ""
    statutory: bool = True  # the LA must collect it (KS1 after 2023 is optional)
    national_return: bool = True  # the LA sends a return to the national collection
    ctf_version: str = ""  # Header/CTFversion a school's CTF of this year carries
    ctf_sex_element: str = "Sex"  # the pupil element CTFs of that version carry sex in
    # StageAssessment Stage and Method values taken as this collection's (`stage` and
    # `method` are what Keystage writes; these also hold the variants it accepts).
    ctf_stages: frozenset[str] = frozenset()
    ctf_methods: frozenset[str] = frozenset()
    # NC years the collection takes and each one's usual birth dates (from, to); a
    # collection of one year group has just `nc_year` with `dob_usual_from`/`_to`.
    nc_years: tuple[str, ...] = ()
    dob_usual_by_nc_year: dict[str, tuple[dt.date, dt.date]] = field(default_factory=dict)
    previous: str = ""  # the same collection's previous year's id (cross-year rules, measures)
    extends: tuple[str, ...] = ()  # ids this definition inherits from, nearest first

    # -- lookups -------------------------------------------------------------------------
    # Worked out once per definition (`load` keeps one per collection): pages ask for them for
    # every cell of a grid. `cached_property` writes past the frozen dataclass's __setattr__.
    @cached_property
    def subject_keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.subjects)

    @cached_property
    def _subjects_by_key(self) -> dict[str, Subject]:
        return {s.key: s for s in self.subjects}

    def subject(self, key: str) -> Subject:
        return self._subjects_by_key[key]

    @cached_property
    def fields(self) -> tuple[str, ...]:
        """Every field a finding can name, in report order."""
        return (
            "file",
            "header",
            "laestab",
            "upn",
            "surname",
            "forename",
            "dob",
            "sex",
            *self.subject_keys,
            "nc_year",
        )

    def map_ctf_assessment(self, subject: str, component: str) -> str | None:
        """The subject key a CTF StageAssessment row holds, or None if it is not one of ours."""
        mapping = self.ctf_mapping_for(subject, component)
        return mapping.maps_to if mapping is not None else None

    def ctf_mapping_for(self, subject: str, component: str) -> CtfMapping | None:
        """The `[[ctf_mapping]]` a CTF StageAssessment row's subject and component match."""
        subject = (subject or "").strip().upper()
        component = (component or "").strip().upper()
        for m in self.ctf_mappings:
            if subject in m.subjects and ("*" in m.components or component in m.components):
                return m
        return None

    def csv_header_map(self) -> dict[str, str]:
        """Folded header alias -> canonical field (identity items, subjects, characteristics)."""
        out: dict[str, str] = {}
        for canonical, aliases in self.csv_headers.items():
            for a in aliases:
                out[_fold(a)] = canonical
        for s in self.subjects:
            for a in s.csv_headers:
                out[_fold(a)] = s.key
        for canonical, aliases in self.characteristics_csv.items():
            for a in aliases:
                out[_fold(a)] = canonical
        return out

    def rule_setting(self, rule_id: str, name: str, default: Any = None) -> Any:
        return self.rules.get(rule_id, {}).get(name, default)

    def is_valid_upn_la(self, code: str) -> bool:
        return code in self.upn_la_codes

    def is_setting_urn(self, urn: str | None) -> bool:
        """Whether `urn` identifies a setting of the collection (`[establishments]
        setting_urn`, a pattern: a setting sends its file with its URN in place of an
        establishment number); False for a collection that takes no settings."""
        pattern = self.establishments.get("setting_urn")
        return bool(pattern and urn and _pattern(str(pattern)).fullmatch(urn.strip()))


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _expand_codes(items: list[str]) -> frozenset[str]:
    out: set[str] = set()
    for item in items:
        if "-" in item:
            lo, hi = item.split("-")
            out.update(f"{n:03d}" for n in range(int(lo), int(hi) + 1))
        else:
            out.add(item)
    return frozenset(out)


def _date(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


def _retention(raw: dict[str, Any], source: str) -> Retention:
    where = source or raw["collection"]["id"]
    closes = raw["dates"].get("closes")
    years = raw.get("retention", {}).get("pupil_data_years")
    if closes is None or years is None:
        raise ValueError(
            f"{where}: a collection definition needs dates.closes and "
            "retention.pupil_data_years (how long pupil-level data is kept after it closes)"
        )
    if not isinstance(years, int) or isinstance(years, bool) or years < 0:
        raise ValueError(f"{where}: retention.pupil_data_years is a whole number of years, e.g. 5")
    return Retention(closes=_date(closes), pupil_data_years=years)


def _kind(c: dict[str, Any]) -> str:
    if c.get("kind"):
        return str(c["kind"])
    return re.sub(r"-?\d{4}$", "", str(c["id"])) or str(c["id"])


def _nc_year_dobs(cohort: dict[str, Any], where: str) -> dict[str, tuple[dt.date, dt.date]]:
    """Usual birth dates per NC year: `[cohort.dob_usual_by_nc_year]` ("1" = [from, to]), or
    the collection's one year group with its `dob_usual_from`/`_to`."""
    given = cohort.get("dob_usual_by_nc_year")
    if given is None:
        nc_year = str(cohort["nc_year"])
        return {nc_year: (_date(cohort["dob_usual_from"]), _date(cohort["dob_usual_to"]))}
    out = {}
    for nc_year, pair in given.items():
        if not isinstance(pair, list) or len(pair) != 2:
            raise DefinitionError(
                f"{where}: cohort.dob_usual_by_nc_year.{nc_year} is two dates, "
                'e.g. ["2016-09-01", "2017-08-31"]'
            )
        out[str(nc_year)] = (_date(pair[0]), _date(pair[1]))
    return out


def _marks(s: dict[str, Any], where: str) -> tuple[int, int] | None:
    marks = s.get("marks")
    if marks is None:
        return None
    lo, hi = marks.get("min"), marks.get("max")
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (lo, hi)) or lo > hi:
        raise DefinitionError(
            f"{where}: subject {s.get('key')!r} marks are whole numbers min <= max, "
            "e.g. { min = 0, max = 40 }"
        )
    return (lo, hi)


def parse_definition(
    raw: dict[str, Any], source: str = "", *, extends: tuple[str, ...] = ()
) -> Definition:
    """A `Definition` from a definition's data, with what it inherits already merged in (read a
    file with `load_path`, which follows `extends`). The sections one collection has and
    another does not (subjects, codes, the CTF mapping, the return...) may be left out."""
    where = source or raw.get("collection", {}).get("id", "a collection definition")
    if EXTENDS in raw or REMOVE in raw:
        raise DefinitionError(
            f"{where}: extends another definition; read it with load_path() or load(), "
            "which find the definition it extends beside it"
        )
    c = raw["collection"]
    cohort = raw["cohort"]
    subjects = tuple(
        Subject(
            key=s["key"],
            label=s["label"],
            short=s["short"],
            valid=tuple(s.get("valid", ())),
            order=tuple(s.get("order", ())),
            met=frozenset(s.get("met", ())),
            higher=frozenset(s.get("higher", ())),
            legacy=frozenset(s.get("legacy", ())),
            csv_headers=tuple(s.get("csv_headers", ())),
            return_subject=s.get("return_assessment", {}).get("subject", ""),
            return_component=s.get("return_assessment", {}).get("component", ""),
            marks=_marks(s, where),
        )
        for s in raw.get("subjects", ())
    )
    raw_codes = raw.get("codes", {})
    codes = {k: frozenset(v) for k, v in raw_codes.items() if k != "legacy"}
    nc_year_dobs = _nc_year_dobs(cohort, where)
    return Definition(
        id=c["id"],
        name=c["name"],
        collection=c["collection"],
        year=int(c["year"]),
        academic_year=c["academic_year"],
        ctf_academic_year=int(c["ctf_academic_year"]),
        term=c["term"],
        stage=c["stage"],
        method=c["method"],
        locale=c["locale"],
        dates={k: _date(v) for k, v in raw["dates"].items()},
        dob_usual_from=_date(cohort["dob_usual_from"]),
        dob_usual_to=_date(cohort["dob_usual_to"]),
        dob_plausible_from=_date(cohort["dob_plausible_from"]),
        dob_plausible_to=_date(cohort["dob_plausible_to"]),
        nc_year=str(cohort["nc_year"]),
        name_max_length=int(raw["identity"]["name_max_length"]),
        name_extra_characters=raw["identity"]["name_extra_characters"],
        sex_codes=frozenset(raw["identity"]["sex_codes"]),
        upn_letters=raw["upn"]["letters"],
        upn_la_codes=_expand_codes(raw["upn"]["la_codes"]),
        subjects=subjects,
        legacy_codes=frozenset(x.upper() for x in raw_codes.get("legacy", ())),
        codes=codes,
        ctf_mappings=tuple(
            CtfMapping(
                subjects=frozenset(x.upper() for x in m["subject"]),
                components=frozenset(x.upper() for x in m["components"]),
                maps_to=m["maps_to"],
                codes_to=m.get("codes_to", ""),
            )
            for m in raw.get("ctf_mapping", ())
        ),
        characteristics_ctf=dict(raw.get("characteristics", {}).get("ctf", {})),
        characteristics_csv={
            k: tuple(v) for k, v in raw.get("characteristics", {}).get("csv_headers", {}).items()
        },
        csv_headers={k: tuple(v) for k, v in raw.get("csv_headers", {}).items()},
        files=dict(raw.get("files", {})),
        establishments={
            k: frozenset(v) if isinstance(v, list) else v
            for k, v in raw.get("establishments", {}).items()
        },
        rules={k: dict(v) for k, v in raw.get("rules", {}).items()},
        return_layout=dict(raw.get("return", {})),
        retention=_retention(raw, source),
        source=source,
        raw=raw,
        kind=_kind(c),
        statutory=bool(c.get("statutory", True)),
        national_return=bool(c.get("national_return", True)),
        ctf_version=str(c.get("ctf_version", "")),
        ctf_sex_element=str(c.get("ctf_sex_element", "Sex")),
        ctf_stages=frozenset(x.upper() for x in (c["stage"], *c.get("stages", ()))),
        ctf_methods=frozenset(x.upper() for x in (c["method"], *c.get("methods", ()))),
        nc_years=tuple(str(x) for x in cohort.get("nc_years", nc_year_dobs)),
        dob_usual_by_nc_year=nc_year_dobs,
        previous=str(c.get("previous", "")),
        extends=tuple(extends),
    )


def definitions_dir() -> Path:
    return Path(str(resources.files("keystage.engine") / "definitions"))


def available() -> list[str]:
    return sorted(p.stem for p in definitions_dir().glob("*.toml"))


@cache
def load(collection_id: str = DEFAULT_COLLECTION) -> Definition:
    """Load a shipped definition by id (e.g. "ks1-2023")."""
    path = definitions_dir() / f"{collection_id}.toml"
    if not path.is_file():
        raise KeyError(
            f"no collection definition {collection_id!r}; known: {', '.join(available())}"
        )
    found = _load_cached(path, path.stat().st_mtime_ns)
    if found.id != collection_id:
        raise DefinitionError(
            f"{path}: [collection] id is {found.id!r}; it must be the file's name, "
            f"{collection_id!r}"
        )
    return found


@functools.lru_cache(maxsize=64)
def _load_cached(path: Path, mtime_ns: int) -> Definition:
    """A shipped definition is read once per process (every page names its collection's); the
    file's modification time is in the key, so an edited file is read again (shipped files do
    not change while the service runs)."""
    return load_path(path)


def load_path(path: str | Path) -> Definition:
    """Read the definition file at `path`, with what it inherits (`extends`) merged in."""
    path = Path(path)
    raw, chain = read_merged(path)
    try:
        return parse_definition(raw, source=str(path), extends=chain)
    except KeyError as e:
        raise DefinitionError(
            f"{path}: the definition has no {e.args[0]!r} where one is needed "
            "(docs/definitions.md lists the sections of a definition)"
        ) from None


# -- extends: a definition that states only what changed --------------------------------


def read_merged(path: str | Path) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The data of the definition file at `path` with everything it inherits merged in, and
    the ids it inherits from (nearest first). The rules (docs/definitions.md): the definition
    named by `extends` is `<id>.toml` beside this file and is merged first, its own parents
    before it; the keys listed in `remove` are taken out of what is inherited; then this
    file's values are laid over it: a table merges key by key, anything else (a value, a list,
    a list of tables) replaces the inherited one whole."""
    return _read_merged(Path(path), ())


def _read_toml(path: Path, wanted_by: Path | None) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        if wanted_by is None:
            raise DefinitionError(f"{path}: no such definition file") from None
        raise  # the caller words it: an unknown parent
    except tomllib.TOMLDecodeError as e:
        raise DefinitionError(f"{path}: not valid TOML: {e}; correct the file") from None


def _read_merged(path: Path, chain: tuple[Path, ...]) -> tuple[dict[str, Any], tuple[str, ...]]:
    raw = _read_toml(path, chain[-1] if chain else None)
    parent = raw.pop(EXTENDS, None)
    removals = raw.pop(REMOVE, None)
    if parent is None:
        if removals is not None:
            raise DefinitionError(
                f"{path}: `remove` takes keys out of the definition this one extends, but it "
                'extends none; add `extends = "<id>"` or drop `remove`'
            )
        return raw, ()
    if not isinstance(parent, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", parent):
        raise DefinitionError(
            f'{path}: `extends` is the id of another definition beside it, e.g. extends = "ks1-2023"'
        )
    collection = raw.get("collection")
    own_id = collection.get("id") if isinstance(collection, dict) else None
    if not own_id:
        raise DefinitionError(
            f"{path}: it extends {parent!r}, so it must give its own [collection] id "
            f"(else it would take {parent!r}'s)"
        )
    if own_id == parent:
        raise DefinitionError(f"{path}: [collection] id {own_id!r} extends itself")
    parent_path = path.parent / f"{parent}.toml"
    seen = (*chain, path)
    if any(_same_file(parent_path, p) for p in seen):
        names = " extends ".join(p.stem for p in (*seen, parent_path))
        raise DefinitionError(
            f"{path}: extends {parent!r}, which leads back to itself ({names}); the oldest "
            "definition of the chain must extend none"
        )
    try:
        inherited, ancestors = _read_merged(parent_path, seen)
    except FileNotFoundError:
        known = sorted(p.stem for p in path.parent.glob("*.toml") if p != path)
        raise DefinitionError(
            f"{path}: extends {parent!r}, but there is no {parent}.toml beside it "
            f"(definitions there: {', '.join(known) or 'none'}); name one of them or drop "
            "`extends`"
        ) from None
    if removals is not None:
        inherited = _remove(inherited, removals, path, parent)
    return merge(inherited, raw, where=path), (parent, *ancestors)


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def merge(base: dict[str, Any], over: dict[str, Any], where: Any = "") -> dict[str, Any]:
    """`over` laid on `base` (neither is changed): tables merge key by key, anything else in
    `over` replaces the value in `base`. A table where `base` has a value that is not one (or
    the other way round) is refused: `remove` the inherited key first to give it anew."""
    out = copy.deepcopy(base)
    _merge_into(out, over, where, ())
    return out


def _merge_into(out: dict[str, Any], over: dict[str, Any], where: Any, at: tuple[str, ...]):
    for key, value in over.items():
        here = (*at, key)
        if key not in out:
            out[key] = copy.deepcopy(value)
        elif isinstance(out[key], dict) and isinstance(value, dict):
            _merge_into(out[key], value, where, here)
        elif isinstance(out[key], dict) or isinstance(value, dict):
            had, has = _kind_of(out[key]), _kind_of(value)
            raise DefinitionError(
                f"{where}: {_dotted(here)} is {had} in the definition it extends but {has} "
                f"here; give it as {had}, or list {_dotted(here)!r} in `remove` to replace it"
            )
        else:
            out[key] = copy.deepcopy(value)


def _kind_of(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return "a value"


def _dotted(keys: tuple[str, ...]) -> str:
    return ".".join(k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else f'"{k}"' for k in keys)


def _remove(inherited: dict[str, Any], removals: Any, path: Path, parent: str) -> dict[str, Any]:
    """`inherited` without the keys `remove` lists: TOML dotted keys such as
    "dates.national_deadline" or 'rules."<rule id>"', each naming a key it has."""
    if not isinstance(removals, list) or not all(isinstance(r, str) for r in removals):
        raise DefinitionError(
            f'{path}: `remove` is a list of keys, e.g. remove = ["dates.national_deadline"]'
        )
    out = copy.deepcopy(inherited)
    for dotted in removals:
        keys = _key_path(dotted, path)
        table = out
        for i, key in enumerate(keys):
            if not isinstance(table, dict) or key not in table:
                raise DefinitionError(
                    f"{path}: `remove` names {dotted!r}, but {parent!r} has no "
                    f"{_dotted(tuple(keys[: i + 1]))}; correct or drop that entry"
                )
            if i == len(keys) - 1:
                del table[key]
            else:
                table = table[key]
    return out


def _key_path(dotted: str, path: Path) -> list[str]:
    """The keys of one TOML dotted key ("dates.opens" -> ["dates", "opens"])."""
    try:
        parsed: Any = tomllib.loads(f"{dotted} = 0") if "\n" not in dotted else None
    except tomllib.TOMLDecodeError:
        parsed = None
    keys = []
    while isinstance(parsed, dict) and len(parsed) == 1:
        ((key, parsed),) = parsed.items()
        keys.append(key)
    if parsed != 0 or not keys:
        raise DefinitionError(
            f"{path}: `remove` entry {dotted!r} is not a key; write it as in TOML, "
            'e.g. "dates.national_deadline" or \'rules."<rule id>"\''
        )
    return keys
