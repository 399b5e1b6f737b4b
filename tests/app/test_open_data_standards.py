"""The open data meets EES's open data standards as DfE's screener checks them (issue 18 item
7): the data file `/<collection>/reports/open-data.csv`, its metadata file `open-data.meta.csv`
and the zip of both, for every collection Keystage offers.

Each check below is one of DfE's screener, eesyscreener (dfe-analytical-services/eesyscreener,
its R/ checks, read in December 2026), written here in Python over the files as downloaded, under
the screener's own name. Where the screener only warns (snake_case, region columns for LA rows,
indicator_dp set, a Total for each filter) the check here fails: a warning is still a flaw.
docs/open-data.md lists the screener's checks that do not apply to Keystage's files, and why.

`test_each_check_fails_on_the_flaw_it_is_for` shows every check failing on a small pair of files
with that one flaw, so that no check here passes by never looking."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import re
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from keystage import reference
from keystage.engine import definition as definitions
from keystage.reports.facts import rebuild_facts
from keystage.reports.queries import OPEN_DATA_HEAD
from keystage.submissions.actions import get_collection
from keystage.submissions.importing import import_paths
from keystage.web.links import reverse
from tests.app import test_phonics_reports, test_reports
from tests.app.test_phonics_reports import _2024, on
from tests.builders import write_ctf

cohort = test_phonics_reports.cohort  # the fixtures: their docstrings have the sums
imported = test_reports.imported

# -- DfE's lookups and lists (eesyscreener data-raw/, dfe-published-data-qa data/) ------------

REQ_META_COLS = ["col_name", "col_type", "label", "indicator_grouping", "indicator_unit",
                 "indicator_dp", "filter_hint", "filter_grouping_column"]  # fmt: skip
OPTIONAL_META_COLS = ["filter_default"]
REQ_DATA_COLS = ["geographic_level", "time_period", "time_identifier", "country_code",
                 "country_name"]  # fmt: skip
_TERMS = ["Spring term", "Autumn term", "Summer term"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]  # fmt: skip
_WEEKS = [f"Week {n}" for n in range(1, 53)]
_QUARTERS = [f"Financial year Q{n}" for n in range(1, 5)]
_HALVES = ["Part 1 (April to September)", "Part 2 (October to March)"]
FOUR_DIGIT_IDS = ["Calendar year", "Reporting year", *_WEEKS, *_MONTHS]
SIX_DIGIT_IDS = ["Autumn and spring term", *_TERMS, "Financial year", "Academic year",
                 "Tax year", *_QUARTERS, *_HALVES]  # fmt: skip
# time identifiers that may be mixed in one file (the screener's acceptable_time_ids groups)
TIME_ID_GROUPS = [["Autumn and spring term"], ["Calendar year"], ["Financial year"],
                  ["Academic year"], ["Tax year"], ["Reporting year"], _TERMS, _WEEKS, _MONTHS,
                  _QUARTERS, _HALVES]  # fmt: skip
INDICATOR_UNITS = ["%", "pp", "£", "£m", "numberstring"]
GSS_SYMBOLS = ["c", "z", "x", "low", "u"]  # analysts' guide "Data symbols"
NULL_SYMBOLS = ["NULL", "Null", "null", "NA", "na"]
LEGACY_SYMBOLS = ["N/A", "n/a", ".", "..", "-"]
LEGACY_GSS_SYMBOLS = ["~", ":"]
SMUSHED = ["male", "female", "asian", "chinese", "indian", "pakistani", "bangladeshi", "black",
           "african", "caribbean", "white", "roma", "irish", "english", "british", "scottish",
           "welsh", "northern irish", "arab"]  # fmt: skip
GEOG_REGEX = re.compile(
    r"(^(sch|prov|inst|estab|reg|la|local|rsc|pfa|pcon|lep|mca|oa|ward|mat)"
    r".*(name|code|urn|ukprn|number|upin|id)$)"
    r"|(^(laestab|estab|sch|school|schools|prov|provider|providers|inst|institution|"
    r"institutions|name|code|urn|ukprn|number|upin|id|region|la|lad|rsc|pcon|lep|mca|oa|ward|"
    r"mat)$)",
    re.I,
)
# (geographic_level, code column, name column, second code column): the screener's geography_df
GEOGRAPHY = [
    ("National", "country_code", "country_name", None),
    ("Regional", "region_code", "region_name", None),
    ("Local authority", "new_la_code", "la_name", "old_la_code"),
    ("Local authority district", "lad_code", "lad_name", None),
    ("RSC region", None, "rsc_region_lead_name", None),
    ("Parliamentary constituency", "pcon_code", "pcon_name", None),
    ("Local skills improvement plan area", "lsip_code", "lsip_name", None),
    ("Local enterprise partnership", "local_enterprise_partnership_code",
     "local_enterprise_partnership_name", None),
    ("English devolved area", "english_devolved_area_code", "english_devolved_area_name", None),
    ("Opportunity area", "opportunity_area_code", "opportunity_area_name", None),
    ("Ward", "ward_code", "ward_name", None),
    ("MAT", "trust_id", "trust_name", None),
    ("Sponsor", "sponsor_id", "sponsor_name", None),
    ("School", "school_urn", "school_name", "school_laestab"),
    ("Provider", "provider_ukprn", "provider_name", None),
    ("Institution", "institution_id", "institution_name", None),
    ("Planning area", "planning_area_code", "planning_area_name", None),
    ("Police force area", "pfa_code", "pfa_name", None),
]  # fmt: skip
GEOG_LEVELS = [g[0] for g in GEOGRAPHY]
OB_UNITS = ["time_period", "time_identifier", "geographic_level"] + [
    c for g in GEOGRAPHY for c in g[1:] if c
]
# Levels whose rows may carry a geography's columns (check_geog_overcompleted_cols), for the
# levels Keystage publishes.
_LOW = ["School", "Provider", "Institution"]
COMPATIBLE = {
    "Regional": ["Regional", "Local skills improvement plan area", "Local authority",
                 "Local enterprise partnership", "Opportunity area", "Local authority district",
                 "Parliamentary constituency", "English devolved area", "Ward", *_LOW,
                 "Planning area", "Police force area"],
    "Local authority": ["Local authority", "Parliamentary constituency",
                        "Local authority district", "Ward", *_LOW, "Planning area",
                        "Police force area"],
}  # fmt: skip
UNIVERSAL_GEOG = ["Not applicable", "Unknown", "Outside of England", "Outside of the United Kingdom",
                  "Outside of England and unknown", "Outside of the United Kingdom and unknown"]  # fmt: skip
COUNTRIES = {("E92000001", "England"), ("K02000001", "United Kingdom"),
             ("K03000001", "Great Britain"), ("K04000001", "England and Wales"),
             ("N92000002", "Northern Ireland"), ("S92000003", "Scotland"),
             ("W92000004", "Wales")} | {("z", n) for n in UNIVERSAL_GEOG}  # fmt: skip
# dfe-published-data-qa data/regions.csv
REGIONS = {("E12000001", "North East"), ("E12000002", "North West"),
           ("E12000003", "Yorkshire and The Humber"), ("E12000004", "East Midlands"),
           ("E12000005", "West Midlands"), ("E12000006", "East of England"),
           ("E12000007", "London"), ("E12000008", "South East"), ("E12000009", "South West"),
           ("E13000001", "Inner London"), ("E13000002", "Outer London")} | {
    ("z", n) for n in UNIVERSAL_GEOG}  # fmt: skip
# (old_la_code, new_la_code, la_name) of DfE's las.csv: Keystage ships the rows of its 153 LAs
# (la_ons_codes.csv; test_the_ons_codes_shipped checks them against rows of DfE's file).
LAS = {(r.la_code, r.new_la_code, r.la_name) for r in reference.ons_la_codes()}
API_LIMITS = {"location-code": 30, "column-label": 100, "column-item": 120}


# -- the files, and the checks -----------------------------------------------------------------


@dataclass
class Files:
    """A data file and its metadata file as downloaded: names, header and rows of each."""

    data_name: str
    meta_name: str
    data_fields: list[str]
    data: list[dict]
    meta_fields: list[str]
    meta: list[dict]

    def indicators(self) -> list[str]:
        return [m["col_name"] for m in self.meta if m["col_type"] == "Indicator"]

    def filters(self) -> list[str]:
        return [m["col_name"] for m in self.meta if m["col_type"] == "Filter"]

    def filter_groups(self) -> list[str]:
        return [g for m in self.meta if (g := m.get("filter_grouping_column"))]

    def column(self, name: str) -> list[str]:
        return [r.get(name, "") for r in self.data]


CHECKS: dict[str, Callable[[Files], list[str]]] = {}


def check(fn):
    """Register a check under its screener name; it returns the problems it finds."""
    CHECKS[fn.__name__] = fn
    return fn


def _stem(name: str) -> str:
    return re.sub(r"(\.meta)?\.csv$", "", name)


@check
def check_filename_spaces(f: Files) -> list[str]:
    return [f"{n}: space in the file name" for n in (f.data_name, f.meta_name) if " " in n]


@check
def check_filename_special(f: Files) -> list[str]:
    return [f"{n}: {bad}" for n in (f.data_name, f.meta_name)
            if (bad := re.sub(r"[A-Za-z0-9_\-\s]", "", _stem(n)))]  # fmt: skip


@check
def check_filename_lower_case(f: Files) -> list[str]:
    # the analysts' guide, "File names": EES forces names to lower case
    return [n for n in (f.data_name, f.meta_name) if n != n.lower()]


@check
def check_filenames_match(f: Files) -> list[str]:
    want = f.data_name.replace(".csv", ".meta.csv", 1)
    return [] if f.meta_name == want else [f"metadata file should be {want}"]


@check
def precheck_col_req_meta(f: Files) -> list[str]:
    return [c for c in REQ_META_COLS if c not in f.meta_fields]


@check
def precheck_col_invalid_meta(f: Files) -> list[str]:
    return [c for c in f.meta_fields if c not in REQ_META_COLS + OPTIONAL_META_COLS]


@check
def precheck_col_req_data(f: Files) -> list[str]:
    return [c for c in REQ_DATA_COLS if c not in f.data_fields]


@check
def precheck_col_to_rows(f: Files) -> list[str]:
    spare = len(f.data_fields) - 5
    return [] if len(f.meta) <= spare else [f"{len(f.meta)} metadata rows, {spare} columns"]


@check
def precheck_cross_meta_to_data(f: Files) -> list[str]:
    named = [m["col_name"] for m in f.meta] + f.filter_groups()
    return [c for c in dict.fromkeys(named) if c not in f.data_fields]


@check
def precheck_cross_data_to_meta(f: Files) -> list[str]:
    named = {m["col_name"] for m in f.meta} | set(f.filter_groups())
    return [c for c in f.data_fields
            if c not in OB_UNITS and len(set(f.column(c))) > 1 and c not in named]  # fmt: skip


@check
def check_col_names_spaces(f: Files) -> list[str]:
    return [c for c in f.data_fields if " " in c]


@check
def check_col_snake_case(f: Files) -> list[str]:
    return [c for c in f.data_fields if re.sub(r"[a-z0-9_]", "", c)]


@check
def check_col_var_start(f: Files) -> list[str]:
    return [c for c in f.data_fields if not re.match(r"[a-z]", c)]


@check
def check_col_ind_smushed(f: Files) -> list[str]:
    return [c for c in f.indicators() if any(s in c.lower() for s in SMUSHED)]


@check
def check_col_var_characteristic(f: Files) -> list[str]:
    named = {m["col_name"] for m in f.meta} | set(f.filter_groups())
    return sorted(named & {"characteristic", "characteristic_group"})


@check
def precheck_meta_col_type(f: Files) -> list[str]:
    return [m["col_type"] for m in f.meta if m["col_type"] not in ("Filter", "Indicator")]


@check
def precheck_meta_ob_unit(f: Files) -> list[str]:
    named = [m["col_name"] for m in f.meta] + f.filter_groups()
    allowed = {"school_name", "provider_name"}
    return [c for c in named if c in OB_UNITS and c not in allowed]


@check
def precheck_meta_col_name(f: Files) -> list[str]:
    return [f"row {n}" for n, m in enumerate(f.meta, 2) if not m["col_name"].strip()]


@check
def check_meta_dupe_label(f: Files) -> list[str]:
    return [lab for lab, n in Counter(m["label"] for m in f.meta).items() if n > 1]


@check
def check_meta_label(f: Files) -> list[str]:
    return [m["col_name"] for m in f.meta if not m["label"].strip()]


@check
def check_meta_col_name_dupe(f: Files) -> list[str]:
    return [c for c, n in Counter(m["col_name"] for m in f.meta).items() if n > 1]


@check
def check_meta_col_name_spaces(f: Files) -> list[str]:
    return [m["col_name"] for m in f.meta if " " in m["col_name"]]


def _filters_with(f: Files, field: str) -> list[str]:
    return [m["col_name"] for m in f.meta if m["col_type"] == "Filter" and m[field].strip()]


@check
def check_meta_indicator_dp(f: Files) -> list[str]:
    return _filters_with(f, "indicator_dp")


@check
def check_meta_ind_unit(f: Files) -> list[str]:
    return _filters_with(f, "indicator_unit")


@check
def check_meta_indicator_grouping(f: Files) -> list[str]:
    return _filters_with(f, "indicator_grouping")


@check
def check_meta_ind_dp_set(f: Files) -> list[str]:
    return [m["col_name"] for m in f.meta
            if m["col_type"] == "Indicator" and not m["indicator_dp"].strip()]  # fmt: skip


@check
def check_meta_ind_dp_values(f: Files) -> list[str]:
    return [f"{m['col_name']}: {m['indicator_dp']!r}" for m in f.meta
            if m["indicator_dp"].strip() and not m["indicator_dp"].strip().isdigit()]  # fmt: skip


@check
def check_meta_ind_unit_validation(f: Files) -> list[str]:
    return [m["indicator_unit"] for m in f.meta if m["col_type"] == "Indicator"
            and m["indicator_unit"] and m["indicator_unit"] not in INDICATOR_UNITS]  # fmt: skip


@check
def check_meta_geog_catch(f: Files) -> list[str]:
    return [c for c in f.filters() + f.filter_groups() if GEOG_REGEX.search(c)]


@check
def check_general_null(f: Files) -> list[str]:
    found = [f"data {c}: {v!r}" for r in f.data for c, v in r.items()
             if v in NULL_SYMBOLS + LEGACY_SYMBOLS]  # fmt: skip
    return found + [f"metadata: {v!r}" for m in f.meta for v in m.values() if v in NULL_SYMBOLS]


@check
def precheck_filter_not_singular(f: Files) -> list[str]:
    return [c for c in f.filters() if len(set(f.column(c))) < 2]


@check
def check_filter_defaults(f: Files) -> list[str]:
    wanted = {m["col_name"]: m.get("filter_default") or "Total" for m in f.meta
              if m["col_type"] == "Filter"}  # fmt: skip
    wanted |= {g: "Total" for g in f.filter_groups() if g not in wanted}
    return [c for c, total in wanted.items() if total not in f.column(c)]


@check
def precheck_time_period_num(f: Files) -> list[str]:
    return sorted({p for p in f.column("time_period") if not p.isdigit()})


@check
def precheck_time_id_valid(f: Files) -> list[str]:
    return sorted(
        {t for t in f.column("time_identifier") if t not in FOUR_DIGIT_IDS + SIX_DIGIT_IDS}
    )


@check
def precheck_time_id_mix(f: Files) -> list[str]:
    found = set(f.column("time_identifier"))
    groups = [g for g in TIME_ID_GROUPS if found & set(g)]
    return [] if len(groups) <= 1 else [f"mixed: {sorted(found)}"]


@check
def check_time_period(f: Files) -> list[str]:
    out = []
    for r in f.data:
        want = 4 if r["time_identifier"] in FOUR_DIGIT_IDS else 6
        if len(r["time_period"]) != want:
            out.append(f"{r['time_period']} for {r['time_identifier']}: {want} digits wanted")
    return out


@check
def check_time_period_six(f: Files) -> list[str]:
    bad = []
    for p in {p for p in f.column("time_period") if len(p) == 6 and p.isdigit()}:
        if (int(p[2:4]) + 1) % 100 != int(p[4:6]):
            bad.append(p)
    return sorted(bad)


@check
def precheck_geog_level(f: Files) -> list[str]:
    return sorted({g for g in f.column("geographic_level") if g and g not in GEOG_LEVELS})


@check
def precheck_geog_level_present(f: Files) -> list[str]:
    return [f"data row {n}" for n, g in enumerate(f.column("geographic_level"), 2) if not g]


@check
def check_general_dupes(f: Files) -> list[str]:
    keys = [c for c in OB_UNITS + f.filters() + f.filter_groups() if c in f.data_fields]
    seen = Counter(tuple(r.get(c, "") for c in keys) for r in f.data)
    return [str(k) for k, n in seen.items() if n > 1]


def _combos(f: Files, cols: list[str], valid: set, key: str, level: str | None = None) -> list[str]:
    """The (code, name...) combinations of `cols` not in DfE's lookup `valid`: of every row at
    `level`, and of the other rows whose `key` code is given (not blank, not "x")."""
    if not all(c in f.data_fields for c in cols):
        return []
    bad = set()
    for r in f.data:
        if r["geographic_level"] != level and r[key] in ("", "x"):
            continue
        if (combo := tuple(r[c] for c in cols)) not in valid:
            bad.add(" / ".join(combo))
    return sorted(bad)


@check
def check_geog_country_combos(f: Files) -> list[str]:
    return _combos(f, ["country_code", "country_name"], COUNTRIES, "country_code")


@check
def check_geog_region_combos(f: Files) -> list[str]:
    return _combos(f, ["region_code", "region_name"], REGIONS, "region_code", "Regional")


@check
def check_geog_la_combos(f: Files) -> list[str]:
    # a legacy LA has no new_la_code: the screener checks the LAs that have one
    extra = {("z", "z", n) for n in UNIVERSAL_GEOG}
    return _combos(f, ["old_la_code", "new_la_code", "la_name"], LAS | extra, "new_la_code")


@check
def check_geog_level_completed(f: Files) -> list[str]:
    out = []
    for level, code, name, second in GEOGRAPHY:
        if level == "Planning area":
            continue
        # new_la_code may be blank: a legacy LA has none (analysts' guide)
        cols = [c for c in (code, name, second) if c and c != "new_la_code"]
        for c in cols:
            if c in f.data_fields and any(
                not r[c] for r in f.data if r["geographic_level"] == level
            ):
                out.append(f"{c} blank for {level}")
    return out


@check
def check_geog_la_col_present(f: Files) -> list[str]:
    la = ["new_la_code", "la_name", "old_la_code"]
    present = [c for c in la if c in f.data_fields]
    return [] if len(present) in (0, 3) else [c for c in la if c not in present]


@check
def check_geog_region_col_present(f: Files) -> list[str]:
    present = [c for c in ("region_code", "region_name") if c in f.data_fields]
    return [] if len(present) != 1 else [f"only {present[0]}"]


@check
def check_geog_region_for_la(f: Files) -> list[str]:
    la = [r for r in f.data if r["geographic_level"] == "Local authority"]
    if la and not {"region_code", "region_name"} <= set(f.data_fields):
        return ["no region columns"]
    return [r["old_la_code"] for r in la if not (r["region_code"] and r["region_name"])]


@check
def check_geog_overcompleted_cols(f: Files) -> list[str]:
    out = set()
    for level, code, name, second in GEOGRAPHY:
        if level not in COMPATIBLE:
            continue
        for c in (code, name, second):
            if (
                c
                and c in f.data_fields
                and any(r[c] for r in f.data if r["geographic_level"] not in COMPATIBLE[level])
            ):
                out.add(c)
    return sorted(out)


def _is_figure(value: str) -> bool:
    return re.fullmatch(r"-?\d+(\.\d+)?", value) is not None


@check
def check_ind_invalid_entry(f: Files) -> list[str]:
    return [f"{c} row {n}: {r.get(c, '')!r}" for c in f.indicators()
            for n, r in enumerate(f.data, 2) if r.get(c, "") in ["", *LEGACY_GSS_SYMBOLS]]  # fmt: skip


@check
def check_ind_gss_symbols(f: Files) -> list[str]:
    # the analysts' guide, "Data symbols": a figure, or a GSS symbol, in every indicator cell
    return [f"{c} row {n}: {r.get(c, '')!r}" for c in f.indicators()
            for n, r in enumerate(f.data, 2)
            if not _is_figure(r.get(c, "")) and r.get(c, "") not in GSS_SYMBOLS]  # fmt: skip


@check
def check_api_char_col_label(f: Files) -> list[str]:
    return [m["label"] for m in f.meta if len(m["label"]) > API_LIMITS["column-label"]]


@check
def check_api_char_loc_code(f: Files) -> list[str]:
    codes = [c for g in GEOGRAPHY for c in (g[1], g[3]) if c and c in f.data_fields]
    return sorted({v for c in codes for v in f.column(c) if len(v) > API_LIMITS["location-code"]})


@check
def check_api_char_filter_items(f: Files) -> list[str]:
    names = [g[2] for g in GEOGRAPHY if g[2] in f.data_fields] + f.filters() + f.filter_groups()
    return sorted({v for c in names for v in f.column(c) if len(v) > API_LIMITS["column-item"]})


def problems(f: Files) -> dict[str, list[str]]:
    """{check: its problems} of every check that finds any."""
    return {name: found for name, fn in CHECKS.items() if (found := fn(f))}


def zip_problems(data: bytes) -> list[str]:
    """eesyscreener's check_zip_* of a zip upload: readable, flat, dataset_names.csv of the
    right form, every pair it names present, nothing else."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return ["check_zip_readable: not a zip"]
    names = z.namelist()
    out = [f"check_zip_flat_structure: {n}" for n in names if "/" in n]
    if "dataset_names.csv" not in names:
        pairs = [n for n in names if n.endswith(".csv") and not n.endswith(".meta.csv")]
        stems = [_stem(n) for n in pairs]
        if len(stems) != 1:
            return [*out, "check_zip_names_file_presence: several pairs and no dataset_names.csv"]
    else:
        manifest = list(csv.DictReader(io.StringIO(z.read("dataset_names.csv").decode("utf-8"))))
        fields = list(manifest[0]) if manifest else []
        if fields != ["file_name", "dataset_name"] or not all(
            m["file_name"] and m["dataset_name"] for m in manifest
        ):
            out.append(f"check_zip_names_file_format: {fields}")
        stems = [m.get("file_name", "") for m in manifest]
        if len(set(stems)) != len(stems):
            out.append("check_zip_names_file_format: a file_name twice")
    allowed = {"dataset_names.csv"} | {f"{s}{x}" for s in stems for x in (".csv", ".meta.csv")}
    out += [f"check_zip_pairs: {n} missing" for n in sorted(allowed - set(names))
            if n != "dataset_names.csv"]  # fmt: skip
    out += [f"check_zip_no_unreferenced: {n}" for n in names if n not in allowed]
    return out


