"""What KS1's reports show that is KS1's own: the columns of DfE's published series, the name
of its combined measure and the headings of its measures, which name its codes."""

from __future__ import annotations

from typing import Any

from keystage.engine.definition import Definition
from keystage.reference import published_ks1

# The published series' columns (reference/ks1_published_2016_2023.csv), per subject and
# measure. The subjects with a published "met" column are the subjects of the trend chart.
PUBLISHED_COLUMNS = {
    ("reading", "met"): "read_exs", ("reading", "higher"): "read_gds",
    ("writing", "met"): "writ_exs", ("writing", "higher"): "writ_gds",
    ("maths", "met"): "mat_exs", ("maths", "higher"): "mat_gds", ("science", "met"): "sci_exs",
}  # fmt: skip

COMBINED_LABEL = "Reading, writing and maths combined"

# Row headings of the school summary's measures, with the codes they count.
MEASURE_HEADINGS = {"met": "Expected standard or above (EXS+)", "higher": "Greater depth (GDS)"}


def published_rows() -> tuple[dict[str, str], ...]:
    """DfE's published series: one row per year and area (LA, region, England)."""
    return published_ks1()


# The measure the gap analysis opens on: the combined one.
HEADLINE = "combined"

# How each measure is spoken of ("Reading: expected standard or above").
MEASURE_LABELS = {"met": "expected standard or above", "higher": "greater depth"}

# The published trend's measure, after "pupils" ("% of pupils at the expected standard...").
TREND_PHRASE = "at the expected standard or above"

STEM, TITLE = "ks1", "KS1"

# What a row of the reports is called (a column heading, the gap analysis' choice).
ROW_HEADING = "Subject"

# What one of the collection's items (the definition's [[subjects]]) is called where a pupil
# list is filtered by one ("Any subject").
ITEM_WORD = "Subject"


def report_subjects(definition: Definition) -> list[tuple[str, str, bool]]:
    """(key, label, has a higher standard) of every row of the reports: the subjects, then the
    combined measure."""
    rows = [(s.key, s.label, bool(s.higher)) for s in definition.subjects]
    return [*rows, (HEADLINE, COMBINED_LABEL, True)]


def shares(found: dict[str, Any]) -> dict[str, dict[str, tuple | None]]:
    """Each subject's (and the combined measure's) shares of `measures(...)`, per measure, as
    (eligible, count, percent); None for a measure the subject does not have (science has no
    greater depth)."""
    parts = [*found["subjects"].items(), (HEADLINE, found["combined"])]
    return {
        key: {
            "met": (s["eligible"], s["met"], s["met_percent"]),
            "higher": None if s["higher"] is None else (s["eligible"], s["higher"],
                                                        s["higher_percent"]),
        }
        for key, s in parts
    }  # fmt: skip


def outcome_tables(found: dict[str, Any]) -> list[dict[str, Any]]:
    """The pupils at each outcome code of every subject of `measures(...)`: per subject its
    key, eligible pupils and (code, count, percent) rows ("unknown" only when there are any)."""
    return [
        {"key": key, "eligible": s["eligible"],
         "codes": [(code, v["count"], v["percent"]) for code, v in s["codes"].items()
                   if v["count"] or code != "unknown"]}
        for key, s in found["subjects"].items()
    ]  # fmt: skip


OUTCOME_NOTE = (
    "Percentages are of eligible pupils. Absent pupils (A) and pupils without a valid outcome "
    '("unknown") count against the percentages, as in DfE\'s figures.'
)


def notes(found: dict[str, Any]) -> list[str]:
    """What the figures cannot show yet, and why: KS1 holds nothing back."""
    return []


def distributions(found: dict[str, Any]) -> list[dict[str, Any]]:
    """Mark distributions to draw: KS1 has no marks."""
    return []
