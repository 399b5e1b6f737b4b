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

    def __str__(self) -> str:
        return f"{self.level} {self.area_code} {self.group}: {self.pupils} pupils"