# -- reading the downloads --------------------------------------------------------------------


def _name(response) -> str:
    return re.search(r'filename="([^"]+)"', response["Content-Disposition"]).group(1)


def _table(text: str) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def download(client, collection_code: str) -> tuple[Files, bytes]:
    """The data file, metadata file and zip of a collection's open data as `client` gets them;
    the zip's two files must be the same as the two downloads."""
    got = {}
    for name in ("report-open-data", "report-open-data-meta", "report-open-data-zip"):
        response = client.get(reverse(name, kwargs={"collection": collection_code}))
        assert response.status_code == 200, (name, response.status_code)
        got[name] = response
    data, meta = got["report-open-data"], got["report-open-data-meta"]
    assert data["Content-Type"].startswith("text/csv") and meta["Content-Type"].startswith(
        "text/csv"
    )
    packed = zipfile.ZipFile(io.BytesIO(got["report-open-data-zip"].content))
    assert packed.read(_name(data)) == data.content and packed.read(_name(meta)) == meta.content
    data_fields, data_rows = _table(data.content.decode("utf-8"))
    meta_fields, meta_rows = _table(meta.content.decode("utf-8"))
    files = Files(_name(data), _name(meta), data_fields, data_rows, meta_fields, meta_rows)
    return files, got["report-open-data-zip"].content


