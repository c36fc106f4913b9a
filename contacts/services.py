"""Contact management writes (the RFC's ContactManagementService and the group half of its organization service).

Each function is keyword-only, validates everything first (one 400 naming every bad field), writes in
one transaction inside an audit context (pghistory records who, when and what changed), and
invalidates the cached representations after commit.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Team
from contacts_project import cache, compiled
from contacts_project.audit import audited
from contacts_project.bulk_insert import insert_rows
from contacts_project.errors import Conflict, Errors, FieldError, InvalidInput, NotFound
from contacts_project.events import emit
from contacts_project.ids import parse_uuid
from contacts_project.registry import registry
from organization.models import Category, ContactType, Organization
from organization.selectors import would_create_cycle

from .choices import ALLOWED_TRANSITIONS, ContactStatus, Priority
from .models import Contact, ContactCategory, ContactGroup, ContactTemplate, GroupMembership, sees_all
from .selectors import contact_base
from .validation import (
    check_locale,
    check_timezone,
    email_error,
    normalize_email,
    normalize_phone,
    normalize_tags,
    reject_nul,
    validate_custom_field_definitions,
    validate_custom_fields,
)

User = get_user_model()

# Fields a caller may write, in the API's names (foreign keys by id, type by key).
CONTACT_FIELDS = (
    "first_name", "last_name", "email", "phone", "organization", "type", "status", "job_title", "owner", "team",
    "timezone", "locale", "priority", "custom_fields", "reports_to", "categories", "tags",
)
SIMPLE_TEXT = {"first_name": 100, "last_name": 100, "job_title": 150}
TEMPLATE_DEFAULTABLE = set(CONTACT_FIELDS) - {"categories", "reports_to"}


# --------------------------------------------------------------------------- reference resolution
class _Refs:
    """Resolves the ids a batch of rows refers to with one query per kind (never one per row)."""

    def __init__(self, rows: Iterable[dict]):
        rows = list(rows)

        def ids(field, parse=parse_uuid):
            out = set()
            for row in rows:
                values = row.get(field)
                for value in values if isinstance(values, (list, tuple)) else [values]:
                    parsed = parse(value) if value not in (None, "") else None
                    if parsed is not None:
                        out.add(parsed)
            return out

        def as_int(value):
            try:
                return int(value)
            except (TypeError, ValueError):
                return None

        def pks(queryset, wanted) -> set:  # no queryset built for a kind no row names (most writes name one or two)
            return set(queryset.filter(pk__in=wanted).values_list("pk", flat=True)) if wanted else set()

        wanted = ids("organization")
        self.organizations = {o.pk: o for o in Organization.objects.filter(pk__in=wanted)} if wanted else {}
        wanted = ids("type", lambda v: str(v))
        self.types = {t.pk: t for t in ContactType.objects.filter(pk__in=wanted)} if wanted else {}
        self.categories = pks(Category.objects, ids("categories"))
        self.contacts = pks(Contact.objects, ids("reports_to"))
        self.users = pks(User.objects.filter(is_active=True), ids("owner", as_int))
        self.teams = pks(Team.objects, ids("team"))


STATUS_VALUES = frozenset(ContactStatus.values)  # an enum's .values builds a new list on every call
PRIORITY_VALUES = frozenset(Priority.values)


def _clean_contact(data: dict[str, Any], errors: Errors, refs: _Refs, *, instance: Contact | None,
                   template: ContactTemplate | None) -> tuple[dict, list | None]:
    """Validated model values for `data` (only the keys present), and the category ids if given."""
    values: dict[str, Any] = {}
    categories = None
    unknown = sorted(set(data) - set(CONTACT_FIELDS))
    for key in unknown:
        errors.add(key, "Unknown field.", "unknown_field")
    for key, value in data.items():
        if reject_nul(key, value, errors):
            continue
        if key in SIMPLE_TEXT:
            value = (value or "").strip() if isinstance(value, str) or value is None else value
            if not isinstance(value, str):
                errors.add(key, "Expected text.")
            elif len(value) > SIMPLE_TEXT[key]:
                errors.add(key, f"At most {SIMPLE_TEXT[key]} characters.", "max_length")
            else:
                values[key] = value
        elif key == "email":
            try:
                values["email"] = normalize_email(value or "")
            except ValidationError as exc:
                errors.add("email", email_error(exc), "invalid")
        elif key == "phone":
            try:
                values["phone"] = normalize_phone(value if isinstance(value, str) else str(value or ""))
            except ValueError as exc:
                errors.add("phone", str(exc), "invalid")
        elif key == "organization":
            org_id = parse_uuid(value) if value not in (None, "") else None
            if value not in (None, "") and org_id not in refs.organizations:
                errors.add("organization", f"No organization with id {value!r}.", "does_not_exist")
            else:
                values["organization_id"] = org_id
        elif key == "type":
            if value in (None, ""):
                values["type_id"] = None
            elif str(value) not in refs.types:
                errors.add("type", f"No contact type with key {value!r}.", "does_not_exist")
            elif not refs.types[str(value)].is_active and (instance is None or instance.type_id != str(value)):
                errors.add("type", f"The contact type {value!r} is inactive.", "inactive")
            else:
                values["type_id"] = str(value)
        elif key == "status":
            if value not in STATUS_VALUES:
                errors.add("status", f"{value!r} is not a status; choose one of {ContactStatus.values}.",
                           "invalid_choice")
            else:
                values["status"] = value
        elif key == "priority":
            if value not in PRIORITY_VALUES:
                errors.add("priority", f"Priority is one of {Priority.values}.", "invalid_choice")
            else:
                values["priority"] = value
        elif key == "timezone":
            try:
                values["timezone"] = check_timezone(value or "")
            except ValueError as exc:
                errors.add("timezone", str(exc))
        elif key == "locale":
            try:
                values["locale"] = check_locale(value or "")
            except ValueError as exc:
                errors.add("locale", str(exc))
        elif key == "owner":
            if value in (None, ""):
                values["owner_id"] = None
            else:
                try:
                    owner = int(value)
                except (TypeError, ValueError):
                    owner = None
                if owner not in refs.users:
                    errors.add("owner", f"No active user with id {value!r}.", "does_not_exist")
                else:
                    values["owner_id"] = owner
        elif key == "team":
            team = parse_uuid(value) if value not in (None, "") else None
            if value not in (None, "") and team not in refs.teams:
                errors.add("team", f"No team with id {value!r}.", "does_not_exist")
            else:
                values["team_id"] = team
        elif key == "reports_to":
            manager = parse_uuid(value) if value not in (None, "") else None
            if value not in (None, "") and manager not in refs.contacts:
                errors.add("reports_to", f"No contact with id {value!r}.", "does_not_exist")
            elif manager is not None and instance is not None and would_create_cycle(
                    model=Contact, field="reports_to", node_id=instance.pk, new_parent_id=manager):
                errors.add("reports_to", "A contact cannot report to themselves or to one of their reports.", "cycle")
            else:
                values["reports_to_id"] = manager
        elif key == "categories":
            if not isinstance(value, (list, tuple)):
                errors.add("categories", "Expected a list of category ids.")
                continue
            parsed = [parse_uuid(v) for v in value]
            missing = [str(v) for v, p in zip(value, parsed) if p not in refs.categories]
            if missing:
                errors.add("categories", f"No categories with ids {missing}.", "does_not_exist")
            else:
                categories = list(dict.fromkeys(parsed))
        elif key == "tags":
            try:
                values["tags"] = normalize_tags(value or [])
            except ValueError as exc:
                errors.add("tags", str(exc))
        elif key == "custom_fields":
            definitions = template.custom_fields if template is not None else None
            values["custom_fields"] = validate_custom_fields(value, definitions, errors)
    return values, categories


def _check_required(values: dict, errors: Errors, template: ContactTemplate | None, instance: Contact | None) -> None:
    def current(field):
        model_key = {"organization": "organization_id", "type": "type_id", "owner": "owner_id",
                     "team": "team_id", "reports_to": "reports_to_id"}.get(field, field)
        if model_key in values:
            return values[model_key]
        return getattr(instance, model_key, None) if instance is not None else None

    if not (current("first_name") or current("last_name")):
        errors.add("first_name", "A contact needs a first or last name.", "required")
    if template is None:
        return
    if "custom_fields" not in values and instance is None and template.custom_fields:
        # a new contact given no custom fields still owes the template's required ones
        values["custom_fields"] = validate_custom_fields({}, template.custom_fields, errors)
    custom = current("custom_fields") or {}
    already = {e.field for e in errors.items}
    for field in template.required_fields:
        if field.startswith("custom."):
            # `custom.<key>` in required_fields makes that custom field required, whatever its definition says
            name = f"custom_fields.{field.removeprefix('custom.')}"
            if custom.get(field.removeprefix("custom.")) in (None, "") and errors.prefix + name not in already:
                errors.add(name, f"Required by the template {template.name!r}.", "required")
        elif current(field) in (None, "", []):
            errors.add(field, f"Required by the template {template.name!r}.", "required")


def emails_taken(emails: list[str], exclude_id=None) -> set[str]:
    """Which of `emails` (any case) a contact already uses."""
    lowered = {e.lower() for e in emails if e}
    if not lowered:
        return set()
    # `.exclude(email="")` matches the unique index's condition, so the lookup is an index probe, not a scan
    query = Contact.objects.alias(email_lower=Lower("email")).filter(email_lower__in=lowered).exclude(email="")
    if exclude_id is not None:
        query = query.exclude(pk=exclude_id)
    return {e.lower() for e in query.values_list("email", flat=True)}


def _unique_email_error(errors: Errors, field: str = "email") -> None:
    errors.add(field, "A contact with this email already exists.", "unique")


def _save_unique(fn, *, savepoint: bool = True):
    """Run a write; a race on the email index becomes the same 400 as the pre-check. `savepoint=False` when the
    caller's own transaction ends with the error anyway (it saves the SAVEPOINT and RELEASE round trips)."""
    try:
        with transaction.atomic(savepoint=savepoint):
            return fn()
    except IntegrityError as exc:
        if "contact_email_ci_unique" in str(exc):
            raise InvalidInput.field("email", "A contact with this email already exists.", "unique")
        raise


