"""Year groups of a collection that takes more than one NC year (the definition's
`cohort.nc_years`): a school may send each year group in a file of its own, and such a file
replaces only that year group's pupils (docs/architecture.md, "Year-group files")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keystage.engine.definition import Definition


def nc_year_key(value: str) -> str:
    """An NC year as compared: "Y1", "Year 1", "01" and " 1" are all "1"."""
    value = value.strip().upper()
    for prefix in ("YEAR", "YR", "Y"):
        if value.startswith(prefix) and value[len(prefix) :].strip().isdigit():
            value = value[len(prefix) :].strip()
            break
    return value.lstrip("0") if value.isdigit() and value.strip("0") else value


def year_group(nc_years: Iterable[str], definition: Definition) -> str:
    """The one NC year of the collection that every pupil of a file is in (as the definition
    spells it), or "" when the file replaces all of the school's pupils: the collection takes
    one NC year only, or the file has pupils of several NC years, or one with no NC year or an
    NC year the collection does not take (the rules say what is wrong with it)."""
    if len(definition.nc_years) < 2:
        return ""
    years = {nc_year_key(y): y for y in definition.nc_years}
    seen = {nc_year_key(y) for y in nc_years}
    if len(seen) != 1:
        return ""
    (only,) = seen
    return years.get(only, "")


def year_label(nc_year: str) -> str:
    """ "Year 2", for people."""
    return f"Year {nc_year_key(nc_year)}"
