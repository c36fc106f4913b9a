"""Communication reads (select_related decided here once)."""
from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from contacts.models import Contact, scoped_by_contact
from contacts_project.errors import NotFound
from contacts_project.ids import parse_uuid

from .models import (
    Communication,
    CommunicationStatusEvent,
    ContactPreference,
    DeliveryEvent,
    MessageTemplate,
    QuietHours,
    Suppression,
)
from .policy import address_hash


def communication_list() -> QuerySet[Communication]:
    return Communication.objects.all()


def communication_visible(user) -> QuerySet[Communication]:
    """The communications whose contact the user may see (contacts.models.scoped_by_contact)."""
    return scoped_by_contact(Communication.objects.all(), user)


def communication_get(*, communication_id, user=None) -> Communication:
    """A communication; with a user, 404 unless they may see its contact. No user: a system job."""
    key = parse_uuid(communication_id)
    query = Communication.objects.all() if user is None else communication_visible(user)
    comm = query.filter(pk=key).first() if key else None
    if comm is None:
        raise NotFound("Communication not found.")
    return comm


def _contact_or_404(contact_id) -> Contact:
    key = parse_uuid(contact_id)
    contact = Contact.objects.filter(pk=key).only("id", "email", "phone", "timezone", "engagement_score",
                                                  "last_engaged_at").first() if key else None
    if contact is None:
        raise NotFound("Contact not found.")
    return contact


def get_contact_communications(*, contact_id) -> QuerySet[Communication]:
    """The RFC's get_contact_communications: a contact's history (ordered newest first by the paginator)."""
    key = parse_uuid(contact_id)
    if key is None or not Contact.objects.filter(pk=key).exists():
        raise NotFound("Contact not found.")
    return Communication.objects.filter(contact_id=key)


def communication_timeline(*, communication_id, user=None) -> dict:
    comm = communication_get(communication_id=communication_id, user=user)
    return {
        "status_events": list(CommunicationStatusEvent.objects.filter(communication_id=comm.pk).order_by("at", "id")),
        "delivery_events": list(DeliveryEvent.objects.filter(communication_id=comm.pk).order_by("occurred_at")),
    }


def message_template_list() -> QuerySet[MessageTemplate]:
    return MessageTemplate.objects.all()


def message_template_get(*, template_id) -> MessageTemplate:
    key = parse_uuid(template_id)
    template = MessageTemplate.objects.filter(pk=key).first() if key else None
    if template is None:
        raise NotFound("Message template not found.")
    return template


def contact_preferences(*, contact_id) -> dict:
    """Consent per channel and purpose with its proof, quiet hours, and whether the contact's current
    addresses are on the suppression list. Four queries."""
    from .services import engagement_decay

    contact = _contact_or_404(contact_id)
    preferences = list(ContactPreference.objects.filter(contact_id=contact.pk).order_by("channel", "purpose"))
    quiet = QuietHours.objects.filter(contact_id=contact.pk).first()
    hashes = {address_hash(channel, address): channel
              for channel, address in (("email", contact.email), ("sms", contact.phone)) if address}
    suppressed = list(Suppression.objects.filter(address_hash__in=list(hashes)).values("channel", "reason",
                                                                                       "created_at"))
    return {
        "contact": str(contact.pk),
        "preferences": preferences,
        "quiet_hours": None if quiet is None else {
            "start": quiet.start.strftime("%H:%M"), "end": quiet.end.strftime("%H:%M"),
            "timezone": quiet.timezone or contact.timezone},
        "suppressions": suppressed,
        "engagement_score_now": round(engagement_decay(contact.engagement_score, contact.last_engaged_at,
                                                       timezone.now()), 6),
    }


def suppression_list() -> QuerySet[Suppression]:
    return Suppression.objects.all()