def assert_meets_the_standards(files: Files, zipped: bytes) -> None:
    assert problems(files) == {}
    assert zip_problems(zipped) == []


pytestmark = pytest.mark.django_db


# -- every collection, every viewer -----------------------------------------------------------


def test_ks1_open_data_meets_the_standards(imported, members, signed_in):
    files, zipped = download(signed_in(members["national"]), "ks1-2023")
    assert_meets_the_standards(files, zipped)
    assert (files.data_name, files.meta_name) == (
        "ks1-provisional-open-data.csv", "ks1-provisional-open-data.meta.csv")  # fmt: skip
    assert files.data_fields == OPEN_DATA_HEAD + [m["col_name"] for m in files.meta]
    by_level = Counter(r["geographic_level"] for r in files.data)
    assert by_level == {"National": 1, "Regional": 2, "Local authority": 2}
    la = {r["old_la_code"]: r for r in files.data if r["old_la_code"]}
    # DfE's las.csv: 938 West Sussex E10000032 (South East), 202 Camden E09000007 (London)
    assert [(la[c]["new_la_code"], la[c]["la_name"], la[c]["region_code"], la[c]["region_name"])
            for c in ("938", "202")] == [
        ("E10000032", "West Sussex", "E12000008", "South East"),
        ("E09000007", "Camden", "E12000007", "London"),
    ]  # fmt: skip
    assert {r["time_period"] for r in files.data} == {"202223"}
    # Every count is a number of pupils, shown whole.
    reading = next(m for m in files.meta if m["col_name"] == "t_readta_met_expected_standard")
    assert (reading["col_type"], reading["label"], reading["indicator_unit"],
            reading["indicator_dp"]) == ("Indicator", "English reading: met expected standard",
                                         "", "0")  # fmt: skip
    assert (la["938"]["t_readta_eligible_pupils"], la["938"]["t_readta_met_expected_standard"]) == (
        "5", "3")  # fmt: skip