def _template(template_id) -> ContactTemplate | None:
    if template_id in (None, ""):
        return None
    if isinstance(template_id, ContactTemplate):
        return template_id
    key = parse_uuid(template_id)
    template = ContactTemplate.objects.select_related("contact_type").filter(pk=key).first() if key else None
    if template is None:
        raise InvalidInput.field("template", f"No contact template with id {template_id!r}.", "does_not_exist")
    return template


def _with_template_defaults(data: dict, template: ContactTemplate | None) -> dict:
    if template is None:
        return dict(data)
    merged = {k: v for k, v in (template.defaults or {}).items() if k in TEMPLATE_DEFAULTABLE}
    if template.contact_type_id:
        merged["type"] = template.contact_type_id
    if isinstance(merged.get("custom_fields"), dict) and isinstance(data.get("custom_fields"), dict):
        data = {**data, "custom_fields": {**merged["custom_fields"], **data["custom_fields"]}}
    merged.update(data)
    return merged


def _set_categories(contact_ids: list, categories: list | None, *, replace: bool) -> None:
    if categories is None:
        return
    if replace:
        ContactCategory.objects.filter(contact_id__in=contact_ids).exclude(category_id__in=categories).delete()
    ContactCategory.objects.bulk_create(
        [ContactCategory(contact_id=cid, category_id=cat) for cid in contact_ids for cat in categories],
        ignore_conflicts=True,
    )


