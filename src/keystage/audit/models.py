"""One row per thing that happened. Rows are only ever added."""

from __future__ import annotations

import getpass
import json

from django.conf import settings
from django.db import connection, models
from django.utils import timezone


class AuditEvent(models.Model):
    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(max_length=150, blank=True)  # user name, or "cli:<os user>"
    action = models.CharField(max_length=60, db_index=True)  # e.g. "upload.accepted"
    la = models.ForeignKey(
        "orgs.LocalAuthority", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    school = models.ForeignKey(
        "orgs.School", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        # The LA's data stamp (audit.stamps), read on the busiest pages: from the index alone.
        indexes = [models.Index(fields=["la", "action", "id"], name="audit_la_action_id")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action}"


def audit_actor(user) -> tuple[int | None, str]:
    """(user id, name shown in the log) for a signed-in user, or the OS user of the CLI."""
    if user is not None and getattr(user, "is_authenticated", False):
        return user.pk, user.get_username()
    try:
        return None, f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return None, "cli"


_COLUMNS = (
    "at",
    "user_id",
    "actor",
    "action",
    "la_id",
    "school_id",
    "object_type",
    "object_id",
    "detail",
)


def audit_row(
    at, actor: tuple[int | None, str], action: str, la, school, obj=None, **detail
) -> tuple:
    """One audit row as a tuple for `insert_events`. `at` is already adapted for the database;
    `la` and `school` are instances or keys; `obj` an instance or a (type name, key) pair."""
    if isinstance(obj, tuple):
        object_type, object_id = obj[0], str(obj[1])
    elif obj is not None:
        object_type, object_id = type(obj).__name__, str(obj.pk)
    else:
        object_type = object_id = ""
    return (at, actor[0], actor[1], action, getattr(la, "pk", la), getattr(school, "pk", school),
            object_type, object_id, json.dumps(detail, default=str))  # fmt: skip


def insert_events(rows: list[tuple]) -> None:
    """Write audit rows with one plain statement: an import writes one per file."""
    if not rows:
        return
    cols = ", ".join(f'"{c}"' for c in _COLUMNS)
    marks = ", ".join(["%s"] * len(_COLUMNS))
    with connection.cursor() as cursor:
        cursor.executemany(
            f'INSERT INTO "{AuditEvent._meta.db_table}" ({cols}) VALUES ({marks})',  # noqa: S608
            rows,
        )


def record(action: str, *, user=None, la=None, school=None, obj=None, **detail) -> None:
    """Write one audit row. Call it inside the action's transaction so both land or neither."""
    at = connection.ops.adapt_datetimefield_value(timezone.now())
    insert_events([audit_row(at, audit_actor(user), action, la, school, obj, **detail)])