def test_ks1_suppressed_figures_are_c_and_pass(imported, members, signed_in):
    # LA 938's admin: England and the regions have pupils of another LA too few to show.
    files, zipped = download(signed_in(members["admin938"]), "ks1-2023")
    assert_meets_the_standards(files, zipped)
    england = next(r for r in files.data if r["geographic_level"] == "National")
    assert {england[c] for c in files.indicators()} == {"c"}
    assert [r["old_la_code"] for r in files.data if r["old_la_code"]] == ["938"]


def test_phonics_open_data_meets_the_standards(cohort, members, signed_in, monkeypatch):
    on(monkeypatch, dt.date(2024, 7, 1))
    for who in ("national", "admin938"):
        for code in ("phonics-2023", "phonics-2024"):
            files, zipped = download(signed_in(members[who]), code)
            assert_meets_the_standards(files, zipped)
            assert files.data_name == "phonics-provisional-open-data.csv"
    files, _ = download(signed_in(members["national"]), "phonics-2024")
    la = next(r for r in files.data if r["old_la_code"] == "938")
    assert (la["new_la_code"], la["pt_phonics_by_end_y2_met_expected_standard"]) == (
        "E10000032", "80")  # fmt: skip
    percent = next(m for m in files.meta if m["col_name"] == "pt_phonics_y1_met_expected_standard")
    assert (percent["indicator_unit"], percent["indicator_dp"], percent["indicator_grouping"]) == (
        "%", "0", "Year 1")  # fmt: skip
    # Phonics 2023's "by the end of Year 2" needs the 2023 rule's KS1 cohort per pupil: not
    # available, "x", in every row.
    files, _ = download(signed_in(members["national"]), "phonics-2023")
    assert {r["t_phonics_by_end_y2_eligible_pupils"] for r in files.data} == {"x"}