def invalidate_contacts(contact_ids: Iterable) -> None:
    cache.invalidate_on_commit(*(cache.contact_detail_key(cid) for cid in contact_ids))


def contact_event_data(contact: Contact, **extra) -> dict[str, Any]:
    """What webhooks say about a contact: the fields a subscription can filter on."""
    return {"id": str(contact.pk), "first_name": contact.first_name, "last_name": contact.last_name,
            "email": contact.email, "phone": contact.phone, "status": contact.status, "type": contact.type_id,
            "organization": str(contact.organization_id) if contact.organization_id else None,
            "team": str(contact.team_id) if contact.team_id else None, "owner": contact.owner_id,
            "tags": list(contact.tags or []), **extra}


# --------------------------------------------------------------------------- contacts
def contact_create(*, data: dict[str, Any], actor=None, template_id=None) -> Contact:
    """Create one contact; `template_id` applies a template's defaults, required and custom fields."""
    template = _template(template_id if template_id is not None else data.get("template"))
    data = _with_template_defaults({k: v for k, v in data.items() if k != "template"}, template)
    errors = Errors()
    values, categories = _clean_contact(data, errors, _Refs([data]), instance=None, template=template)
    _check_required(values, errors, template, None)
    if values.get("email") and emails_taken([values["email"]]):
        _unique_email_error(errors)
    errors.raise_if_any()
    now = timezone.now()
    contact = Contact(**values, template=template, status_changed_at=now)

    def write():
        with audited(actor, "contact.create", template=str(template.pk) if template else None):
            contact.save(force_insert=True)
            _set_categories([contact.pk], categories, replace=False)
            contact.category_ids, contact.group_ids = list(categories or []), []  # as the detail reads them
            emit("contact.created", contact_event_data(contact))
        return contact

    return _save_unique(write)


