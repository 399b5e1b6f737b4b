"""One row per thing that happened. Rows are only ever added."""

from __future__ import annotations

import getpass

from django.conf import settings
from django.db import models
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

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action}"


def record(action: str, *, user=None, la=None, school=None, obj=None, **detail) -> AuditEvent:
    """Write one audit row. Call it inside the action's transaction so both land or neither.
    `la` and `school` may be model instances or primary keys."""
    if user is not None and getattr(user, "is_authenticated", False):
        actor = user.get_username()
    else:
        user = None
        try:
            actor = f"cli:{getpass.getuser()}"
        except (KeyError, OSError):
            actor = "cli"
    return AuditEvent.objects.create(
        user=user,
        actor=actor,
        action=action,
        la_id=getattr(la, "pk", la),
        school_id=getattr(school, "pk", school),
        object_type=type(obj).__name__ if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        detail=detail,
    )
