"""Collection definitions: one TOML file per collection and year, read into plain objects.

Code asks the definition for codes, subject mappings, dates, rule settings and the return
layout; nothing about a collection is written into the code itself.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT_COLLECTION = "ks1-2023"


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


@dataclass(frozen=True)
class CtfMapping:
    subjects: frozenset[str]
    components: frozenset[str]  # "*" matches any component
    maps_to: str


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
    establishments: dict[str, frozenset[str]]
    rules: dict[str, dict[str, Any]]
    return_layout: dict[str, Any]
    retention: Retention
    source: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

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
        subject = (subject or "").strip().upper()
        component = (component or "").strip().upper()
        for m in self.ctf_mappings:
            if subject in m.subjects and ("*" in m.components or component in m.components):
                return m.maps_to
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


def parse_definition(raw: dict[str, Any], source: str = "") -> Definition:
    c = raw["collection"]
    subjects = tuple(
        Subject(
            key=s["key"],
            label=s["label"],
            short=s["short"],
            valid=tuple(s["valid"]),
            order=tuple(s["order"]),
            met=frozenset(s["met"]),
            higher=frozenset(s["higher"]),
            legacy=frozenset(s.get("legacy", ())),
            csv_headers=tuple(s.get("csv_headers", ())),
            return_subject=s["return_assessment"]["subject"],
            return_component=s["return_assessment"]["component"],
        )
        for s in raw["subjects"]
    )
    codes = {k: frozenset(v) for k, v in raw["codes"].items() if k != "legacy"}
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
        dob_usual_from=_date(raw["cohort"]["dob_usual_from"]),
        dob_usual_to=_date(raw["cohort"]["dob_usual_to"]),
        dob_plausible_from=_date(raw["cohort"]["dob_plausible_from"]),
        dob_plausible_to=_date(raw["cohort"]["dob_plausible_to"]),
        nc_year=str(raw["cohort"]["nc_year"]),
        name_max_length=int(raw["identity"]["name_max_length"]),
        name_extra_characters=raw["identity"]["name_extra_characters"],
        sex_codes=frozenset(raw["identity"]["sex_codes"]),
        upn_letters=raw["upn"]["letters"],
        upn_la_codes=_expand_codes(raw["upn"]["la_codes"]),
        subjects=subjects,
        legacy_codes=frozenset(x.upper() for x in raw["codes"]["legacy"]),
        codes=codes,
        ctf_mappings=tuple(
            CtfMapping(
                subjects=frozenset(x.upper() for x in m["subject"]),
                components=frozenset(x.upper() for x in m["components"]),
                maps_to=m["maps_to"],
            )
            for m in raw["ctf_mapping"]
        ),
        characteristics_ctf=dict(raw.get("characteristics", {}).get("ctf", {})),
        characteristics_csv={
            k: tuple(v) for k, v in raw.get("characteristics", {}).get("csv_headers", {}).items()
        },
        csv_headers={k: tuple(v) for k, v in raw["csv_headers"].items()},
        files=dict(raw.get("files", {})),
        establishments={k: frozenset(v) for k, v in raw["establishments"].items()},
        rules={k: dict(v) for k, v in raw.get("rules", {}).items()},
        return_layout=dict(raw["return"]),
        retention=_retention(raw, source),
        source=source,
        raw=raw,
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
    return load_path(path)


def load_path(path: str | Path) -> Definition:
    path = Path(path)
    with path.open("rb") as f:
        raw = tomllib.load(f)
    return parse_definition(raw, source=str(path))
