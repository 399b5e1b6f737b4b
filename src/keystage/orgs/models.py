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

    class Meta:
        ordering = ["laestab"]

    def __str__(self) -> str:
        return f"{self.laestab} {self.name}"


class ExpectedSchool(models.Model):
    """A school its LA should expect a file from in a collection: worked out from the register
    with each shipped definition (`engine.register.expected_for`) when the register is loaded
    (`orgs.actions.do_load_register`). `collection` is the definition's id, as
    `submissions.Collection.code` ("phonics-2024"); a collection row need not exist yet."""

    # The unique constraint's index (school, collection) serves lookups by school too.
    school = models.ForeignKey(
        School, on_delete=models.CASCADE, related_name="expected_in", db_index=False
    )
    collection = models.CharField(max_length=40, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["school", "collection"], name="orgs_expectedschool_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.school} expected in {self.collection}"
