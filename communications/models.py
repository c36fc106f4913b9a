"""The RFC's Communication (outbound messages and logged inbound calls, meetings and notes), with what
sending needs beside it: templates, consent with its proof, the suppression list, frequency caps,
quiet hours, the status timeline and provider delivery events."""
import pghistory
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact, ContactScopedQuerySet
from contacts_project.ids import uuid7

from .choices import (
    Channel,
    CommunicationStatus,
    ConsentStatus,
    DeliveryEventType,
    Direction,
    Purpose,
    StatusSource,
    SuppressionReason,
)


def history():
    return (pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())


class MessageTemplate(models.Model):
    """Subject, text and HTML bodies with merge fields (`{{ contact.first_name }}`, `{{ custom.plan }}`),
    rendered in a Jinja2 sandbox. Checked when saved: an unknown merge field is a 400 then, not at send."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=150, unique=True)
    description = models.TextField(blank=True, default="")
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.EMAIL)
    purpose = models.CharField(max_length=50, choices=Purpose.choices, default=Purpose.TRANSACTIONAL)
    subject = models.CharField(max_length=998, blank=True, default="")
    text_body = models.TextField(blank=True, default="")
    html_body = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["created_at", "id"], name="msgtpl_created_id")]

    def __str__(self) -> str:
        return self.name


pghistory.track(*history())(MessageTemplate)


class Communication(models.Model):
    objects = ContactScopedQuerySet.as_manager()  # scoped_by_contact(user): the reads of a user
    # --- the RFC's fields (scheduled_at may be empty for logged and inbound communications) ---
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # indexed by comm_contact_created / comm_contact_type below
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="communications", db_index=False)
    type = models.CharField(max_length=50, choices=Channel.choices,
                            help_text="Channel: email, sms, call, meeting, note.")
    content = models.TextField(blank=True, default="")
    status = models.CharField(max_length=20, choices=CommunicationStatus.choices, default=CommunicationStatus.DRAFT)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # --- beside them ---
    direction = models.CharField(max_length=10, choices=Direction.choices, default=Direction.OUTBOUND)
    subject = models.CharField(max_length=255, blank=True, default="")
    html_content = models.TextField(blank=True, default="")
    template = models.ForeignKey(MessageTemplate, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="communications",
                                 help_text="When set, subject and bodies are rendered from it at send time.")
    purpose = models.CharField(max_length=50, blank=True, default="transactional",
                               help_text="Consent purpose, e.g. marketing or transactional.")
    status_reason = models.CharField(max_length=255, blank=True, default="")
    status_changed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    to_address = models.CharField(max_length=320, blank=True, default="",
                                  help_text="The address or number it went to, as it was at send time.")
    provider_message_id = models.CharField(max_length=255, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Send attempts so far.")
    queued_at = models.DateTimeField(null=True, blank=True)
    sending_started_at = models.DateTimeField(null=True, blank=True, help_text="Start of the send lease.")
    in_reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    campaign_id = models.UUIDField(null=True, blank=True, help_text="Campaign this message belongs to (planning).")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["contact", "type"], name="comm_contact_type"),
            models.Index(fields=["status"], name="comm_status"),
            models.Index(fields=["scheduled_at"], name="comm_scheduled_at"),
            models.Index(fields=["contact", "created_at", "id"], name="comm_contact_created"),
            models.Index(fields=["created_at", "id"], name="comm_created_id"),
            models.Index(fields=["campaign_id"], name="comm_campaign", condition=Q(campaign_id__isnull=False)),
            # the dispatcher's three scans: due rows, stale queued rows, stale sending rows
            models.Index(fields=["scheduled_at"], name="comm_due", condition=Q(status="scheduled")),
            models.Index(fields=["queued_at"], name="comm_queued", condition=Q(status="queued")),
            models.Index(fields=["sending_started_at"], name="comm_sending", condition=Q(status="sending")),
            # frequency caps count what a contact was sent recently
            models.Index(fields=["contact", "sent_at"], name="comm_contact_sent",
                         condition=Q(sent_at__isnull=False)),
            models.Index(fields=["provider_message_id"], name="comm_provider_msg",
                         condition=~Q(provider_message_id="")),
        ]

    def __str__(self) -> str:
        return f"{self.type} to {self.contact_id} ({self.status})"


pghistory.track(*history())(Communication)


class CommunicationStatusEvent(models.Model):
    """Every status change with its time, reason and cause: the communication's timeline."""

    communication = models.ForeignKey(Communication, on_delete=models.CASCADE, related_name="status_events",
                                      db_index=False)  # indexed by comm_status_event_at
    from_status = models.CharField(max_length=20, blank=True, default="")
    to_status = models.CharField(max_length=20)
    reason = models.CharField(max_length=255, blank=True, default="")
    source = models.CharField(max_length=20, choices=StatusSource.choices, default=StatusSource.API)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["communication", "at"], name="comm_status_event_at")]