@pytest.fixture
def year1_only(loaded, tmp_path):
    """Phonics 2024: two Year 1 pupils of school 9382001 (one meets the standard), no Year 2."""
    path = write_ctf(tmp_path / "9382001_CTF_938LLLL_001.xml",
                     [_2024(1, "36", "1"), _2024(2, "10", "1")])  # fmt: skip
    [r] = import_paths([str(path)], collection_code="phonics-2024", jobs=1)
    assert r.outcome == "accepted", r.reason
    rebuild_facts(get_collection("phonics-2024"))


def test_phonics_percentages_of_no_pupils_are_z_and_unknown_figures_x(
    year1_only, members, signed_in, monkeypatch
):
    client = signed_in(members["national"])
    on(monkeypatch, dt.date(2024, 7, 1))
    files, zipped = download(client, "phonics-2024")
    assert_meets_the_standards(files, zipped)
    la = next(r for r in files.data if r["old_la_code"] == "938")
    assert (la["t_phonics_y1_eligible_pupils"], la["pt_phonics_y1_met_expected_standard"]) == (
        "2", "50")  # fmt: skip
    # No Year 2 pupils: 0 of them, and their percentages not applicable.
    assert la["t_phonics_y2_eligible_pupils"] == "0"
    assert {la[c] for c in files.indicators() if c.startswith("pt_phonics_y2_")} == {"z"}
    # Before the threshold is published (24 June 2024) the met counts are not available yet.
    on(monkeypatch, dt.date(2024, 6, 20))
    files, zipped = download(client, "phonics-2024")
    assert_meets_the_standards(files, zipped)
    la = next(r for r in files.data if r["old_la_code"] == "938")
    assert (la["t_phonics_y1_eligible_pupils"], la["t_phonics_y1_met_expected_standard"]) == (
        "2", "x")  # fmt: skip


