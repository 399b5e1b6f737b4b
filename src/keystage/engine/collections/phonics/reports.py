"""What the phonics reports show that is the check's own: its measures' groups as the rows of
a summary (Year 1, the Year 2 re-check, by the end of Year 2), the headings of its measure and
the columns of DfE's published series (reference/phonics_published_2015_2025.csv)."""

from __future__ import annotations

from typing import Any

from keystage.engine.collections.phonics.measures import settings
from keystage.engine.definition import Definition
from keystage.reference import published_phonics

# The published series' columns, per (group, measure): DfE publishes Year 1 only.
PUBLISHED_COLUMNS = {("y1", "met"): "y1_met"}

# The group the gap analysis opens on.
HEADLINE = "y1"

# How each measure is spoken of ("Year 1: meeting the expected standard").
MEASURE_LABELS = {"met": "meeting the expected standard"}

# The published trend's measure, after "pupils" ("% of pupils meeting the expected standard").
TREND_PHRASE = "meeting the expected standard"

# Row headings of the school summary's measures.
MEASURE_HEADINGS = {"met": "Meeting the expected standard (a mark of the threshold or above)"}

STEM, TITLE = "phonics", "Phonics"

# What a row of the reports is called (a column heading, the gap analysis' choice): Year 1,
# the Year 2 re-check, by the end of Year 2.
ROW_HEADING = "Year group"

# What one of the collection's items (the definition's [[subjects]]) is called where a pupil
# list is filtered by one ("Any result").
ITEM_WORD = "Result"


def report_subjects(definition: Definition) -> list[tuple[str, str, bool]]:
    """(key, label, has a higher standard) of every row of the reports: the measures' groups."""
    return [(g.key, g.label, False) for g in settings(definition).groups]


def shares(found: dict[str, Any]) -> dict[str, dict[str, tuple | None]]:
    """Each group's headline share of `measures(...)` as (eligible, count, percent); eligible
    is 0 for a group that could not be counted (its reason says what to load)."""
    return {
        key: {"met": (g["eligible"] or 0, g["met"], g["met_percent"]), "higher": None}
        for key, g in found["groups"].items()
    }


def published_rows() -> tuple[dict[str, str], ...]:
    """DfE's published series: one row per year and area (LA, region, England)."""
    return published_phonics()


_BUCKET_LABELS = {
    "met_expected_standard": "Met the expected standard",
    "working_towards_expected_standard": "Working towards (below the threshold)",
    "absent": "Absent (A)",
    "disapplied": "Disapplied (D)",
    "left": "Left before the check (L)",
    "maladministration": "Maladministration (Q)",
    "unknown": "No usable mark or code",
}


def bucket_label(name: str) -> str:
    """A bucket of [measures.buckets] in words ("Absent (A)"), as every page shows it."""
    return _BUCKET_LABELS.get(name, name.replace("_", " ").capitalize())


def outcome_tables(found: dict[str, Any]) -> list[dict[str, Any]]:
    """Each group's pupils in each bucket of `measures(...)`, as (label, count, percent); the
    eligible pupils are the table's total, not a row."""
    out = []
    for key, g in found["groups"].items():
        rows = [
            (bucket_label(name), b["count"], b["percent"])
            for name, b in g["buckets"].items()
            if name != "eligible_pupils" and (b["count"] is None or b["count"] or name != "unknown")
        ]
        out.append({"key": key, "eligible": g["eligible"], "codes": rows})
    return out


OUTCOME_NOTE = (
    "Percentages are of eligible pupils. Absent and disapplied pupils and pupils without a "
    "usable mark count against the percentages, as in DfE's figures; pupils who left before "
    "the check do not."
)


def notes(found: dict[str, Any]) -> list[str]:
    """Why a group's figures are not shown (the threshold not yet published, what to load),
    once per reason, first letter capitalised."""
    reasons = dict.fromkeys(g["reason"] for g in found["groups"].values() if g["reason"])
    return [r[:1].upper() + r[1:] + "." for r in reasons]


def distributions(found: dict[str, Any]) -> list[dict[str, Any]]:
    """The mark distribution of each year group: key, label, {mark: pupils} and the threshold
    (None before it is published: no line is drawn)."""
    return [
        {"key": key, "label": g["label"], "marks": g["distribution"]["marks"],
         "threshold": g["distribution"]["threshold"], "pupils": g["distribution"]["pupils"],
         # How the shared pages speak of the scale ("pupils at each mark from 0 to 40").
         "unit": "mark", "low": min(g["distribution"]["marks"], default=0),
         "high": max(g["distribution"]["marks"], default=0)}
        for key, g in found["groups"].items() if g["distribution"] is not None
    ]  # fmt: skip
