"""What the EYFS profile's reports show that is the profile's own: its report rows (a good level
of development, expected in all 17 goals, each area of learning), the headings of its measure,
the columns of DfE's published series (reference/eyfsp_published_2015_2025.csv) and the
published trend, in which the years of the older framework are shown as not comparable."""

from __future__ import annotations

from typing import Any

from keystage.engine.collections.eyfsp.measures import settings
from keystage.engine.definition import Definition
from keystage.reference import published_eyfsp

# The published series' columns, per (row, measure), as the [provisional.columns] of the
# definitions name them (a test keeps the two equal).
PUBLISHED_COLUMNS = {
    ("gld", "met"): "gld",
    ("all_goals", "met"): "all_elgs",
    ("comm", "met"): "area_comm",
    ("pse", "met"): "area_pse",
    ("phy", "met"): "area_phy",
    ("lit", "met"): "area_lit",
    ("maths", "met"): "area_maths",
    ("world", "met"): "area_world",
    ("art", "met"): "area_art",
}
# The published average number of goals at the expected level (2022 on).
PUBLISHED_AVERAGE = "avg_elgs"

# The row the gap analysis opens on.
HEADLINE = "gld"

# How each measure is spoken of ("Good level of development: at the expected level").
MEASURE_LABELS = {"met": "at the expected level"}

# The published trend's measure, after "children" ("% of children at the expected level").
TREND_PHRASE = "at the expected level"

# Row headings of the school summary's measures.
MEASURE_HEADINGS = {"met": "At the expected level (2, expected, in every goal of the measure)"}

STEM, TITLE = "eyfsp", "EYFS profile"

# What a row of the reports is called; what one of the collection's items (a goal) is called
# where a pupil list is filtered by one ("Any goal").
ROW_HEADING = "Measure"
ITEM_WORD = "Goal"

# The first year of the 2021 framework (spec eyfsp.md §4): DfE's figures before it are of the
# older framework (17 goals of other names and a different GLD), not comparable with it.
COMPARABLE_FROM = 2022

OUTCOME_NOTE = (
    "Percentages are of the children assessed in every goal. Children not assessed (A) are "
    "left out, as in DfE's figures, and so are records with a goal still to correct."
)


def report_subjects(definition: Definition) -> list[tuple[str, str, bool]]:
    """(key, label, has a higher standard) of every row of the reports: GLD, all goals, then
    each area of learning."""
    return [(r.key, r.label, False) for r in settings(definition).rows]


def shares(found: dict[str, Any]) -> dict[str, dict[str, tuple | None]]:
    """Each row's share of `measures(...)` as (eligible, count, percent)."""
    return {
        key: {"met": (r["eligible"], r["met"], r["met_percent"]), "higher": None}
        for key, r in found["rows"].items()
    }


def published_rows() -> tuple[dict[str, str], ...]:
    """DfE's published series: one row per year and area (LA, region, England)."""
    return published_eyfsp()


def published_trend(level: str, code: str) -> list[dict[str, Any]]:
    """DfE's published figures of one area (`level` "la", "region" or "national", its code),
    one row per year with a figure: year, `comparable` (False for the older framework's years,
    before COMPARABLE_FROM), each published row's percentage (`gld`, `all_goals`, `comm`...,
    None where blank) and `average_goals` (None before 2022). Years without a collection (2020,
    2021) are left out."""
    columns = {row: column for (row, _), column in PUBLISHED_COLUMNS.items()}
    out = []
    for r in published_eyfsp():
        if r["level"] != level or r["code"] != code:
            continue
        values = {row: _number(r.get(column)) for row, column in columns.items()}
        if all(v is None for v in values.values()):
            continue
        out.append({
            "year": int(r["year"]), "comparable": int(r["year"]) >= COMPARABLE_FROM, **values,
            "average_goals": _number(r.get(PUBLISHED_AVERAGE)),
        })  # fmt: skip
    return sorted(out, key=lambda row: row["year"])


def _number(text: str | None) -> float | None:
    text = (text or "").strip()
    return float(text) if text else None


def notes(found: dict[str, Any]) -> list[str]:
    """What the figures leave out, in words."""
    out = []
    n = found["not_assessed"]
    if n:
        were = "child was" if n == 1 else "children were"
        out.append(f"{n:,} {were} not assessed (A) and left out of every figure.")
    n = found["unknown"]
    if n:
        has, are = ("record has", "is") if n == 1 else ("records have", "are")
        out.append(f"{n:,} {has} a goal missing or not valid and {are} left out until corrected.")
    return out


def outcome_tables(found: dict[str, Any]) -> list[dict[str, Any]]:
    """The children at expected in each goal, as (label, count, percent), in one table whose
    total is the children assessed."""
    rows = [(g["label"], g["met"], g["met_percent"]) for g in found["goals"].values()]
    return [{"key": "goals", "eligible": found["assessed"], "codes": rows}]


def goal_tables(found: dict[str, Any], definition: Definition) -> list[dict[str, Any]]:
    """Each area of learning with its goals: (goal label, children at expected, percent)."""
    s = settings(definition)
    return [
        {"key": a.key, "label": a.label, "prime": a.prime, "eligible": found["assessed"],
         "goals": [(found["goals"][g]["label"], found["goals"][g]["met"],
                    found["goals"][g]["met_percent"]) for g in a.goals]}
        for a in s.areas
    ]  # fmt: skip


def distributions(found: dict[str, Any]) -> list[dict[str, Any]]:
    """The profile has no mark scale to draw."""
    return []
