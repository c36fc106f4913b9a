"""Writes for organizations, contact types and categories: validate, one transaction, audit."""
from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.db.models import Count
from django.utils import timezone

from contacts_project import cache
from contacts_project.audit import audited
from contacts_project.errors import Conflict, InvalidInput, NotFound
from contacts_project.ids import parse_uuid
from contacts_project.registry import registry

from .models import Category, ContactType, Organization
from .selectors import would_create_cycle

ORGANIZATION_FIELDS = ("name", "domain", "parent", "category")


def _resolve(model, field: str, value, *, label: str | None = None):
    """The referenced row, or a 400 naming the field (unknown or malformed id)."""
    if value in (None, ""):
        return None
    if isinstance(value, model):
        return value
    key = value if model is ContactType else parse_uuid(value)
    obj = model.objects.filter(pk=key).first() if key is not None else None
    if obj is None:
        raise InvalidInput.field(field, f"No {label or model._meta.verbose_name} with id {value!r}.", "does_not_exist")
    return obj


def _get(model, pk, label: str):
    key = pk if model is ContactType else parse_uuid(pk)
    obj = model.objects.filter(pk=key).first() if key is not None else None
    if obj is None:
        raise NotFound(f"{label} not found.")
    return obj


def _apply_organization(org: Organization, data: dict[str, Any]) -> list[str]:
    changed = []
    for name in ORGANIZATION_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if name == "parent":
            value = _resolve(Organization, "parent", value, label="organization")
            if value is not None and would_create_cycle(model=Organization, field="parent", node_id=org.pk,
                                                        new_parent_id=value.pk):
                raise InvalidInput.field("parent", "This parent would make the organization its own ancestor.",
                                         "cycle")
        elif name == "category":
            value = _resolve(Category, "category", value)
        elif name == "name":
            value = (value or "").strip()
            if not value:
                raise InvalidInput.field("name", "A name is required.", "required")
        elif name == "domain":
            value = (value or "").strip().lower()
        setattr(org, name, value)
        changed.append(name)
    return changed


def organization_create(*, data: dict[str, Any], actor=None) -> Organization:
    org = Organization()
    with transaction.atomic(), audited(actor, "organization.create"):
        _apply_organization(org, {"name": data.get("name", ""), **data})
        org.save()
    return org


def organization_update(*, organization_id, data: dict[str, Any], actor=None) -> Organization:
    with transaction.atomic(), audited(actor, "organization.update"):
        org = _get(Organization, organization_id, "Organization")
        changed = _apply_organization(org, data)
        if changed:
            org.save(update_fields=[*changed, "updated_at"])
    return org


def organization_delete(*, organization_id, actor=None, cascade: bool = False) -> None:
    with transaction.atomic(), audited(actor, "organization.delete", cascade=cascade):
        org = _get(Organization, organization_id, "Organization")
        counts = Organization.objects.filter(pk=org.pk).aggregate(contacts=Count("contacts", distinct=True),
                                                                   children=Count("children", distinct=True))
        if counts["children"]:
            raise Conflict(f"The organization has {counts['children']} child organizations; move or delete them first.",
                           extra={"children": counts["children"]})
        if counts["contacts"] and not cascade:
            raise Conflict(f"The organization has {counts['contacts']} contacts; delete with ?cascade=true to delete "
                           "them too.", extra={"contacts": counts["contacts"]})
        if counts["contacts"]:
            # the contacts go through their own delete service (events, cache), only if the actor may change
            # every one of them; otherwise nothing is deleted and the answer says how many remain
            for deleter in registry["organization_contact_deleters"].values():
                others = deleter(org.pk, actor)
                if others:
                    raise Conflict(f"{others} of the organization's contacts are not yours to delete; nothing was "
                                   "deleted.", extra={"contacts": counts["contacts"], "not_editable": others})
        org.delete()


def contact_type_create(*, data: dict[str, Any], actor=None) -> ContactType:
    key = data.get("key", "")
    with transaction.atomic(), audited(actor, "contact_type.create"):
        if ContactType.objects.filter(pk=key).exists():
            raise InvalidInput.field("key", f"A contact type with key {key!r} already exists.", "unique")
        return ContactType.objects.create(key=key, label=data.get("label") or key,
                                          description=data.get("description", ""),
                                          is_active=data.get("is_active", True))


