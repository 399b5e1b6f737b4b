"""Links that keep a list page's filters, and `govukPagination` parameters for a Django page:
shared by every paginated, filterable list (Data Errors, the pupil grid)."""

from __future__ import annotations

from urllib.parse import urlencode


def link(params: dict, **changes) -> str:
    """This page's address with `changes` made to its query (empty values dropped)."""
    merged = {**params, **changes}
    return "?" + urlencode({k: v for k, v in merged.items() if v not in ("", None)})


def pagination(page, params: dict) -> dict | None:
    """`govukPagination` parameters for a Django page, keeping the page's other filters."""
    if page.paginator.num_pages <= 1:
        return None
    current, last = page.number, page.paginator.num_pages
    items, previous = [], 0
    for n in range(1, last + 1):
        if n in (1, last) or abs(n - current) <= 2:
            if previous and n - previous > 1:
                items.append({"ellipsis": True})
            items.append({"number": n, "href": link(params, page=n), "current": n == current})
            previous = n
    return {
        "previous": {"href": link(params, page=current - 1)} if page.has_previous() else None,
        "next": {"href": link(params, page=current + 1)} if page.has_next() else None,
        "items": items,
    }
