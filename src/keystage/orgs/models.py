"""Regions, local authorities and schools."""

from __future__ import annotations

from django.db import models


class Region(models.Model):
    name = models.CharField(max_length=60, unique=True)
    ons_code = models.CharField(max_length=9, unique=True)
    dfe_code = models.CharField(max_length=3, unique=True)  # 980-990 in DfE statistics

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class LocalAuthority(models.Model):
    code = models.CharField(max_length=3, unique=True)  # DfE LA number, e.g. "938"
    name = models.CharField(max_length=100)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="local_authorities")

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "local authorities"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class School(models.Model):
    """An establishment from the schools register (a GIAS extract). URN is the key: a school
    keeps its URN for life, while LA and establishment numbers can be re-used."""

    urn = models.CharField(max_length=6, unique=True)
    la = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="schools")
    estab = models.CharField(max_length=4)
    laestab = models.CharField(max_length=7, db_index=True)
    name = models.CharField(max_length=200)
    type_name = models.CharField(max_length=100, blank=True)
    phase_name = models.CharField(max_length=60, blank=True)
    status_name = models.CharField(max_length=60, blank=True)
    open_date = models.DateField(null=True, blank=True)
    close_date = models.DateField(null=True, blank=True)
    low_age = models.PositiveSmallIntegerField(null=True, blank=True)
    high_age = models.PositiveSmallIntegerField(null=True, blank=True)
    expected_ks1 = models.BooleanField(default=False, help_text="Expected to submit KS1 data")

    class Meta:
        ordering = ["laestab"]

    def __str__(self) -> str:
        return f"{self.laestab} {self.name}"