def contact_type_update(*, key: str, data: dict[str, Any], actor=None) -> ContactType:
    """Relabel or (de)activate; the key is immutable, so contacts are never rewritten."""
    with transaction.atomic(), audited(actor, "contact_type.update"):
        ctype = _get(ContactType, key, "Contact type")
        if "key" in data and data["key"] != ctype.key:
            raise InvalidInput.field("key", "The key of a contact type cannot change; create a new type.", "immutable")
        changed = [f for f in ("label", "description", "is_active") if f in data]
        for f in changed:
            setattr(ctype, f, data[f])
        if changed:
            ctype.save(update_fields=[*changed, "updated_at"])
    return ctype


def contact_type_delete(*, key: str, actor=None) -> None:
    with transaction.atomic(), audited(actor, "contact_type.delete"):
        ctype = _get(ContactType, key, "Contact type")
        in_use = ctype.contacts.count()
        templates = ctype.templates.count()
        if in_use or templates:
            raise Conflict(f"The type {key!r} is used by {in_use} contacts and {templates} templates.",
                           extra={"contacts": in_use, "templates": templates})
        ctype.delete()


def category_create(*, data: dict[str, Any], actor=None) -> Category:
    with transaction.atomic(), audited(actor, "category.create"):
        parent = _resolve(Category, "parent", data.get("parent"))
        name = (data.get("name") or "").strip()
        if not name:
            raise InvalidInput.field("name", "A name is required.", "required")
        if Category.objects.filter(parent=parent, name__iexact=name).exists():
            raise InvalidInput.field("name", "A sibling category already has this name.", "unique")
        return Category.objects.create(name=name, parent=parent, description=data.get("description", ""))


def category_update(*, category_id, data: dict[str, Any], actor=None) -> Category:
    with transaction.atomic(), audited(actor, "category.update"):
        category = _get(Category, category_id, "Category")
        changed = []
        if "parent" in data:
            parent = _resolve(Category, "parent", data["parent"])
            if parent is not None and would_create_cycle(model=Category, field="parent", node_id=category.pk,
                                                         new_parent_id=parent.pk):
                raise InvalidInput.field("parent", "This parent would make the category its own ancestor.", "cycle")
            category.parent = parent
            changed.append("parent")
        for f in ("name", "description"):
            if f in data:
                setattr(category, f, data[f])
                changed.append(f)
        if Category.objects.filter(parent=category.parent, name__iexact=category.name).exclude(pk=category.pk).exists():
            raise InvalidInput.field("name", "A sibling category already has this name.", "unique")
        if changed:
            category.save(update_fields=[*changed, "updated_at"])
    return category


def category_delete(*, category_id, actor=None, reassign_to=None) -> None:
    """Delete a category. One in use (contacts or subcategories) is 409 unless `reassign_to` names another
    category: then its contacts, subcategories and organizations move there first (audited: each moved
    contact's history records the change), all in one transaction."""
    with transaction.atomic(), audited(actor, "category.delete", reassign_to=str(reassign_to or "") or None):
        category = _get(Category, category_id, "Category")
        used = category.contacts.count()
        children = category.children.count()
        if reassign_to not in (None, ""):
            target = _resolve(Category, "reassign_to", reassign_to, label="category")
            if target.pk == category.pk or would_create_cycle(model=Category, field="parent", node_id=category.pk,
                                                              new_parent_id=target.pk):
                raise InvalidInput.field("reassign_to", "Reassign to a category outside the one being deleted.",
                                         "cycle")
            _reassign_category(category, target)
        elif used or children:
            raise Conflict(f"The category has {used} contacts and {children} subcategories; delete with "
                           "?reassign_to=<category id> to move them first.",
                           extra={"contacts": used, "children": children})
        category.delete()


def _reassign_category(category: Category, target: Category) -> None:
    """Move links, subcategories and organizations from `category` to `target` with set-based statements."""
    clash = Category.objects.filter(parent=target, name__iexact=models.OuterRef("name"))
    clashing = list(category.children.filter(models.Exists(clash)).values_list("name", flat=True)[:20])
    if clashing:
        raise InvalidInput.field("reassign_to", f"The target already has subcategories named {clashing}.", "unique")
    link = Category.contacts.through
    contact_ids = list(link.objects.filter(category=category).values_list("contact_id", flat=True))
    # a history row on each moved contact, with this delete's audit context
    category.contacts.update(updated_at=timezone.now())
    already = link.objects.filter(category=target, contact_id=models.OuterRef("contact_id"))
    link.objects.filter(category=category).filter(models.Exists(already)).delete()
    link.objects.filter(category=category).update(category=target)
    cache.invalidate_on_commit(*(cache.contact_detail_key(cid) for cid in contact_ids))
    category.children.update(parent=target)
    category.organizations.update(category=target)