def parse_create_policy(value: Any, field: str = "on_duplicate") -> str:
    """The on_duplicate policy of a create: "create" (the default) or one an app registered under
    `contact_create_policies` (data quality: skip, update, reject)."""
    if value in (None, ""):
        return "create"
    policies = ["create", *registry["contact_create_policies"]]
    if not isinstance(value, str) or value not in policies:
        raise InvalidInput.field(field, f"{value!r} is not a duplicate policy; choose one of {policies}.",
                                 "invalid_choice")
    return value


def contact_create_with_policy(*, data: dict[str, Any], policy: str, actor=None) -> tuple[Contact, bool]:
    """Create a contact, or let the registered `policy` decide what a duplicate of it does. Returns
    (contact, created)."""
    policy = parse_create_policy(policy)
    if policy == "create":
        return contact_create(data=data, actor=actor), True
    return registry["contact_create_policies"][policy](data=data, actor=actor)


def contact_bulk_create(*, rows: list[dict[str, Any]], actor=None) -> list[Contact]:
    """Up to BULK_CREATE_MAX contacts, all or nothing; errors are named `contacts[i].field`."""
    if not isinstance(rows, list) or not rows:
        raise InvalidInput.field("contacts", "Give a non-empty list of contacts.", "required")
    if len(rows) > settings.BULK_CREATE_MAX:
        raise InvalidInput.field("contacts", f"At most {settings.BULK_CREATE_MAX} contacts per call.", "max_length")
    templates = {}
    prepared = []
    errors = Errors()
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            errors.add(f"contacts[{index}]", "Each contact is an object.")
            prepared.append({})
            continue
        tid = row.get("template")
        if tid not in (None, "") and str(tid) not in templates:
            try:
                templates[str(tid)] = _template(tid)
            except InvalidInput:
                templates[str(tid)] = None
        template = templates.get(str(tid)) if tid not in (None, "") else None
        if tid not in (None, "") and template is None:
            errors.add(f"contacts[{index}].template", f"No contact template with id {tid!r}.", "does_not_exist")
        prepared.append(_with_template_defaults({k: v for k, v in row.items() if k != "template"}, template))
    refs = _Refs(prepared)
    contacts, category_sets, seen_emails = [], [], {}
    now = timezone.now()
    for index, data in enumerate(prepared):
        row_errors = Errors(prefix=f"contacts[{index}].")
        tid = rows[index].get("template") if isinstance(rows[index], dict) else None
        template = templates.get(str(tid)) if tid not in (None, "") else None
        values, categories = _clean_contact(data, row_errors, refs, instance=None, template=template)
        _check_required(values, row_errors, template, None)
        email = values.get("email", "").lower()
        if email:
            if email in seen_emails:
                row_errors.add("email", f"Same email as contacts[{seen_emails[email]}].", "unique")
            seen_emails.setdefault(email, index)
        errors.extend(row_errors)
        contacts.append(Contact(**values, template=template, status_changed_at=now))
        category_sets.append(categories)
    taken = emails_taken(list(seen_emails))
    for email in taken:
        errors.add(f"contacts[{seen_emails[email]}].email", "A contact with this email already exists.", "unique")
    errors.raise_if_any()

    def write():
        with audited(actor, "contact.bulk_create", count=len(contacts)):
            insert_rows(Contact, contacts)  # one parameter per column: 4× faster than bulk_create's VALUES
            links = [ContactCategory(contact_id=c.pk, category_id=cat)
                     for c, cats in zip(contacts, category_sets) for cat in (cats or [])]
            ContactCategory.objects.bulk_create(links, ignore_conflicts=True)
            for created in contacts:
                emit("contact.created", contact_event_data(created))
        return contacts

    return _save_unique(write)


