"""Who an address belongs to. Every lookup of a contact by an inbound address goes through
`contact_find_by_address`, so that searching more addresses per contact later changes one function."""
from __future__ import annotations

from django.db.models.functions import Lower

from contacts.models import Contact
from contacts.validation import normalize_phone

from ..choices import Channel


def contact_find_by_address(*, channel: str, address: str) -> Contact | None:
    """The contact whose email (any letter case) or phone (E.164) is `address`, or None."""
    address = (address or "").strip()
    if not address:
        return None
    if channel == Channel.EMAIL:
        # the partial unique index on lower(email) where email <> ''
        return (Contact.objects.alias(email_lower=Lower("email")).exclude(email="")
                .filter(email_lower=address.lower()).first())
    if channel == Channel.SMS:
        try:
            phone = normalize_phone(address)
        except ValueError:
            return None
        return Contact.objects.exclude(phone="").filter(phone=phone).order_by("created_at", "id").first()
    return None
