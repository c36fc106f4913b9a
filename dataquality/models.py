"""Data quality and privacy: duplicate candidates, merges, imports, erasures, legal holds.

The tables were created by the contacts app and keep their names (`contacts_*`), so an installation upgrades
in place. The permissions guarding these features stay `contacts.*` (declared on Contact).
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q

from contacts.models import Contact
from contacts_project.ids import uuid7

__all__ = ["Nickname", "DuplicateStatus", "DuplicateCandidate", "MergeRecord", "ImportStatus", "ImportJob",
           "ImportRowError", "ImportedContact", "ErasedIdentity", "LegalHold", "DataAccessLog"]


class Nickname(models.Model):
    """A given name and the canonical form it shares with its variants (Bob, Rob → robert).

    Loaded from dataquality/data/nicknames.csv by a migration; read by the duplicate rules in SQL.
    """

    name = models.CharField(max_length=50, primary_key=True, help_text="Lower-case given name or nickname.")
    canonical = models.CharField(max_length=50, db_index=True)

    class Meta:
        db_table = "contacts_nickname"

    def __str__(self) -> str:
        return f"{self.name} → {self.canonical}"


class DuplicateStatus(models.TextChoices):
    OPEN = "open", "Open"
    DISMISSED = "dismissed", "Dismissed (not the same person)"


class DuplicateCandidate(models.Model):
    """A pair of contacts that may be the same person, with a score in [0, 1] and the rules that matched.

    contact_a < contact_b, so a pair is stored once. A dismissed pair stays, so refreshes never bring it back.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    contact_a = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+", db_index=False)
    contact_b = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+", db_index=False)
    score = models.FloatField()
    reasons = models.JSONField(default=list)
    status = models.CharField(max_length=12, choices=DuplicateStatus.choices, default=DuplicateStatus.OPEN)
    dismissed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    dismissed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "contacts_duplicatecandidate"
        constraints = [
            models.UniqueConstraint(fields=["contact_a", "contact_b"], name="duplicate_pair_unique"),
            models.CheckConstraint(condition=Q(contact_a__lt=F("contact_b")), name="duplicate_pair_ordered"),
        ]
        indexes = [
            models.Index(fields=["status", "score", "id"], name="duplicate_status_score"),
            models.Index(fields=["contact_b"], name="duplicate_contact_b"),
        ]


class MergeRecord(models.Model):
    """What a merge changed, so it can be undone for MERGE_UNDO_DAYS: the merged contact's snapshot,
    the survivor's values before, and the ids of the rows moved from one to the other."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    survivor = models.ForeignKey(Contact, null=True, on_delete=models.SET_NULL, related_name="+")
    survivor_key = models.UUIDField(help_text="The survivor's id (kept if the survivor is deleted later).")
    merged_key = models.UUIDField(db_index=True, help_text="The id the merged contact had (and gets back on undo).")
    fields = models.JSONField(default=dict, help_text="field → 'survivor' | 'other', as asked.")
    survivor_before = models.JSONField(default=dict)
    merged_snapshot = models.JSONField(default=dict)
    moved = models.JSONField(default=dict, help_text="table → list of moved row ids, and rows set aside.")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    erased = models.BooleanField(default=False, help_text="Snapshot scrubbed by an erasure; no longer undoable.")

    class Meta:
        db_table = "contacts_mergerecord"
        indexes = [models.Index(fields=["survivor_key", "created_at"], name="merge_survivor")]


class ImportStatus(models.TextChoices):
    PREVIEW = "preview", "Previewed (dry run, nothing written)"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    UNDOING = "undoing", "Undoing"
    UNDONE = "undone", "Undone"


class ImportJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    format = models.CharField(max_length=8, help_text="csv or vcard.")
    filename = models.CharField(max_length=255, blank=True, default="")
    path = models.CharField(max_length=500, help_text="Stored upload, relative to MEDIA_ROOT.")
    size = models.BigIntegerField(default=0)
    content_hash = models.CharField(max_length=64, db_index=True)
    encoding = models.CharField(max_length=20, blank=True, default="")
    delimiter = models.CharField(max_length=4, blank=True, default="")
    mapping = models.JSONField(default=dict, help_text="CSV column → contact field.")
    on_duplicate = models.CharField(max_length=8, default="skip")
    rows_done = models.IntegerField(default=0)
    chunk_rows = models.IntegerField(default=0, help_text="Rows per chunk, fixed when the job first runs.")
    chunks_done = ArrayField(models.IntegerField(), default=list, blank=True,
                             help_text="Numbers of the committed chunks (the checkpoint of a resumed job).")
    created = models.IntegerField(default=0)
    updated = models.IntegerField(default=0)
    skipped = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    detail = models.TextField(blank=True, default="")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "contacts_importjob"
        indexes = [models.Index(fields=["created_at", "id"], name="import_created_id")]


class ImportRowError(models.Model):
    id = models.BigAutoField(primary_key=True)
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="errors", db_index=False)
    row = models.IntegerField(help_text="1-based data row (the header is row 0).")
    field = models.CharField(max_length=100, blank=True, default="")
    code = models.CharField(max_length=40)
    message = models.TextField()

    class Meta:
        db_table = "contacts_importrowerror"
        indexes = [models.Index(fields=["job", "row"], name="import_error_job_row")]


class ImportedContact(models.Model):
    """Which contacts an import created or updated (with the values before), so it can be undone."""

    id = models.BigAutoField(primary_key=True)
    # no database constraint: its per-row check cost ~8 µs of an imported row; rows go with the job (ORM cascade)
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="+", db_index=False,
                            db_constraint=False)
    contact_id = models.UUIDField()
    created = models.BooleanField()
    before = models.JSONField(null=True, blank=True)

    class Meta:
        db_table = "contacts_importedcontact"
        indexes = [models.Index(fields=["job", "id"], name="imported_job"),
                   models.Index(fields=["contact_id"], name="imported_contact")]


class ErasedIdentity(models.Model):
    """Keyed hash of an erased person's email or phone: imports skip rows that match (no data kept)."""

    digest = models.CharField(max_length=64, primary_key=True)
    kind = models.CharField(max_length=8)
    erased_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "contacts_erasedidentity"


class LegalHold(models.Model):
    contact = models.OneToOneField(Contact, on_delete=models.CASCADE, primary_key=True, related_name="legal_hold")
    reason = models.CharField(max_length=500)
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    placed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "contacts_legalhold"


class DataAccessLog(models.Model):
    """Who exported or erased whose data (bulk exports too). Survives the erasure of the contact itself."""

    id = models.BigAutoField(primary_key=True)
    action = models.CharField(max_length=30)
    contact_key = models.UUIDField(null=True, blank=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "contacts_dataaccesslog"