@pytest.mark.parametrize("code", definitions.available())
def test_every_collection_offered_has_a_metadata_file_that_meets_the_standards(
    code, members, signed_in, settings
):
    # Every shipped definition, offered in the web or not yet (EYFSP while its pages are built).
    if code not in settings.KEYSTAGE_COLLECTIONS:
        settings.KEYSTAGE_COLLECTIONS = [*settings.KEYSTAGE_COLLECTIONS, code]
    # No figures loaded: the data file is its header, and the metadata names every column.
    files, zipped = download(signed_in(members["national"]), code)
    assert_meets_the_standards(files, zipped)
    assert files.data == [] and len(files.meta) >= 10
    assert files.data_fields == OPEN_DATA_HEAD + [m["col_name"] for m in files.meta]
    assert {m["col_type"] for m in files.meta} == {"Indicator"}
    assert {m["indicator_unit"] for m in files.meta} <= {"", "%"}
    manifest = zipfile.ZipFile(io.BytesIO(zipped)).read("dataset_names.csv").decode()
    year = definitions.load(code).year
    assert f"{files.data_name[:-4]}," in manifest and f" {year} provisional figures" in manifest


def test_the_reports_page_links_the_three_files(imported, members, signed_in):
    body = signed_in(members["admin938"]).get(reverse("reports")).content.decode()
    for name in ("report-open-data", "report-open-data-meta", "report-open-data-zip"):
        assert f'href="{reverse(name)}"' in body, name


# -- the ONS codes shipped ----------------------------------------------------------------------


def test_the_ons_codes_shipped():
    codes = reference.ons_la_codes()
    las = {la.code: la for la in reference.local_authorities()}
    regions = {ons: name for name, (ons, _) in reference.REGION_CODES.items()}
    assert {(ons, name) for ons, name in regions.items()} < REGIONS
    for c in codes:
        assert re.fullmatch(r"E(06|08|09|10)\d{6}", c.new_la_code), c
        assert (c.la_name, regions[c.region_code]) == (las[c.la_code].name, las[c.la_code].region)
    # Every LA has exactly one code on each day from April 2023 to the end of 2024/25, and no
    # two LAs share one.
    for day in (dt.date(2023, 4, 1), dt.date(2023, 8, 31), dt.date(2025, 4, 30),
                dt.date(2025, 5, 1), dt.date(2025, 8, 31)):  # fmt: skip
        on_day = [c for c in codes if c.start <= day and (c.to is None or day <= c.to)]
        assert sorted(c.la_code for c in on_day) == sorted(las), day
        assert len({c.new_la_code for c in on_day}) == len(las), day
    # Rows of DfE's las.csv (dfe-published-data-qa): North Yorkshire and Somerset became
    # unitary in April 2023; Barnsley's and Sheffield's codes changed on 1 May 2025.
    code_on = reference.new_la_code
    assert code_on("938", dt.date(2023, 8, 31)) == "E10000032"
    assert code_on("815", dt.date(2023, 8, 31)) == "E06000065"
    assert code_on("933", dt.date(2023, 8, 31)) == "E06000066"
    assert code_on("370", dt.date(2024, 8, 31)) == "E08000016"
    assert code_on("370", dt.date(2025, 8, 31)) == "E08000038"
    assert code_on("373", dt.date(2025, 8, 31)) == "E08000039"
    assert code_on("999", dt.date(2025, 8, 31)) is None
    assert reference.ENGLAND in COUNTRIES


