"""What an LA sets for its own collection: the deadline it gives its schools, and how many
pupils it expects from each school (to spot a file that is missing pupils)."""

from __future__ import annotations

from django.db import models

from keystage.orgs.models import LocalAuthority, School
from keystage.submissions.models import Collection


class LaCollectionSettings(models.Model):
    la = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="+")
    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="+")
    # The LA's own deadline for its schools; None: the definition's suggested date applies.
    school_deadline = models.DateField(null=True, blank=True)

    class SchoolSees(models.TextChoices):
        """What the LA lets its schools see of this dataset's reports, each level including
        the one before."""

        NOTHING = "nothing", "Nothing yet"
        PROVISIONAL = "provisional", "Their own provisional results"
        COMPARISONS = "comparisons", "Their results with LA, regional and national comparisons"

    school_sees = models.CharField(
        max_length=12, choices=SchoolSees.choices, default=SchoolSees.NOTHING
    )

    class Meta:
        verbose_name_plural = "LA collection settings"
        constraints = [
            models.UniqueConstraint(fields=["la", "collection"], name="one_settings_per_la"),
        ]

    def __str__(self) -> str:
        return f"{self.la} {self.collection}: schools by {self.school_deadline}"


class ExpectedCohort(models.Model):
    """Pupils the LA expects in a school's file (e.g. from the census Year 2 count)."""

    la = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="+")
    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="+")
    pupils = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["school", "collection"], name="one_expected_cohort_per_school"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.school}: {self.pupils} pupils expected"
