"""Links that keep a list page's filters, and `govukPagination` parameters for a Django page:
shared by every paginated, filterable list (Data Errors, the pupil grid)."""

from __future__ import annotations

from urllib.parse import urlencode


def link(params: dict, **changes) -> str:
    """This page's address with `changes` made to its query (empty values dropped)."""
    merged = {**params, **changes}
    return "?" + urlencode({k: v for k, v in merged.items() if v not in ("", None)})


def pagination(page, params: dict, *, anchor: str = "") -> dict | None:
    """`govukPagination` parameters for a Django page, keeping the page's other filters;
    `anchor`: the id on the page each link goes to (the list, not the top of the page)."""
    if page.paginator.num_pages <= 1:
        return None
    current, last = page.number, page.paginator.num_pages
    fragment = f"#{anchor}" if anchor else ""

    def href(n: int) -> str:
        return link(params, page=n) + fragment

    items, previous = [], 0
    for n in range(1, last + 1):
        if n in (1, last) or abs(n - current) <= 2:
            if previous and n - previous > 1:
                items.append({"ellipsis": True})
            items.append({"number": n, "href": href(n), "current": n == current})
            previous = n
    return {
        "previous": {"href": href(current - 1)} if page.has_previous() else None,
        "next": {"href": href(current + 1)} if page.has_next() else None,
        "items": items,
    }
