"""The school check loop: the LA releases checking reports to a school, the school confirms its
data (the headteacher's confirmation) or sends a query about some pupils, and the LA answers in
one message thread per school."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from keystage.orgs.models import LocalAuthority, School
from keystage.submissions.models import Collection


class Release(models.Model):
    """The LA let a school see its checking reports. A later release to the same school
    supersedes this one (kept, `is_current` false); a confirmation is for one release."""

    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="+")
    la = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="+")
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    released_at = models.DateTimeField()
    note = models.TextField(blank=True)  # what the LA tells the school with the release
    is_current = models.BooleanField(default=True)
    # Reminders the LA sent while the school had not confirmed (or its data changed since).
    reminded_at = models.DateTimeField(null=True, blank=True)
    reminders = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-released_at", "-id"]
        indexes = [models.Index(fields=["school", "is_current"])]
        constraints = [
            models.UniqueConstraint(
                fields=["collection", "school"],
                condition=Q(is_current=True),
                name="one_current_release_per_school",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.school} released {self.released_at:%Y-%m-%d %H:%M}"


class Confirmation(models.Model):
    """A school user confirmed that the released data is correct: the name and job title they
    typed (the headteacher's confirmation), and when."""

    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="+")
    la = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="+")
    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="confirmations")
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=200)
    job_title = models.CharField(max_length=200)
    confirmed_at = models.DateTimeField()

    class Meta:
        ordering = ["-confirmed_at", "-id"]
        indexes = [models.Index(fields=["school", "confirmed_at"])]

    def __str__(self) -> str:
        return f"{self.school} confirmed by {self.name} ({self.job_title})"


class Message(models.Model):
    """One message of a school's query thread with its LA. The thread is open while its latest
    message is from the school, answered once the LA has replied."""

    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="+")
    la = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_name = models.CharField(max_length=150)  # kept if the account goes
    from_school = models.BooleanField()
    body = models.TextField()
    upns = models.JSONField(default=list, blank=True)  # pupils the message is about
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["sent_at", "id"]
        indexes = [models.Index(fields=["school", "sent_at"])]

    def __str__(self) -> str:
        who = "school" if self.from_school else "LA"
        return f"{self.school} ({who}) {self.sent_at:%Y-%m-%d %H:%M}"