def _locked_contact(contact_id) -> Contact:
    key = parse_uuid(contact_id)
    # with its category and group ids (the response's), so a write needs no read-back after it
    contact = compiled.one_by_pk("contact-for-update", lambda pk: contact_base().select_for_update(of=("self",))
                                 .filter(pk=pk), key) if key else None
    if contact is None:
        raise NotFound("Contact not found.")
    return contact


def _check_transition(current: str, target: str) -> None:
    if target == current:
        return
    if target not in ALLOWED_TRANSITIONS.get(current, ()):
        allowed = sorted(ALLOWED_TRANSITIONS.get(current, ()))
        raise Conflict(f"A contact cannot go from {current!r} to {target!r}; from {current!r} it may go to {allowed}.",
                       errors=[], extra={"from": current, "to": target, "allowed": allowed})


def contact_update(*, contact_id, data: dict[str, Any], actor=None, replace: bool = False) -> Contact:
    """PATCH (only the given fields) or PUT (`replace=True`: fields not given return to their defaults).

    A status given here follows the same lifecycle table as `contact_update_status`.
    """
    with transaction.atomic():
        contact = _locked_contact(contact_id)
        template = contact.template if contact.template_id else None
        if replace:
            defaults = {"last_name": "", "first_name": "", "email": "", "phone": "", "organization": None,
                        "type": None, "job_title": "", "owner": None, "team": None, "timezone": "", "locale": "",
                        "priority": Priority.NORMAL, "custom_fields": {}, "reports_to": None, "categories": [],
                        "tags": []}
            data = {**defaults, "status": contact.status, **data}
        errors = Errors()
        values, categories = _clean_contact(data, errors, _Refs([data]), instance=contact, template=template)
        if "status" in values:
            _check_transition(contact.status, values["status"])
        _check_required(values, errors, template, contact)
        if values.get("email") and values["email"].lower() != contact.email.lower() and emails_taken(
                [values["email"]], exclude_id=contact.pk):
            _unique_email_error(errors)
        errors.raise_if_any()
        changed = [k for k, v in values.items() if getattr(contact, k) != v]
        for key in changed:
            setattr(contact, key, values[key])
        if "status" in changed:
            contact.status_changed_at = timezone.now()
            changed.append("status_changed_at")

        def write():
            with audited(actor, "contact.replace" if replace else "contact.update"):
                if changed:
                    contact.save(update_fields=[*changed, "updated_at"])
                    emit("contact.updated", contact_event_data(contact, changed=sorted(changed)))
                _set_categories([contact.pk], categories, replace=True)
                if categories is not None:
                    contact.category_ids = list(categories)
            return contact

        contact = _save_unique(write, savepoint=False)  # the InvalidInput leaves this atomic block: all rolled back
        invalidate_contacts([contact.pk])
    return contact


def contact_update_status(*, contact_id, status: str, reason: str = "", actor=None) -> Contact:
    """Move a contact along the lifecycle; records who, when and why. Disallowed moves are 409."""
    if status not in STATUS_VALUES:
        raise InvalidInput.field("status", f"{status!r} is not a status; choose one of {ContactStatus.values}.",
                                 "invalid_choice")
    if not isinstance(reason, str) or len(reason) > 500:
        raise InvalidInput.field("reason", "The reason is text of at most 500 characters.", "invalid")
    with transaction.atomic():
        contact = _locked_contact(contact_id)
        previous = contact.status
        _check_transition(previous, status)
        if previous == status:
            return contact
        with audited(actor, "contact.status", reason=reason, status_from=previous, status_to=status):
            contact.status = status
            contact.status_changed_at = timezone.now()
            contact.save(update_fields=["status", "status_changed_at", "updated_at"])
            emit("contact.updated", contact_event_data(contact, changed=["status"], status_from=previous,
                                                       reason=reason))
        invalidate_contacts([contact.pk])
    return contact