# -- every check fails on its flaw --------------------------------------------------------------


def _good() -> Files:
    """A small pair of files that meets every check: England, the South East and LA 938."""
    head = ["time_period", "time_identifier", "geographic_level", "country_code", "country_name",
            "region_code", "region_name", "new_la_code", "old_la_code", "la_name", "version",
            "t_x_eligible_pupils", "pt_x_met_expected_standard"]  # fmt: skip
    base = {"time_period": "202324", "time_identifier": "Academic year",
            "country_code": "E92000001", "country_name": "England", "version": "Provisional"}  # fmt: skip
    empty = dict.fromkeys(
        ["region_code", "region_name", "new_la_code", "old_la_code", "la_name"], ""
    )
    se = {"region_code": "E12000008", "region_name": "South East"}
    rows = [
        base | empty | {"geographic_level": "National", "t_x_eligible_pupils": "10",
                        "pt_x_met_expected_standard": "60"},
        base | empty | se | {"geographic_level": "Regional", "t_x_eligible_pupils": "7",
                             "pt_x_met_expected_standard": "c"},
        base | empty | se | {"geographic_level": "Local authority", "new_la_code": "E10000032",
                             "old_la_code": "938", "la_name": "West Sussex",
                             "t_x_eligible_pupils": "0", "pt_x_met_expected_standard": "z"},
    ]  # fmt: skip
    blank = dict.fromkeys(REQ_META_COLS, "")
    meta = [
        blank | {"col_name": "t_x_eligible_pupils", "col_type": "Indicator",
                 "label": "X: eligible pupils", "indicator_dp": "0"},
        blank | {"col_name": "pt_x_met_expected_standard", "col_type": "Indicator",
                 "label": "X: met, %", "indicator_unit": "%", "indicator_dp": "0"},
    ]  # fmt: skip
    return Files("x-open-data.csv", "x-open-data.meta.csv", head, rows, list(REQ_META_COLS), meta)


def _rename(f: Files, old: str, new: str) -> None:
    f.data_fields = [new if c == old else c for c in f.data_fields]
    f.data = [{(new if k == old else k): v for k, v in r.items()} for r in f.data]
    for m in f.meta:
        m["col_name"] = new if m["col_name"] == old else m["col_name"]


def _drop(f: Files, column: str) -> None:
    f.data_fields.remove(column)
    for r in f.data:
        del r[column]


def _add(f: Files, column: str, values: list[str], meta: dict | None = None) -> None:
    f.data_fields.append(column)
    for r, v in zip(f.data, values, strict=True):
        r[column] = v
    if meta is not None:
        f.meta.append(dict.fromkeys(REQ_META_COLS, "") | {"col_name": column} | meta)


def _filter(**kw) -> dict:
    return {"col_type": "Filter", "label": "A filter"} | kw


def _set(f: Files, row: int, **values) -> None:
    f.data[row].update(values)


