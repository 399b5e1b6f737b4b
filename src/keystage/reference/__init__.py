"""Public reference data shipped with Keystage: LA codes and regions, published KS1, phonics and
EYFS profile figures."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from functools import cache
from importlib import resources

# Region codes (ONS, and DfE's number in the published statistics), by region name.
# DfE numbers London's inner and outer parts 987 and 988, so the South East is 989.
REGION_CODES = {
    "North East": ("E12000001", "980"),
    "North West": ("E12000002", "981"),
    "Yorkshire and The Humber": ("E12000003", "982"),
    "East Midlands": ("E12000004", "983"),
    "West Midlands": ("E12000005", "984"),
    "East of England": ("E12000006", "985"),
    "London": ("E12000007", "986"),
    "South East": ("E12000008", "989"),
    "South West": ("E12000009", "990"),
}


# England's ONS code and name, the country of every row of the open data.
ENGLAND = ("E92000001", "England")


@dataclass(frozen=True)
class LocalAuthorityRef:
    code: str
    name: str
    region: str


def _open(name: str):
    return (resources.files("keystage.reference") / name).open(encoding="utf-8", newline="")


@cache
def local_authorities() -> tuple[LocalAuthorityRef, ...]:
    with _open("la_codes.csv") as f:
        return tuple(
            LocalAuthorityRef(r["la_code"].strip(), r["la_name"].strip(), r["region"].strip())
            for r in csv.DictReader(f)
        )


@dataclass(frozen=True)
class OnsLaCode:
    """One ONS code of an LA (`new_la_code` in DfE's files) and the days it was in use:
    `to` is None while it still is."""

    la_code: str
    new_la_code: str
    la_name: str
    region_code: str  # the ONS code of its region
    start: dt.date
    to: dt.date | None


@cache
def ons_la_codes() -> tuple[OnsLaCode, ...]:
    """The ONS codes of the 153 LAs since April 2023 (la_ons_codes.csv): one each, two for an
    LA whose code changed since (Barnsley and Sheffield from 1 May 2025)."""
    with _open("la_ons_codes.csv") as f:
        return tuple(
            OnsLaCode(
                r["la_code"], r["new_la_code"], r["la_name"], r["region_code"],
                dt.date.fromisoformat(r["from"]),
                dt.date.fromisoformat(r["to"]) if r["to"] else None,
            )
            for r in csv.DictReader(f)
        )  # fmt: skip


def new_la_code(la_code: str, on: dt.date) -> str | None:
    """The ONS code of the LA with DfE's number `la_code` on the day given; None for an LA
    not in la_ons_codes.csv or without a code that day (DfE leaves `new_la_code` blank then)."""
    for found in _ons_by_la().get(la_code, ()):
        if found.start <= on and (found.to is None or on <= found.to):
            return found.new_la_code
    return None


@cache
def _ons_by_la() -> dict[str, tuple[OnsLaCode, ...]]:
    out: dict[str, list[OnsLaCode]] = {}
    for found in ons_la_codes():
        out.setdefault(found.la_code, []).append(found)
    return {code: tuple(rows) for code, rows in out.items()}


@cache
def published_ks1() -> tuple[dict[str, str], ...]:
    """Rows of the published KS1 series: year, level, code, name, parent, *_exs, *_gds."""
    with _open("ks1_published_2016_2023.csv") as f:
        return tuple(dict(r) for r in csv.DictReader(f))


@cache
def published_phonics() -> tuple[dict[str, str], ...]:
    """Rows of the published phonics screening check series: year, level, code, name, parent,
    y1_met (% of Year 1 pupils meeting the expected standard) and its pupil groups; blank where
    DfE suppressed a figure or the LA did not exist that year."""
    with _open("phonics_published_2015_2025.csv") as f:
        return tuple(dict(r) for r in csv.DictReader(f))


@cache
def published_eyfsp() -> tuple[dict[str, str], ...]:
    """Rows of the published EYFS profile series: year, level, code, name, parent, gld (% with
    a good level of development), all_elgs (% at expected in all 17 goals), avg_elgs (average
    number of goals at expected, 2022 on) and area_* (% at expected in every goal of an area);
    blank where DfE suppressed a figure, published none (2020, 2021) or the LA did not exist
    that year. 2015-2019 are the older framework, not comparable with 2022 on."""
    with _open("eyfsp_published_2015_2025.csv") as f:
        return tuple(dict(r) for r in csv.DictReader(f))


# The published series by the name a collection definition gives them (`[provisional] series`).
SERIES = {
    "ks1_published": published_ks1,
    "phonics_published": published_phonics,
    "eyfsp_published": published_eyfsp,
}


def published_series(name: str) -> tuple[dict[str, str], ...]:
    """The rows of a published series by its name in `SERIES`; KeyError naming the known ones."""
    try:
        return SERIES[name]()
    except KeyError:
        raise KeyError(
            f"no published series {name!r}; known: {', '.join(sorted(SERIES))}"
        ) from None


def la_percentages(series: str, year: int, column: str) -> dict[str, float]:
    """{LA code: percent} of one column of a published series' LA rows of one year. An LA
    whose figure is blank that year (suppressed, or the LA did not exist) is left out; so is
    every LA when the series has no such year. Read once per (series, year, column): the
    national page asks for it per measure on every request; each caller gets its own dict."""
    return dict(_la_percentages(series, year, column))


@cache
def _la_percentages(series: str, year: int, column: str) -> tuple[tuple[str, float], ...]:
    out: list[tuple[str, float]] = []
    for row in published_series(series):
        if row["year"] != str(year) or row["level"] != "la":
            continue
        value = (row.get(column) or "").strip()
        if value:
            out.append((row["code"], float(value)))
    return tuple(out)