def contact_delete(*, contact_id, actor=None) -> None:
    with transaction.atomic():
        contact = _locked_contact(contact_id)
        with audited(actor, "contact.delete"):
            Contact.objects.filter(reports_to=contact).update(reports_to=None)
            data = contact_event_data(contact)
            contact.delete()
            emit("contact.deleted", data)
        invalidate_contacts([contact_id])


def contacts_delete(*, contacts: QuerySet[Contact], actor=None) -> int:
    """Delete many contacts as `contact_delete` deletes one: locked, their reports detached, each one's
    `contact.deleted` event, out of the cache. One statement per collection (the rows, reports, related
    tables through the ORM collector), never one per contact. The caller scopes `contacts` (editable_by)."""
    with transaction.atomic(), audited(actor, "contact.delete_many"):
        locked = list(Contact.objects.select_for_update(of=("self",)).filter(
            pk__in=contacts.order_by().values("pk")).order_by("pk"))
        if not locked:
            return 0
        ids = [c.pk for c in locked]
        Contact.objects.filter(reports_to_id__in=ids).exclude(pk__in=ids).update(reports_to=None)
        Contact.objects.filter(pk__in=ids).update(reports_to=None)
        events = [contact_event_data(c) for c in locked]
        Contact.objects.filter(pk__in=ids).delete()
        for data in events:
            emit("contact.deleted", data)
        invalidate_contacts(ids)
    return len(ids)


def organization_contacts_delete(organization_id, actor) -> int:
    """The organization's cascade (registry `organization_contact_deleters`): when `actor` may change every
    contact of the organization, delete them through `contacts_delete` and answer 0; otherwise delete nothing
    and answer how many they may not change."""
    contacts = Contact.objects.filter(organization_id=organization_id)
    if actor is not None and not sees_all(actor):
        others = contacts.exclude(pk__in=Contact.objects.editable_by(actor).filter(
            organization_id=organization_id).values("pk")).count()
        if others:
            return others
    contacts_delete(contacts=contacts, actor=actor)
    return 0


# --------------------------------------------------------------------------- groups
def _group(group_id, *, lock: bool = False) -> ContactGroup:
    key = parse_uuid(group_id)
    query = ContactGroup.objects.select_for_update() if lock else ContactGroup.objects
    group = query.filter(pk=key).first() if key else None
    if group is None:
        raise NotFound("Group not found.")
    return group


def _clean_group(data: dict, errors: Errors) -> dict:
    values = {}
    for key, value in data.items():
        if reject_nul(key, value, errors):
            continue
        if key == "name":
            value = (value or "").strip() if isinstance(value, str) else value
            if not isinstance(value, str) or not value:
                errors.add("name", "A name is required.", "required")
            elif len(value) > 100:
                errors.add("name", "At most 100 characters.", "max_length")
            else:
                values["name"] = value
        elif key == "description":
            values["description"] = value or ""
        elif key == "organization":
            org = parse_uuid(value) if value not in (None, "") else None
            if value not in (None, "") and not Organization.objects.filter(pk=org).exists():
                errors.add("organization", f"No organization with id {value!r}.", "does_not_exist")
            else:
                values["organization_id"] = org
        elif key != "contact_ids":
            errors.add(key, "Unknown field.", "unknown_field")
    return values


def _parse_contact_ids(contact_ids: Any, field: str = "contact_ids") -> list:
    if not isinstance(contact_ids, (list, tuple)):
        raise InvalidInput.field(field, "Expected a list of contact ids.")
    if len(contact_ids) > settings.GROUP_MEMBERSHIP_MAX_IDS:
        raise InvalidInput.field(field, f"At most {settings.GROUP_MEMBERSHIP_MAX_IDS} ids per call.", "max_length")
    parsed = [parse_uuid(v) for v in contact_ids]
    malformed = [str(v) for v, p in zip(contact_ids, parsed) if p is None]
    if malformed:
        raise InvalidInput.field(field, f"Not contact ids: {malformed[:20]}.", "invalid")
    unique = list(dict.fromkeys(parsed))
    with connection.cursor() as cursor:  # one array parameter, not 10,000 placeholders to build and parse
        cursor.execute("SELECT id FROM contacts_contact WHERE id = ANY(%s::uuid[])", [unique])
        found = {row[0] for row in cursor.fetchall()}
    missing = [str(p) for p in unique if p not in found]
    if missing:
        more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        raise InvalidInput(f"{len(missing)} contact ids do not exist; nothing was changed.",
                           errors=[FieldError(field, "does_not_exist", f"No contacts with ids {missing[:20]}{more}.")],
                           extra={"missing": missing[:100]})
    return unique


