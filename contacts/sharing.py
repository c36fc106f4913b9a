"""Sharing a contact with a user outside its team (read, or read and change): who it is shared with, share,
unshare. Visibility itself (selectors.visible_contacts) counts the shares."""
from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet

from contacts_project.audit import audited
from contacts_project.errors import InvalidInput, NotFound

from .models import Contact, ContactShare
from .selectors import editable_contacts, sees_all, visible_contact

User = get_user_model()


def _parse_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def contact_shares(*, contact_id, user) -> QuerySet[ContactShare]:
    """Who a contact the user may see is shared with (404 when they may not see it)."""
    contact = visible_contact(user, contact_id)
    return ContactShare.objects.filter(contact=contact).select_related("user").order_by("id")


def contact_share(*, contact_id, user: Any, can_edit: bool = False, actor=None) -> ContactShare:
    """Share a contact with a user outside its team; only someone who may change the contact shares it."""
    contact = visible_contact(actor, contact_id)
    if not sees_all(actor) and not editable_contacts(actor, Contact.objects.all()).filter(pk=contact.pk).exists():
        raise PermissionDenied("Only those who may change a contact share it.")
    user_id = _parse_int(user)
    if user_id is None or not User.objects.filter(pk=user_id, is_active=True).exists():
        raise InvalidInput.field("user", f"No active user with id {user!r}.", "does_not_exist")
    if not isinstance(can_edit, bool):
        raise InvalidInput.field("can_edit", "Expected true or false.")
    with transaction.atomic(), audited(actor, "contact.share", contact=str(contact.pk)):
        share, _ = ContactShare.objects.update_or_create(
            contact=contact, user_id=user_id,
            defaults={"can_edit": can_edit, "shared_by": actor if getattr(actor, "pk", None) else None})
    return share


def contact_unshare(*, contact_id, user_id, actor=None) -> None:
    contact = visible_contact(actor, contact_id)
    if not sees_all(actor) and not editable_contacts(actor, Contact.objects.all()).filter(pk=contact.pk).exists():
        raise PermissionDenied("Only those who may change a contact unshare it.")
    with transaction.atomic(), audited(actor, "contact.unshare", contact=str(contact.pk)):
        deleted, _ = ContactShare.objects.filter(contact=contact, user_id=_parse_int(user_id)).delete()
    if not deleted:
        raise NotFound("Share not found.")
