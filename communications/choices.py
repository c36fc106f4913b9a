from django.db import models


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"
    NOTE = "note", "Note"


# Channels the dispatcher sends through a backend; the others are logged, never sent.
SENDABLE_CHANNELS = frozenset({Channel.EMAIL, Channel.SMS})


class Direction(models.TextChoices):
    OUTBOUND = "outbound", "Outbound"
    INBOUND = "inbound", "Inbound"


class Purpose(models.TextChoices):
    TRANSACTIONAL = "transactional", "Transactional (receipts, password resets)"
    SERVICE = "service", "Service notices"
    MARKETING = "marketing", "Marketing"
    NEWSLETTER = "newsletter", "Newsletter"


class CommunicationStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    OPENED = "opened", "Opened"
    CLICKED = "clicked", "Clicked"
    REPLIED = "replied", "Replied"
    BOUNCED = "bounced", "Bounced"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


S = CommunicationStatus
# Every allowed move. Anything else is a 409. sending -> scheduled is the dispatcher deferring a
# message (quiet hours, transient failure with backoff); failed -> scheduled is an operator's retry.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.SCHEDULED, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.SCHEDULED, S.DRAFT, S.QUEUED, S.CANCELLED}),
    S.QUEUED: frozenset({S.SCHEDULED, S.SENDING, S.CANCELLED, S.FAILED}),
    S.SENDING: frozenset({S.SENT, S.FAILED, S.CANCELLED, S.SCHEDULED}),
    S.SENT: frozenset({S.DELIVERED, S.OPENED, S.CLICKED, S.REPLIED, S.BOUNCED, S.FAILED}),
    S.DELIVERED: frozenset({S.OPENED, S.CLICKED, S.REPLIED, S.BOUNCED}),
    S.OPENED: frozenset({S.CLICKED, S.REPLIED}),
    S.CLICKED: frozenset({S.REPLIED}),
    S.REPLIED: frozenset(),
    S.BOUNCED: frozenset(),
    S.FAILED: frozenset({S.SCHEDULED}),
    S.CANCELLED: frozenset(),
}
# Only the dispatcher and the send task set these; an API caller asking for them gets a 409.
SYSTEM_STATUSES = frozenset({S.QUEUED, S.SENDING, S.SENT})
# Before a backend has the message: it can still be edited, rescheduled or cancelled.
PRE_SEND_STATUSES = frozenset({S.DRAFT, S.SCHEDULED, S.QUEUED})


class StatusSource(models.TextChoices):
    API = "api", "API"
    DISPATCHER = "dispatcher", "Dispatcher"
    SEND = "send", "Send task"
    RECOVERY = "recovery", "Lease recovery"
    WEBHOOK = "webhook", "Provider webhook"
    TRACKING = "tracking", "Tracking (pixel, link, unsubscribe)"
    INBOUND = "inbound", "Inbound mail or SMS"


class ConsentStatus(models.TextChoices):
    OPTED_IN = "opted_in", "Opted in"
    OPTED_OUT = "opted_out", "Opted out"


class SuppressionReason(models.TextChoices):
    HARD_BOUNCE = "hard_bounce", "Hard bounce"
    COMPLAINT = "complaint", "Spam complaint"
    SOFT_BOUNCE = "soft_bounce", "Repeated soft bounces"
    UNSUBSCRIBE = "unsubscribe", "Unsubscribed"
    MANUAL = "manual", "Added by hand"


class DeliveryEventType(models.TextChoices):
    QUEUED = "queued", "Queued by provider"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    DEFERRED = "deferred", "Deferred"
    OPENED = "opened", "Opened"
    CLICKED = "clicked", "Clicked"
    BOUNCED = "bounced", "Bounced"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"
    COMPLAINED = "complained", "Complained"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    SUBSCRIBED = "subscribed", "Subscribed"
    REPLIED = "replied", "Replied"
    UNKNOWN = "unknown", "Unknown"
