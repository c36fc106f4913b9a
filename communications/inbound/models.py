"""What the inbound pipeline keeps: each received message once (keyed by Message-ID and content hash,
the raw bytes for INBOUND_RAW_RETENTION_DAYS), and the soft bounces counted per address."""
from django.db import models
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact
from contacts_project.ids import uuid7


class InboundSource(models.TextChoices):
    SMTP = "smtp", "SMTP/LMTP receiver"
    IMAP = "imap", "IMAP mailbox"
    SMS = "sms", "SMS provider"


class InboundState(models.TextChoices):
    PENDING = "pending", "Waiting to be processed"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Could not be processed"


class InboundKind(models.TextChoices):
    UNKNOWN = "", "Not classified yet"
    HARD_BOUNCE = "hard_bounce", "Hard bounce"
    SOFT_BOUNCE = "soft_bounce", "Soft bounce"
    DSN_OTHER = "dsn_other", "Delivery notice (delivered, relayed)"
    COMPLAINT = "complaint", "Spam complaint (ARF)"
    AUTO_REPLY = "auto_reply", "Auto-reply"
    UNSUBSCRIBE = "unsubscribe", "mailto: unsubscribe"
    REPLY = "reply", "Reply"
    STAFF_LOG = "staff_log", "Staff mail (BCC drop address)"
    CONTACT_MAIL = "contact_mail", "Mail from a known contact"
    SMS_STOP = "sms_stop", "SMS opt-out keyword"
    SMS_START = "sms_start", "SMS opt-in keyword"
    SMS_MESSAGE = "sms_message", "SMS from a contact"
    UNMATCHED = "unmatched", "Unmatched"
    LOOP = "loop", "Mail loop (our own message)"
    MALFORMED = "malformed", "Malformed"


class InboundMessage(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    source = models.CharField(max_length=10, choices=InboundSource.choices)
    message_id = models.CharField(max_length=255, blank=True, default="",
                                  help_text="Message-ID header (SMS: the provider's message id).")
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the raw message.")
    raw = models.BinaryField(blank=True, default=b"", help_text="Emptied after the retention period.")
    size = models.PositiveIntegerField(default=0)
    envelope_from = models.CharField(max_length=320, blank=True, default="")
    envelope_to = models.JSONField(default=list, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=10, choices=InboundState.choices, default=InboundState.PENDING)
    kind = models.CharField(max_length=20, choices=InboundKind.choices, blank=True, default="")
    subject = models.CharField(max_length=255, blank=True, default="")
    from_address = models.CharField(max_length=320, blank=True, default="")
    communication = models.ForeignKey("communications.Communication", null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="+", db_index=False,
                                      help_text="The message it is about (bounced, replied to, complained of).")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                db_index=False)
    logged_as = models.ForeignKey("communications.Communication", null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+", db_index=False,
                                  help_text="The inbound communication it became on the timeline.")
    detail = models.JSONField(default=dict, blank=True, help_text="What classification found (recipients, "
                                                                  "status codes, diagnostics).")
    error = models.TextField(blank=True, default="")
    processed_at = models.DateTimeField(null=True, blank=True)
    raw_purged_at = models.DateTimeField(null=True, blank=True)
    reply_sent_at = models.DateTimeField(null=True, blank=True, help_text="SMS keyword confirmation sent.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message_id", "content_hash"], name="inbound_once")]
        indexes = [
            models.Index(fields=["received_at", "id"], name="inbound_received_id"),
            models.Index(fields=["received_at"], name="inbound_raw_kept", condition=Q(raw_purged_at__isnull=True)),
            models.Index(fields=["received_at"], name="inbound_pending", condition=Q(state="pending")),
            models.Index(fields=["received_at"], name="inbound_unmatched", condition=Q(kind="unmatched")),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.kind or self.state} {self.message_id or self.id}"


class UnmatchedInboundManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(kind=InboundKind.UNMATCHED)


class UnmatchedInbound(InboundMessage):
    """Mail and SMS that matched no message and no contact: the admin's "unmatched" list."""

    objects = UnmatchedInboundManager()

    class Meta:
        proxy = True
        verbose_name = "unmatched inbound message"


class SoftBounce(models.Model):
    """One soft bounce of one address; INBOUND_SOFT_BOUNCE_THRESHOLD of them within
    INBOUND_SOFT_BOUNCE_DAYS suppress the address."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    channel = models.CharField(max_length=20, default="email")
    address_hash = models.CharField(max_length=64)
    inbound = models.ForeignKey(InboundMessage, on_delete=models.CASCADE, related_name="+", db_index=False)
    communication = models.ForeignKey("communications.Communication", null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="+", db_index=False)
    status = models.CharField(max_length=20, blank=True, default="")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["inbound", "address_hash"], name="soft_bounce_once")]
        indexes = [models.Index(fields=["channel", "address_hash", "at"], name="soft_bounce_address_at")]



