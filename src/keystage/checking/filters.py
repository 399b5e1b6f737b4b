"""Which schools the schools' checks page lists: a filter by check state ("clean and not yet
released", "query from school"...) and a search on the school's name or LAESTAB. The same filter
chooses the schools that "release to every school matching the filter" releases to."""

from __future__ import annotations

from dataclasses import dataclass

from keystage.checking.queries import CheckState

MAX_SEARCH = 100


@dataclass(frozen=True)
class CheckFilter:
    value: str
    label: str  # in the filter's list
    describes: str  # "schools that ..." in sentences on the page

    def matches(self, row) -> bool:
        return MATCHES[self.value](row)


def _clean(row) -> bool:
    from keystage.collection.queries import SchoolState

    return row.state == SchoolState.CLEAN


MATCHES = {
    "": lambda row: True,
    "clean_not_released": lambda row: (
        row.pupils > 0 and _clean(row) and row.check.state == CheckState.NOT_RELEASED
    ),
    "not_released": lambda row: row.pupils > 0 and row.check.state == CheckState.NOT_RELEASED,
    "released": lambda row: row.check.state == CheckState.RELEASED,
    "query": lambda row: row.check.state == CheckState.QUERY,
    "confirmed": lambda row: row.check.state == CheckState.CONFIRMED,
    "changed": lambda row: row.check.state == CheckState.CHANGED,
    "no_data": lambda row: row.pupils == 0,
}

FILTERS = [
    CheckFilter("", "All schools", "all schools"),
    CheckFilter(
        "clean_not_released",
        "Clean and not yet released",
        "clean schools whose reports are not yet released",
    ),
    CheckFilter(
        "not_released", "Data received, not yet released", "schools with data not yet released"
    ),
    CheckFilter("released", "Released, not confirmed", "released schools that have not confirmed"),
    CheckFilter("query", "Query from school", "schools with a query"),
    CheckFilter("confirmed", "Checked by school", "schools that checked their data"),
    CheckFilter(
        "changed", "Checked, data changed since", "schools whose data changed after checking"
    ),
    CheckFilter("no_data", "No data yet", "schools with no data yet"),
]
BY_VALUE = {f.value: f for f in FILTERS}


def params(query) -> dict[str, str]:
    """The page's filters from a request's GET or POST: unknown states mean every school."""
    state = query.get("state", "")
    search = " ".join(query.get("q", "").split())[:MAX_SEARCH]
    return {"state": state if state in BY_VALUE else "", "q": search}


def apply(rows, chosen: dict[str, str]) -> list:
    """The rows (`collection.queries.SchoolRow`, with `check`) the filter and search keep."""
    check_filter = BY_VALUE[chosen["state"]]
    needle = chosen["q"].casefold()
    return [
        r
        for r in rows
        if check_filter.matches(r)
        and (not needle or needle in r.name.casefold() or needle in r.laestab)
    ]


def counts(rows) -> dict[str, int]:
    """{filter value: schools it keeps}, for the filter's list."""
    return {f.value: sum(1 for r in rows if f.matches(r)) for f in FILTERS}
