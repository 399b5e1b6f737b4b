"""Fact tables: the measures' counts per collection, area and pupil group, pre-aggregated so
reports read a handful of rows instead of every pupil (see `facts.rebuild_facts`)."""

from __future__ import annotations

from django.db import models

from keystage.orgs.models import LocalAuthority, School
from keystage.submissions.models import Collection

NATIONAL_CODE = "970"  # England in DfE statistics


class Fact(models.Model):
    """The `measures.Counts` of one pupil group in one area. School rows are counted from
    current pupil records; LA, region and national rows are sums of school rows, so every
    figure is pupil-weighted by construction."""

    class Level(models.TextChoices):
        SCHOOL = "school", "School"
        LA = "la", "Local authority"
        REGION = "region", "Region"
        NATIONAL = "national", "England"

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="+")
    level = models.CharField(max_length=8, choices=Level.choices)
    # laestab, LA code, the region's DfE code (980-990) or "970" for England
    area_code = models.CharField(max_length=7)
    la = models.ForeignKey(
        LocalAuthority, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    school = models.ForeignKey(
        School, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # "all", "sex:M", "term:autumn", "fsm:Y", "sen:K", "eal:OTH"...
    group = models.CharField(max_length=40)
    pupils = models.PositiveIntegerField()
    counts = models.JSONField()  # measures.Counts as a dict (see facts.counts_to_json)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["collection", "level", "area_code", "group"], name="one_fact_per_group"
            ),
        ]
        # The facts' stamp (reports.queries.facts_stamp): the latest rebuild, read per page.
        indexes = [models.Index(fields=["collection", "updated_at"], name="fact_updated")]

    def __str__(self) -> str:
        return f"{self.level} {self.area_code} {self.group}: {self.pupils} pupils"


class ReportPack(models.Model):
    """A PDF of an LA's reports (its summary, gap analysis and every school's summary), made by
    a background task (`tasks.make_pack_task`); its page refreshes until the PDF is ready."""

    class State(models.TextChoices):
        QUEUED = "queued", "Waiting to start"
        RUNNING = "running", "Being made"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="+")
    la = models.ForeignKey(LocalAuthority, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        "auth.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    requested_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    pdf = models.BinaryField(null=True, blank=True)
    message = models.TextField(blank=True)
    # Its progress, shown on its page while it is made: schools whose page is ready, of all.
    schools_done = models.PositiveIntegerField(default=0)
    schools_total = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"report pack {self.pk} of LA {self.la_id}: {self.state}"


class FactsDue(models.Model):
    """A school whose facts must be counted again: written in the same transaction as the
    pupil data that changed (an outbox), so that no stored file's recount is ever lost, and
    removed by the rebuild that counted it (`due.clear_due`). The worker queues a rebuild
    for rows nobody queued one for (`keystage.worker.recovery`)."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="+")
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="+")
    due_at = models.DateTimeField()
    # A new token at every change: a rebuild removes only the rows it read, unchanged since.
    token = models.CharField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["collection", "school"], name="factsdue_once")
        ]

    def __str__(self) -> str:
        return f"facts due for school {self.school_id} since {self.due_at}"
