"""Collaboration: notes and comments, attachments, notifications and webhooks.

The top app (above planning): it may reference contacts, organizations and campaigns; nothing below imports it.
Targets are separate nullable foreign keys (one must be set) rather than a generic relation, so deleting a
contact, organization or campaign cascades to its notes and attachments and every list is an indexed filter.
"""
from __future__ import annotations

import pghistory
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from contacts.models import Contact
from contacts_project.ids import uuid7
from organization.models import Organization
from planning.models import Campaign

from .choices import DeliveryStatus, NotificationKind

ONE_TARGET = (
    Q(contact__isnull=False, organization__isnull=True, campaign__isnull=True)
    | Q(contact__isnull=True, organization__isnull=False, campaign__isnull=True)
    | Q(contact__isnull=True, organization__isnull=True, campaign__isnull=False)
)


class Note(models.Model):
    """A note on a contact, organization or campaign; a reply (comment) has a parent and the parent's target."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="notes",
                                db_index=False)
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="notes", db_index=False)
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="notes",
                                 db_index=False)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies",
                               db_index=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="notes")
    body = models.TextField()
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, through="NoteMention", related_name="mentioned_in",
                                      blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=ONE_TARGET, name="note_exactly_one_target")]
        indexes = [
            models.Index(fields=["contact", "created_at", "id"], name="note_contact_created"),
            models.Index(fields=["organization", "created_at", "id"], name="note_org_created"),
            models.Index(fields=["campaign", "created_at", "id"], name="note_campaign_created"),
            models.Index(fields=["parent", "created_at"], name="note_parent_created"),
        ]

    def __str__(self) -> str:
        return self.body[:50]


# edit history: every version of the body, with who changed it (audited context)
pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent(),
                fields=["body", "author", "contact", "organization", "campaign", "parent"],
                model_name="NoteEvent")(Note)


class NoteMention(models.Model):
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="mention_rows", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["note", "user"], name="note_mention_unique")]


def attachment_path(instance: Attachment, filename: str) -> str:
    # the id in the path keeps names unique; the original name is kept in `filename` for downloads
    return f"attachments/{instance.id.hex[:2]}/{instance.id}/{filename[-150:]}"


class Attachment(models.Model):
    """A file on a contact, organization or note, stored through Django's storage API (STORAGES['default'])."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments",
                                db_index=False)
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="attachments", db_index=False)
    note = models.ForeignKey(Note, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments",
                             db_index=False)
    file = models.FileField(upload_to=attachment_path, max_length=500)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(
            condition=(Q(contact__isnull=False, organization__isnull=True, note__isnull=True)
                       | Q(contact__isnull=True, organization__isnull=False, note__isnull=True)
                       | Q(contact__isnull=True, organization__isnull=True, note__isnull=False)),
            name="attachment_exactly_one_target")]
        indexes = [
            models.Index(fields=["contact", "created_at", "id"], name="attachment_contact_created"),
            models.Index(fields=["organization", "created_at", "id"], name="attachment_org_created"),
            models.Index(fields=["note", "created_at", "id"], name="attachment_note_created"),
        ]

    def __str__(self) -> str:
        return self.filename


class Notification(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications",
                             db_index=False)
    kind = models.CharField(max_length=40, choices=NotificationKind.choices)
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True, help_text="Ids of what it is about (contact, note, task…).")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "created_at", "id"], name="notification_user_created"),
            # the unread count is an index-only scan over this small partial index
            models.Index(fields=["user"], name="notification_user_unread", condition=Q(read_at__isnull=True)),
        ]


class NotificationPreference(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
                                related_name="notification_preference")
    muted_kinds = ArrayField(models.CharField(max_length=40), default=list, blank=True,
                             help_text="Kinds that create no in-app notification.")
    email_digest = models.BooleanField(default=False, help_text="A daily email with the unread notifications.")
    last_digest_at = models.DateTimeField(null=True, blank=True)


class WebhookSubscription(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=255, blank=True, default="")
    secret = models.CharField(max_length=100, help_text="whsec_<base64>; signs every payload (Standard Webhooks).")
    event_types = ArrayField(models.CharField(max_length=50))
    filters = models.JSONField(default=dict, blank=True,
                               help_text="Payload fields that must match, e.g. {\"status\": [\"active\"]}.")
    is_active = models.BooleanField(default=True)
    consecutive_failures = models.IntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["created_at", "id"], name="webhook_created_id")]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event for one subscription. Its id is the `webhook-id` (the same on every retry and replay)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries",
                                     db_index=False)
    event = models.CharField(max_length=50)
    payload = models.JSONField()
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.IntegerField(default=0)
    response_code = models.IntegerField(null=True, blank=True, help_text="Of the last attempt.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["subscription", "created_at", "id"], name="webhook_delivery_sub_created"),
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due",
                         condition=Q(status__in=["pending", "retrying"])),
        ]


class WebhookAttempt(models.Model):
    """The delivery log: one row per HTTP attempt, with the response code (or the error)."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log", db_index=False)
    at = models.DateTimeField(auto_now_add=True)
    response_code = models.IntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, default="", help_text="The first 1,000 characters.")
    error = models.CharField(max_length=500, blank=True, default="")
    duration_ms = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["delivery", "id"], name="webhook_attempt_delivery")]
