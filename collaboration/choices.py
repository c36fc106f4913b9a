from django.db import models


class NotificationKind(models.TextChoices):
    MENTION = "mention", "You were mentioned"
    TASK_ASSIGNED = "task.assigned", "A task was assigned to you"
    TASK_DUE = "task.due", "A task of yours fell due"
    IMPORT_FINISHED = "import.finished", "An import finished"
    CAMPAIGN_FINISHED = "campaign.finished", "A campaign finished"
    CAMPAIGN_FAILED = "campaign.failed", "A campaign failed"
    WEBHOOK_DISABLED = "webhook.disabled", "A webhook subscription was disabled"
    COMMUNICATION_REPLIED = "communication.replied", "A contact replied to your message"


class WebhookEvent(models.TextChoices):
    CONTACT_CREATED = "contact.created", "Contact created"
    CONTACT_UPDATED = "contact.updated", "Contact updated"
    CONTACT_DELETED = "contact.deleted", "Contact deleted"
    CONTACT_MERGED = "contact.merged", "Contacts merged"
    COMMUNICATION_CREATED = "communication.created", "Communication created"
    COMMUNICATION_STATUS_CHANGED = "communication.status_changed", "Communication status changed"
    COMMUNICATION_REPLIED = "communication.replied", "A contact replied"
    CAMPAIGN_STARTED = "campaign.started", "Campaign started"
    CAMPAIGN_FINISHED = "campaign.finished", "Campaign finished"
    CAMPAIGN_FAILED = "campaign.failed", "Campaign finished with failures"
    CAMPAIGN_CANCELLED = "campaign.cancelled", "Campaign cancelled"
    IMPORT_FINISHED = "import.finished", "Import finished"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SUCCEEDED = "succeeded", "Succeeded"
    RETRYING = "retrying", "Waiting to retry"
    FAILED = "failed", "Failed (attempts exhausted)"