def group_create(*, data: dict[str, Any], actor=None) -> ContactGroup:
    """The RFC's create_group(name, description, contact_ids)."""
    errors = Errors()
    values = _clean_group({"name": data.get("name"), **data}, errors)
    errors.raise_if_any()
    contact_ids = _parse_contact_ids(data.get("contact_ids") or [])
    with transaction.atomic(), audited(actor, "group.create"):
        group = ContactGroup.objects.create(**values, owner_id=getattr(actor, "pk", None))
        _add_members(group, contact_ids)
    return group


def group_update(*, group_id, data: dict[str, Any], actor=None) -> ContactGroup:
    errors = Errors()
    values = _clean_group(data, errors)
    errors.raise_if_any()
    with transaction.atomic(), audited(actor, "group.update"):
        group = _group(group_id, lock=True)
        for key, value in values.items():
            setattr(group, key, value)
        if values:
            group.save(update_fields=[*values, "updated_at"])
        if "contact_ids" in data:
            _replace_members(group, _parse_contact_ids(data["contact_ids"]))
    return group


def group_delete(*, group_id, actor=None) -> None:
    with transaction.atomic(), audited(actor, "group.delete"):
        group = _group(group_id, lock=True)
        member_ids = list(group.memberships.values_list("contact_id", flat=True))
        group.delete()
        invalidate_contacts(member_ids)


