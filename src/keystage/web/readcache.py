"""What the busiest pages compute from an LA's data, computed once per change of that data.

`remember(name, user, la, collection, compute)` returns `compute()`, kept in this process's
"pages" cache under a key made of the name, the collection, the LA, what the user may see
(accounts.scope.scope_key) and the LA's data stamp (audit.stamps.data_stamp), which changes
with every committed change to the data. A key is never reused for other data, so nothing is
invalidated and each web process keeps its own copy.

The values are kept as they are, not copied (Django's local-memory cache pickles each value,
which for a large LA's school list cost more than computing most of it): callers must not
change what they get back. The least recently used go first beyond KEYSTAGE_PAGE_CACHE_ENTRIES
(settings.PAGE_CACHE_ENTRIES)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import connection

from keystage.accounts.scope import scope_key, scoped
from keystage.audit.stamps import data_stamp
from keystage.orgs.models import School

T = TypeVar("T")
_MISSING = object()
_kept: OrderedDict[str, object] = OrderedDict()
_lock = threading.Lock()


def remember(name: str, user, la, collection, compute: Callable[[], T], *parts) -> T:
    # The stamp is read before the data: a change committed in between makes a new stamp at
    # the next request, so a value computed from newer data than its stamp is only ever
    # replaced, never kept for later data.
    return kept((name, collection.pk, la.pk, scope_key(user), data_stamp(la.pk), *parts), compute)


def schools(user, la, collection) -> list:
    """The LA's schools the user may see, by LAESTAB (the filters of Data Errors and the grid)."""
    return remember(
        "schools", user, la, collection,
        lambda: list(scoped(user, School).filter(la=la).order_by("laestab")),
    )  # fmt: skip


def kept(parts: tuple, compute: Callable[[], T]) -> T:
    """`compute()`, kept under `parts`, which must name everything the value depends on,
    including a stamp of the data that changes with it (the callers above and
    reports.queries.figures). The database is part of every key: two databases (a test's, a
    restored one) can hold the same stamps."""
    where = (connection.alias, connection.settings_dict.get("NAME"))
    key = hashlib.sha256("|".join(map(str, (*where, *parts))).encode()).hexdigest()
    with _lock:
        value = _kept.get(key, _MISSING)
        if value is not _MISSING:
            _kept.move_to_end(key)
            return value
    value = compute()
    with _lock:
        _kept[key] = value
        while len(_kept) > settings.PAGE_CACHE_ENTRIES:
            _kept.popitem(last=False)
    return value


def forget_all() -> None:
    """Empty this process's cache (the tests do, between tests, whose rolled-back ids recur)."""
    with _lock:
        _kept.clear()