class ContactPreference(models.Model):
    """Consent of one contact for one channel and purpose, with its proof (who, how, when, what wording).
    Every change is kept by pghistory, so earlier proofs stay available."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="preferences", db_index=False)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    purpose = models.CharField(max_length=50, choices=Purpose.choices)
    status = models.CharField(max_length=20, choices=ConsentStatus.choices)
    source = models.CharField(max_length=100, help_text="Where consent was given or withdrawn, e.g. signup_form.")
    wording = models.TextField(blank=True, default="", help_text="The text the contact was shown.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    api_client = models.CharField(max_length=150, blank=True, default="", help_text="User or client that recorded it.")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "channel", "purpose"], name="contact_pref_unique")]


pghistory.track(*history())(ContactPreference)


class QuietHours(models.Model):
    """No non-exempt message reaches the contact between start and end in their time zone."""

    contact = models.OneToOneField(Contact, on_delete=models.CASCADE, primary_key=True, related_name="quiet_hours")
    start = models.TimeField()
    end = models.TimeField()
    timezone = models.CharField(max_length=64, blank=True, default="",
                                help_text="IANA zone; empty means the contact's own time zone.")
    updated_at = models.DateTimeField(auto_now=True)


class FrequencyCap(models.Model):
    """At most `max_messages` per contact on a channel for a purpose within `period_hours`."""

    channel = models.CharField(max_length=20, choices=Channel.choices)
    purpose = models.CharField(max_length=50, choices=Purpose.choices)
    max_messages = models.PositiveIntegerField()
    period_hours = models.PositiveIntegerField(default=24)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "purpose"], name="frequency_cap_unique")]

    def __str__(self) -> str:
        return f"{self.channel}/{self.purpose}: {self.max_messages} per {self.period_hours} h"


class Suppression(models.Model):
    """Addresses nothing is sent to. The hash outlives erasure of the address, so a re-import of an
    erased person is still suppressed."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    address = models.CharField(max_length=320, blank=True, default="", help_text="Emptied on erasure.")
    address_hash = models.CharField(max_length=64, help_text="SHA-256 of channel:normalized address.")
    reason = models.CharField(max_length=20, choices=SuppressionReason.choices)
    source = models.CharField(max_length=100, blank=True, default="")
    note = models.CharField(max_length=255, blank=True, default="")
    communication = models.ForeignKey(Communication, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "address_hash"], name="suppression_unique")]
        indexes = [models.Index(fields=["created_at", "id"], name="suppression_created_id")]


pghistory.track(*history())(Suppression)


class DeliveryEvent(models.Model):
    """A delivery or engagement event from a provider webhook or our own tracking; stored once per
    provider event id."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    communication = models.ForeignKey(Communication, null=True, blank=True, on_delete=models.CASCADE,
                                      related_name="delivery_events", db_index=False)  # delivery_event_comm
    provider = models.CharField(max_length=50, help_text="ESP name, or `tracking` for pixel and links.")
    provider_event_id = models.CharField(max_length=255, blank=True, default="")
    event_type = models.CharField(max_length=20, choices=DeliveryEventType.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    provider_message_id = models.CharField(max_length=255, blank=True, default="")
    recipient_hash = models.CharField(max_length=64, blank=True, default="")
    description = models.CharField(max_length=500, blank=True, default="")
    url = models.URLField(max_length=2000, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "provider_event_id"], name="delivery_event_once",
                                    condition=~Q(provider_event_id="")),
        ]
        indexes = [models.Index(fields=["communication", "occurred_at"], name="delivery_event_comm")]


# inbound mail and SMS keep their own tables (communications.inbound)
from .inbound.models import InboundMessage, SoftBounce, UnmatchedInbound  # noqa: E402,F401