def _add_members(group: ContactGroup, contact_ids: list) -> int:
    """One INSERT for all ids, existing memberships kept; returns how many were new."""
    if not contact_ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO contacts_groupmembership (group_id, contact_id, added_at)
            SELECT %s, contact_id, now() FROM unnest(%s::uuid[]) AS contact_id
            ON CONFLICT (group_id, contact_id) DO NOTHING""", [group.pk, list(contact_ids)])
        added = cursor.rowcount
    invalidate_contacts(contact_ids)
    return added


def _remove_members(group: ContactGroup, contact_ids: list) -> int:
    """One DELETE (the audit trigger records each membership removed); returns how many there were."""
    if not contact_ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM contacts_groupmembership WHERE group_id = %s AND contact_id = ANY(%s::uuid[])",
                       [group.pk, list(contact_ids)])
        removed = cursor.rowcount
    invalidate_contacts(contact_ids)
    return removed


def _replace_members(group: ContactGroup, contact_ids: list) -> None:
    removed = list(GroupMembership.objects.filter(group=group).exclude(contact_id__in=contact_ids)
                   .values_list("contact_id", flat=True))
    _remove_members(group, removed)
    _add_members(group, contact_ids)


def group_update_contacts(*, group_id, add: Iterable = (), remove: Iterable = (), actor=None) -> dict:
    """The RFC's update_group_contacts: add and/or remove up to 10,000 contacts, in a constant number of queries.

    One unknown id changes nothing (400 listing the missing ids).
    """
    add_ids = _parse_contact_ids(list(add)) if add else []
    remove_ids = _parse_contact_ids(list(remove)) if remove else []
    with transaction.atomic(), audited(actor, "group.update_contacts", added=len(add_ids), removed=len(remove_ids)):
        group = _group(group_id, lock=True)
        added = _add_members(group, add_ids)
        removed = _remove_members(group, remove_ids)
        ContactGroup.objects.filter(pk=group.pk).update(updated_at=timezone.now())
    return {"added": added, "removed": removed, "group": str(group.pk)}


# --------------------------------------------------------------------------- templates
TEMPLATE_FIELDS = ("name", "description", "contact_type", "defaults", "required_fields", "custom_fields")


def _clean_template(data: dict, errors: Errors, instance: ContactTemplate | None) -> dict:
    values: dict[str, Any] = {}
    for key, value in data.items():
        if reject_nul(key, value, errors):
            continue
        if key not in TEMPLATE_FIELDS:
            errors.add(key, "Unknown field.", "unknown_field")
        elif key == "name":
            if not isinstance(value, str) or not value.strip():
                errors.add("name", "A name is required.", "required")
            else:
                clash = ContactTemplate.objects.filter(name__iexact=value.strip())
                if instance is not None:
                    clash = clash.exclude(pk=instance.pk)
                if clash.exists():
                    errors.add("name", "A template with this name already exists.", "unique")
                values["name"] = value.strip()
        elif key == "description":
            values["description"] = value or ""
        elif key == "contact_type":
            if value in (None, ""):
                values["contact_type_id"] = None
            elif not ContactType.objects.filter(pk=str(value)).exists():
                errors.add("contact_type", f"No contact type with key {value!r}.", "does_not_exist")
            else:
                values["contact_type_id"] = str(value)
        elif key == "required_fields":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                errors.add("required_fields", "Expected a list of field names.")
                continue
            bad = [v for v in value if v not in CONTACT_FIELDS and not v.startswith("custom.")]
            if bad:
                errors.add("required_fields", f"Not contact fields: {bad}.", "invalid_choice")
            values["required_fields"] = list(dict.fromkeys(value))
        elif key == "custom_fields":
            try:
                values["custom_fields"] = validate_custom_field_definitions(value)
            except InvalidInput as exc:
                errors.items.extend(exc.errors)
        elif key == "defaults":
            if not isinstance(value, dict):
                errors.add("defaults", "Expected an object of contact field: value.")
                continue
            bad = [k for k in value if k not in TEMPLATE_DEFAULTABLE]
            if bad:
                errors.add("defaults", f"Not contact fields a template can default: {bad}.", "invalid_choice")
                continue
            # the defaults must themselves be valid contact values
            probe = Errors(prefix="defaults.")
            _clean_contact(dict(value), probe, _Refs([value]), instance=None, template=None)
            errors.extend(probe)
            values["defaults"] = value
    if "custom_fields" in values or "required_fields" in values:
        definitions = values.get("custom_fields", instance.custom_fields if instance else [])
        keys = {d["key"] for d in definitions}
        for field in values.get("required_fields", instance.required_fields if instance else []):
            if field.startswith("custom.") and field.removeprefix("custom.") not in keys:
                errors.add("required_fields", f"{field!r} names no custom field of this template.", "invalid_choice")
    return values


def template_create(*, data: dict[str, Any], actor=None) -> ContactTemplate:
    errors = Errors()
    values = _clean_template({"name": data.get("name"), **data}, errors, None)
    errors.raise_if_any()
    with transaction.atomic(), audited(actor, "template.create"):
        template = ContactTemplate.objects.create(**values)
    return template


def template_update(*, template_id, data: dict[str, Any], actor=None) -> ContactTemplate:
    with transaction.atomic(), audited(actor, "template.update"):
        key = parse_uuid(template_id)
        template = ContactTemplate.objects.select_for_update().filter(pk=key).first() if key else None
        if template is None:
            raise NotFound("Template not found.")
        errors = Errors()
        values = _clean_template(data, errors, template)
        errors.raise_if_any()
        for k, v in values.items():
            setattr(template, k, v)
        if values:
            template.save(update_fields=[*values, "updated_at"])
    return template


def template_delete(*, template_id, actor=None) -> None:
    with transaction.atomic(), audited(actor, "template.delete"):
        key = parse_uuid(template_id)
        deleted, _ = ContactTemplate.objects.filter(pk=key).delete() if key else (0, {})
        if not deleted:
            raise NotFound("Template not found.")



# --------------------------------------------------------------------------- report rollup
def contact_rollup_compact() -> dict[str, int]:
    """Fold the report rollup's deltas into one row per (dimension, value). Deletes only the rows this
    statement sees, so deltas committed meanwhile survive and are folded next time; safe to run anytime."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("""
            WITH gone AS (DELETE FROM contacts_contactrollup RETURNING dimension, value, delta)
            INSERT INTO contacts_contactrollup (dimension, value, delta)
            SELECT dimension, value, sum(delta) FROM gone GROUP BY 1, 2 HAVING sum(delta) <> 0""")
        kept = cursor.rowcount
    return {"rows": kept}
