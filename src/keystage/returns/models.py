"""The statutory return (the LA's side) and the national collection (the collector's side).

`ReturnGeneration`: one build of an LA's return files (one XML per school and a zip), kept with
its serial number, who made it, what it held and what was still open. `CollectedReturn`: what the
collector holds for one school (status, counts); each file loaded for it is a
`CollectedReturnVersion`, and the current version's pupils and findings are kept as
`CollectedPupil` and `CollectedFinding` rows. Every state change goes through `actions.py`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from keystage.orgs.models import LocalAuthority, School
from keystage.submissions.models import Collection


class ReturnGeneration(models.Model):
    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="+")
    la = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="+")
    serial = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(max_length=150, blank=True)  # user name or "cli:<os user>"
    created_at = models.DateTimeField()
    release = models.CharField(max_length=40)
    school_count = models.PositiveIntegerField(default=0)
    pupil_count = models.PositiveIntegerField(default=0)
    # What was still open when it was made, and whether the user confirmed writing anyway.
    open_errors = models.PositiveIntegerField(default=0)
    unexplained_queries = models.PositiveIntegerField(default=0)
    confirmed_open_items = models.BooleanField(default=False)
    folder = models.CharField(max_length=255)  # relative to settings.DATA_DIR
    bundle_name = models.CharField(max_length=100)
    # [{"laestab", "name", "pupils", "sha256"}] per school file
    files = models.JSONField(default=list)

    class Meta:
        ordering = ["-serial"]
        constraints = [
            models.UniqueConstraint(
                fields=["collection", "la", "serial"], name="returngeneration_serial_unique"
            )
        ]

    def __str__(self) -> str:
        return f"return {self.la.code} #{self.serial}"


class CollectedReturn(models.Model):
    """One school's return as the national collection holds it."""

    class Status(models.TextChoices):
        LOADED = "loaded", "Loaded"
        SUBMITTED = "submitted", "Submitted"
        AMENDED = "amended", "Amended after submission"
        AUTHORISED = "authorised", "Authorised"
        RETURNED = "returned", "Sent back to the LA"

    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="+")
    la = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices)
    current = models.ForeignKey(
        "CollectedReturnVersion", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    pupils = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    queries = models.PositiveIntegerField(default=0)
    unexplained = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    authorised_at = models.DateTimeField(null=True, blank=True)
    authorised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The collector's latest "send back": why, who, when (kept after the LA loads a new file, so
    # the LA and the collector can still read what was asked).
    sent_back_at = models.DateTimeField(null=True, blank=True)
    sent_back_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_back_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["school__laestab"]
        constraints = [
            models.UniqueConstraint(
                fields=["collection", "school"], name="collectedreturn_school_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.school.laestab} ({self.status})"

    @property
    def may_be_authorised(self) -> bool:
        return self.status == self.Status.SUBMITTED and self.errors == 0 and self.unexplained == 0

    @property
    def may_be_sent_back(self) -> bool:
        return self.status in (self.Status.SUBMITTED, self.Status.AUTHORISED)


class CollectedReturnVersion(models.Model):
    """One file (or one school of a file) loaded into the collection; every one is kept."""

    collected_return = models.ForeignKey(
        CollectedReturn, on_delete=models.CASCADE, related_name="versions"
    )
    la = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField()  # 1, 2, 3 for this school
    file_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    stored_path = models.CharField(max_length=255)  # relative to settings.DATA_DIR
    serial = models.PositiveIntegerField(null=True)  # the header's SerialNo
    software = models.CharField(max_length=200, blank=True)  # SoftwareCode Release
    generation = models.ForeignKey(
        ReturnGeneration, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(max_length=150, blank=True)
    loaded_at = models.DateTimeField()
    outcome = models.CharField(max_length=20)  # "loaded" or "replaced earlier"
    pupils = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    queries = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"{self.school.laestab} v{self.number}"


class CollectedPupil(models.Model):
    version = models.ForeignKey(
        CollectedReturnVersion, on_delete=models.CASCADE, related_name="collected_pupils"
    )
    la = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="+")
    is_current = models.BooleanField(default=True)
    line = models.PositiveIntegerField(default=0)
    upn = models.CharField(max_length=40)
    surname = models.CharField(max_length=200)
    forename = models.CharField(max_length=200)
    dob = models.CharField(max_length=40)
    sex = models.CharField(max_length=20)
    # The NC year the file gives (`[return] nc_year_element`); blank for a return without one.
    nc_year = models.CharField(max_length=10, blank=True, default="")
    outcomes = models.JSONField(default=dict)
    explanations = models.JSONField(default=list)  # [{"rule", "field", "text"}] from the file

    class Meta:
        indexes = [models.Index(fields=["la", "is_current"])]

    def __str__(self) -> str:
        return f"{self.upn} {self.surname}, {self.forename}"


class CollectedFinding(models.Model):
    class Scope(models.TextChoices):
        SCHOOL = "school"
        PUPIL = "pupil"
        COHORT = "cohort"  # across the LA's whole collected return

    version = models.ForeignKey(
        CollectedReturnVersion, on_delete=models.CASCADE, related_name="findings"
    )
    la = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="+")
    pupil = models.ForeignKey(
        CollectedPupil, null=True, on_delete=models.CASCADE, related_name="findings"
    )
    is_current = models.BooleanField(default=True)
    scope = models.CharField(max_length=8, choices=Scope.choices)
    rule = models.CharField(max_length=12)
    severity = models.CharField(max_length=5)
    field = models.CharField(max_length=20)
    value = models.CharField(max_length=200, blank=True)
    message = models.TextField()
    explanation = models.TextField(blank=True)  # carried from the file (queries only)

    class Meta:
        indexes = [models.Index(fields=["la", "is_current"])]

    def __str__(self) -> str:
        return f"{self.rule} {self.severity} {self.field}={self.value!r}"


class ReturnSubmission(models.Model):
    """One submission of an LA's return to the national collection by an approver, after the
    check-your-answers page and the declaration: what was submitted, by whom, its reference.

    A repeat of the same submission is refused in the database, not only in the browser: the
    check-answers form carries a one-time `token` (unique), and a build is submitted at most
    once (`generation` is unique)."""

    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="+")
    la = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField()  # 1, 2, 3 for this LA and collection
    reference = models.CharField(max_length=40, unique=True)  # "KS1-2023-938-001"
    token = models.CharField(max_length=40, unique=True)
    generation = models.OneToOneField(
        ReturnGeneration, null=True, blank=True, on_delete=models.PROTECT, related_name="submission"
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(max_length=150, blank=True)
    submitted_at = models.DateTimeField()
    declaration = models.TextField()  # the words the approver confirmed
    schools = models.PositiveIntegerField(default=0)
    pupils = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    unexplained = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["collection", "la", "number"], name="returnsubmission_number_unique"
            )
        ]

    def __str__(self) -> str:
        return self.reference
