"""What KS1's reports show that is KS1's own: the columns of DfE's published series, the name
of its combined measure and the headings of its measures, which name its codes."""

from __future__ import annotations

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