FLAWS: dict[str, Callable[[Files], None]] = {
    "check_filename_spaces": lambda f: (
        setattr(f, "data_name", "x open.csv") or setattr(f, "meta_name", "x open.meta.csv")
    ),
    "check_filename_special": lambda f: (
        setattr(f, "data_name", "x+open.csv") or setattr(f, "meta_name", "x+open.meta.csv")
    ),
    "check_filename_lower_case": lambda f: (
        setattr(f, "data_name", "X-open.csv") or setattr(f, "meta_name", "X-open.meta.csv")
    ),
    "check_filenames_match": lambda f: setattr(f, "meta_name", "other.meta.csv"),
    "precheck_col_req_meta": lambda f: f.meta_fields.remove("filter_hint"),
    "precheck_col_invalid_meta": lambda f: f.meta_fields.append("notes"),
    "precheck_col_req_data": lambda f: _drop(f, "country_code"),
    "precheck_col_to_rows": lambda f: f.meta.extend(
        dict.fromkeys(REQ_META_COLS, "")
        | {"col_name": f"t_{n}", "col_type": "Indicator", "label": f"L{n}", "indicator_dp": "0"}
        for n in range(12)
    ),  # fmt: skip
    "precheck_cross_meta_to_data": lambda f: f.meta.append(
        dict.fromkeys(REQ_META_COLS, "")
        | {"col_name": "t_gone", "col_type": "Indicator", "label": "Gone", "indicator_dp": "0"}
    ),  # fmt: skip
    "precheck_cross_data_to_meta": lambda f: _add(f, "t_extra", ["1", "2", "3"]),
    "check_col_names_spaces": lambda f: _rename(f, "t_x_eligible_pupils", "t x eligible"),
    "check_col_snake_case": lambda f: _rename(f, "t_x_eligible_pupils", "t_X_eligible"),
    "check_col_var_start": lambda f: _rename(f, "t_x_eligible_pupils", "1_eligible"),
    "check_col_ind_smushed": lambda f: _rename(f, "t_x_eligible_pupils", "t_female_pupils"),
    "check_col_var_characteristic": lambda f: _add(
        f, "characteristic", ["Total", "Total", "Boys"], _filter()
    ),
    "precheck_meta_col_type": lambda f: f.meta[0].update(col_type="Measure"),
    "precheck_meta_ob_unit": lambda f: f.meta.append(
        dict.fromkeys(REQ_META_COLS, "") | _filter(col_name="la_name", label="LA")
    ),
    "precheck_meta_col_name": lambda f: f.meta[0].update(col_name=" "),
    "check_meta_dupe_label": lambda f: f.meta[1].update(label=f.meta[0]["label"]),
    "check_meta_label": lambda f: f.meta[0].update(label=""),
    "check_meta_col_name_dupe": lambda f: f.meta.append(f.meta[0] | {"label": "Again"}),
    "check_meta_col_name_spaces": lambda f: _rename(f, "t_x_eligible_pupils", "t_x eligible"),
    "check_meta_indicator_dp": lambda f: _add(
        f, "sex", ["Total", "Boys", "Girls"], _filter(indicator_dp="0")
    ),
    "check_meta_ind_unit": lambda f: _add(
        f, "sex", ["Total", "Boys", "Girls"], _filter(indicator_unit="%")
    ),
    "check_meta_indicator_grouping": lambda f: _add(
        f, "sex", ["Total", "Boys", "Girls"], _filter(indicator_grouping="Pupils")
    ),
    "check_meta_ind_dp_set": lambda f: f.meta[0].update(indicator_dp=""),
    "check_meta_ind_dp_values": lambda f: f.meta[1].update(indicator_dp="0.5"),
    "check_meta_ind_unit_validation": lambda f: f.meta[1].update(indicator_unit="percent"),
    "check_meta_geog_catch": lambda f: _add(f, "region", ["Total", "North", "South"], _filter()),
    "check_general_null": lambda f: _set(f, 0, t_x_eligible_pupils="NA"),
    "precheck_filter_not_singular": lambda f: _add(f, "sex", ["Total"] * 3, _filter()),
    "check_filter_defaults": lambda f: _add(f, "sex", ["Boys", "Girls", "Boys"], _filter()),
    "precheck_time_period_num": lambda f: _set(f, 0, time_period="2023/24"),
    "precheck_time_id_valid": lambda f: _set(f, 0, time_identifier="School year"),
    "precheck_time_id_mix": lambda f: _set(f, 0, time_identifier="Calendar year"),
    "check_time_period": lambda f: [_set(f, n, time_period="2024") for n in range(3)],
    "check_time_period_six": lambda f: [_set(f, n, time_period="202325") for n in range(3)],
    "precheck_geog_level": lambda f: _set(f, 0, geographic_level="County"),
    "precheck_geog_level_present": lambda f: _set(f, 0, geographic_level=""),
    "check_general_dupes": lambda f: f.data.append(dict(f.data[2])),
    "check_geog_country_combos": lambda f: _set(f, 0, country_code="E92000002"),
    "check_geog_region_combos": lambda f: _set(f, 1, region_name="South-East"),
    "check_geog_la_combos": lambda f: _set(f, 2, new_la_code="E10000031"),
    "check_geog_level_completed": lambda f: _set(f, 2, la_name=""),
    "check_geog_la_col_present": lambda f: _drop(f, "new_la_code"),
    "check_geog_region_col_present": lambda f: _drop(f, "region_name"),
    "check_geog_region_for_la": lambda f: _set(f, 2, region_code="", region_name=""),
    "check_geog_overcompleted_cols": lambda f: _set(
        f, 0, region_code="E12000008", region_name="South East"
    ),
    "check_ind_invalid_entry": lambda f: _set(f, 1, pt_x_met_expected_standard=""),
    "check_ind_gss_symbols": lambda f: _set(f, 1, pt_x_met_expected_standard="supp"),
    "check_api_char_col_label": lambda f: f.meta[0].update(label="L" * 101),
    "check_api_char_loc_code": lambda f: _set(f, 2, old_la_code="9" * 31),
    "check_api_char_filter_items": lambda f: _set(f, 2, la_name="W" * 121),
}


def test_the_small_pair_meets_every_check():
    assert problems(_good()) == {}


def test_every_check_has_a_flaw_to_fail_on():
    assert sorted(FLAWS) == sorted(CHECKS)


@pytest.mark.parametrize("name", sorted(FLAWS))
def test_each_check_fails_on_the_flaw_it_is_for(name):
    files = copy.deepcopy(_good())
    FLAWS[name](files)
    assert CHECKS[name](files), f"{name} found nothing wrong"


def _zip(entries: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, text in entries.items():
            z.writestr(name, text)
    return out.getvalue()


PAIR = {"a.csv": "x\n", "a.meta.csv": "y\n", "dataset_names.csv": "file_name,dataset_name\na,A\n"}


@pytest.mark.parametrize(
    ("entries", "found"),
    [
        (PAIR, None),
        ({"a.csv": "x\n", "a.meta.csv": "y\n"}, None),  # one pair needs no dataset_names.csv
        (PAIR | {"notes.txt": "hi"}, "check_zip_no_unreferenced"),
        ({k: v for k, v in PAIR.items() if k != "a.meta.csv"}, "check_zip_pairs"),
        (PAIR | {"dataset_names.csv": "file,name\na,A\n"}, "check_zip_names_file_format"),
        ({"d/a.csv": "x\n", "d/a.meta.csv": "y\n"}, "check_zip_flat_structure"),
        (PAIR | {"b.csv": "x\n", "b.meta.csv": "y\n"}, "check_zip_no_unreferenced"),
    ],
)
def test_the_zip_checks(entries, found):
    out = zip_problems(_zip(entries))
    assert (out == []) if found is None else any(p.startswith(found) for p in out), out
    assert zip_problems(b"not a zip") == ["check_zip_readable: not a zip"]
