"""Organization writes that move contacts (so they live in the contacts app): merging two organizations."""
from __future__ import annotations

from django.db import connection, transaction
from django.db.models import ProtectedError, RestrictedError

from contacts_project.audit import audited
from contacts_project.errors import Conflict, InvalidInput, NotFound
from contacts_project.ids import parse_uuid
from organization.models import Organization
from organization.trees import organization_subtree_ids

from .models import Contact, ContactGroup
from .services import invalidate_contacts

CONTACT = Contact._meta.db_table


def organization_merge(*, organization_id, other_id, actor=None) -> dict:
    """Merge `other` into the organization: its contacts, groups and child organizations move to the
    survivor (which also takes its empty domain and category), then `other` is deleted. One transaction.

    If the survivor lies inside `other`'s subtree it first takes `other`'s place (its parent), so the
    tree never gets a cycle.
    """
    key, other_key = parse_uuid(organization_id), parse_uuid(other_id)
    if key is None:
        raise NotFound("Organization not found.")
    if other_key is None:
        raise InvalidInput.field("other", f"No organization with id {other_id!r}.", "does_not_exist")
    if key == other_key:
        raise InvalidInput.field("other", "An organization cannot be merged into itself.", "invalid")
    with transaction.atomic(), audited(actor, "organization.merge", survivor=str(key), merged=str(other_key)):
        locked = {o.pk: o for o in Organization.objects.select_for_update().filter(pk__in=[key, other_key])
                  .order_by("pk")}
        if key not in locked:
            raise NotFound("Organization not found.")
        if other_key not in locked:
            raise InvalidInput.field("other", f"No organization with id {other_id!r}.", "does_not_exist")
        survivor, other = locked[key], locked[other_key]
        changed = []
        if survivor.pk in set(organization_subtree_ids([other.pk])):
            survivor.parent_id = other.parent_id
            changed.append("parent")
        if not survivor.domain and other.domain:
            survivor.domain = other.domain
            changed.append("domain")
        if survivor.category_id is None and other.category_id is not None:
            survivor.category_id = other.category_id
            changed.append("category")
        if changed:
            survivor.save(update_fields=[*changed, "updated_at"])
        children = Organization.objects.filter(parent=other).exclude(pk=survivor.pk).update(parent=survivor)
        groups = ContactGroup.objects.filter(organization=other).update(organization=survivor)
        with connection.cursor() as cursor:  # one UPDATE; the row triggers record each contact's move
            cursor.execute(f"UPDATE {CONTACT} SET organization_id = %s, updated_at = now() "
                           f"WHERE organization_id = %s RETURNING id", [survivor.pk, other.pk])
            moved = [row[0] for row in cursor.fetchall()]
        invalidate_contacts(moved)
        try:
            other.delete()
        except (ProtectedError, RestrictedError) as exc:
            raise Conflict(f"The organization {other.name!r} is still referenced by "
                           f"{len(exc.protected_objects if hasattr(exc, 'protected_objects') else [])} "
                           "other objects; nothing was merged.", extra={"other": str(other.pk)})
    return {"organization": str(survivor.pk), "merged": str(other_key), "contacts": len(moved), "groups": groups,
            "children": children}
