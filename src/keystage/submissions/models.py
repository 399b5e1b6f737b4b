"""Uploads, pupil records and findings (rule results).

Every upload is kept. A school's newest accepted upload is `current`; older ones become
`superseded` (kept, with what changed). Pupil records and findings carry `is_current` and the
school and LA they belong to, so that reports filter on one indexed column instead of joins.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from keystage.orgs.models import LocalAuthority, School


class Collection(models.Model):
    """A data collection round, e.g. KS1 2023, backed by a definition file of the same code."""

    code = models.CharField(max_length=40, unique=True)  # "ks1-2023"
    name = models.CharField(max_length=120)
    year = models.PositiveSmallIntegerField()

    def __str__(self) -> str:
        return self.name


class Upload(models.Model):
    class State(models.TextChoices):
        CURRENT = "current", "Current"
        SUPERSEDED = "superseded", "Superseded"
        REJECTED = "rejected", "Rejected"

    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="uploads")
    school = models.ForeignKey(
        School, null=True, blank=True, on_delete=models.PROTECT, related_name="uploads"
    )
    la = models.ForeignKey(
        LocalAuthority, null=True, blank=True, on_delete=models.PROTECT, related_name="uploads"
    )
    file_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.BigIntegerField()
    kind = models.CharField(max_length=8, blank=True)  # "ctf" or "csv"
    stored_path = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=20, default="cli")  # "cli" or "web"
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(db_index=True)
    state = models.CharField(max_length=12, choices=State.choices)
    reason = models.TextField(blank=True)  # why a file was rejected, one line
    pupil_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    query_count = models.PositiveIntegerField(default=0)
    ignored = models.JSONField(default=dict, blank=True)  # what the reader counted and ignored
    supersedes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="superseded_by"
    )
    superseded_at = models.DateTimeField(null=True, blank=True)
    # What changed against the upload this one supersedes: {"added": [upn], "removed": [upn],
    # "changed": [{"upn": ..., "fields": [...]}]}.
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        indexes = [models.Index(fields=["school", "state"])]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.state})"


class PupilRecord(models.Model):
    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="pupils")
    # Every index costs time on each of 650,000 inserts a year: FKs that lead a composite
    # index below get none of their own, and the collection is too coarse to index.
    # collection, school and la are the upload's, copied so that reports filter on one column;
    # they have no database constraint, which on PostgreSQL costs a trigger per row (see
    # docs/adr/0007-scope-columns-without-constraints.md). Deleting through Django still
    # protects them.
    collection = models.ForeignKey(
        Collection, on_delete=models.PROTECT, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    school = models.ForeignKey(
        School, on_delete=models.PROTECT, related_name="pupil_records", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    la = models.ForeignKey(
        LocalAuthority, on_delete=models.PROTECT, related_name="pupil_records", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    is_current = models.BooleanField(default=True)
    line = models.PositiveIntegerField()
    upn = models.CharField(max_length=40)  # indexed in Meta: one index, no LIKE twin
    surname = models.CharField(max_length=200)
    forename = models.CharField(max_length=200)
    dob = models.CharField(max_length=40)  # ISO when it was a real date, else as written
    sex = models.CharField(max_length=20)
    outcomes = models.JSONField(default=dict)  # subject key -> code as written
    nc_year = models.CharField(max_length=10, blank=True)
    former_upn = models.CharField(max_length=40, blank=True)
    characteristics = models.JSONField(default=dict, blank=True)
    # Raised by every edit: a save that names an older version is refused (no lost updates).
    version = models.PositiveIntegerField(default=1, db_default=1)  # bulk inserts leave it out
    # "added" or "removed" by the LA (exceptional: the school owns its data), for reports.
    flag = models.CharField(max_length=8, blank=True, default="", db_default="")

    class Meta:
        indexes = [
            models.Index(fields=["la", "is_current"]),
            models.Index(fields=["school", "is_current"]),
            # A plain index: `db_index=True` would add a second, LIKE-pattern index on
            # PostgreSQL, one more to keep up on each of 650,000 inserts a year.
            models.Index(fields=["upn"], name="pupilrecord_upn_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.upn} {self.surname}, {self.forename}"


class Finding(models.Model):
    """A rule result about a file, a school or a pupil."""

    class Scope(models.TextChoices):
        FILE = "file"
        SCHOOL = "school"
        PUPIL = "pupil"
        COHORT = "cohort"  # across every current pupil of the LA (duplicate UPNs, pupils)

    # collection, school and la are the upload's copied, without a database constraint, as on
    # PupilRecord.
    collection = models.ForeignKey(
        Collection, on_delete=models.PROTECT, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="findings")
    school = models.ForeignKey(
        School, null=True, on_delete=models.PROTECT, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    la = models.ForeignKey(
        LocalAuthority, null=True, on_delete=models.PROTECT, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    pupil = models.ForeignKey(
        PupilRecord, null=True, on_delete=models.CASCADE, related_name="findings"
    )
    is_current = models.BooleanField(default=True)
    scope = models.CharField(max_length=8, choices=Scope.choices)
    rule = models.CharField(max_length=12)
    severity = models.CharField(max_length=5)  # "error" or "query"
    field = models.CharField(max_length=20)
    value = models.CharField(max_length=200, blank=True)
    message = models.TextField()
    # A query confirmed correct: why the value is right. It travels with the pupil into the
    # return. Errors are never explained, only fixed.
    explanation = models.TextField(blank=True, db_default="")  # bulk inserts leave it out
    # No index: nothing looks findings up by who explained them, and each index costs time on
    # every finding a national import writes.
    explained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    explained_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["la", "is_current"]),
            models.Index(fields=["school", "is_current"]),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.severity} {self.field}={self.value!r}"


class PupilChange(models.Model):
    """One change to a pupil record: who, when, old and new value, why, and where it came
    from. File uploads are diffed on the pupil's page; this holds what people did (edits,
    pupils added or removed, queries explained) and conflicts between a school's later file
    and an LA edit, which stay open until the LA chooses one value."""

    class Source(models.TextChoices):
        EDIT = "edit", "Edit"
        ADDED = "added", "Pupil added"
        REMOVED = "removed", "Pupil removed"
        RESTORED = "restored", "Pupil put back"
        EXPLAINED = "explained", "Query explained"
        FILE = "file", "School's file"  # a later file disagreeing with an LA edit

    class Conflict(models.TextChoices):
        NONE = "", "No conflict"
        OPEN = "open", "Open"
        KEPT_FILE = "kept_file", "Kept the school's value"
        REAPPLIED = "reapplied", "Re-applied the LA's edit"

    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="+")
    la = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="+")
    upload = models.ForeignKey(Upload, null=True, on_delete=models.SET_NULL, related_name="+")
    pupil = models.ForeignKey(
        PupilRecord, null=True, on_delete=models.SET_NULL, related_name="changes"
    )
    upn = models.CharField(max_length=40)  # the trail follows a pupil from file to file
    field = models.CharField(max_length=20)
    old = models.CharField(max_length=200, blank=True)
    new = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(max_length=150, blank=True)  # name shown, kept if the user goes
    at = models.DateTimeField(db_index=True)
    version = models.PositiveIntegerField(default=0)  # the record's version after the change
    conflict = models.CharField(max_length=10, choices=Conflict.choices, blank=True, default="")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["school", "upn"]),
            models.Index(fields=["upload", "source"]),
        ]

    def __str__(self) -> str:
        return f"{self.upn} {self.field}: {self.old!r} -> {self.new!r} ({self.source})"


class ImportBatch(models.Model):
    """Files uploaded through the web in one go, imported by a background task. The task
    records its progress and each file's result here for the result page."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        DONE = "done", "Finished"
        FAILED = "failed", "Failed"

    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="+")
    la = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="+")
    # Set when a school user uploads: the batch then belongs to that one school.
    school = models.ForeignKey(
        School, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(db_index=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    folder = models.CharField(max_length=255)  # where the uploaded files wait for the task
    file_names = models.JSONField(default=list)  # as uploaded, for the page while queued
    total_files = models.PositiveIntegerField(default=0)
    done_files = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=list, blank=True)  # ImportResult.as_dict() per file
    failure = models.TextField(blank=True)  # why the task failed, for people
    finished_at = models.DateTimeField(null=True, blank=True)
    # The uploads the batch stored, written in each group's own transaction: a batch whose
    # worker died is resumed from the files not among them (`batches.run_batch`).
    upload_ids = models.JSONField(default=list, blank=True)
    # Each time its worker died: {"stopped_at", "restarted_at" (ISO, UTC), "stored": files},
    # for the batch page (`keystage.worker.recovery`).
    interruptions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"import batch {self.pk} ({self.state})"
