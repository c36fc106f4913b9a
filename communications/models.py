"""The RFC's Communication: outbound messages and logged inbound calls, meetings and notes."""
import pghistory
from django.conf import settings
from django.db import models
from django.db.models import Q

from contacts.models import Contact
from contacts_project.ids import uuid7

from .choices import Channel, CommunicationStatus, Direction


class Communication(models.Model):
    # --- the RFC's fields (scheduled_at may be empty for logged and inbound communications) ---
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="communications")
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
    purpose = models.CharField(max_length=50, blank=True, default="transactional",
                               help_text="Consent purpose, e.g. marketing or transactional.")
    status_reason = models.CharField(max_length=255, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True, default="")
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
        ]

    def __str__(self) -> str:
        return f"{self.type} to {self.contact_id} ({self.status})"


pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())(Communication)
