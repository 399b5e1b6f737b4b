"""The recounts of report facts that stored data needs (see `models.FactsDue`)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.utils import timezone

from keystage.reports.models import FactsDue


def mark_due(collection_id: int, school_ids: Iterable[int]) -> None:
    """Record that these schools' facts must be counted again. Call it inside the transaction
    that changes their pupils, so that the change and its recount land together."""
    now = timezone.now()
    rows = [
        FactsDue(collection_id=collection_id, school_id=s, due_at=now, token=secrets.token_hex(16))
        for s in sorted(set(school_ids))
    ]
    if rows:
        FactsDue.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["collection", "school"],
            update_fields=["due_at", "token"],
        )  # fmt: skip


def read_due(collection_id: int, school_ids: list[int] | None) -> list[tuple[int, str]]:
    """(row id, token) of the rows a rebuild of these schools (all when None) will count."""
    rows = FactsDue.objects.filter(collection_id=collection_id)
    if school_ids is not None:
        rows = rows.filter(school_id__in=school_ids)
    return list(rows.values_list("pk", "token"))


def clear_due(read: list[tuple[int, str]]) -> None:
    """Remove the rows read before a rebuild that are unchanged since: a school whose data
    changed again while it ran stays due."""
    tokens = dict(read)
    if not tokens:
        return
    stale = FactsDue.objects.filter(pk__in=list(tokens)).values_list("pk", "token")
    FactsDue.objects.filter(pk__in=[pk for pk, t in stale if tokens.get(pk) == t]).delete()
