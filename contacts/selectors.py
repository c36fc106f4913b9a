"""Contact reads. Related ids come as array subqueries in the same statement (no N+1, no extra queries)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek

from contacts_project import cache, compiled
from contacts_project.errors import NotFound
from contacts_project.ids import parse_uuid
from contacts_project.registry import registry
from contacts_project.timefmt import iso_z

from . import models as models_module
from .models import Contact, ContactCategory, ContactGroup, ContactTemplate, GroupMembership

CONTACT_FIELDS_OUT = (
    "id", "first_name", "last_name", "full_name", "email", "phone", "organization", "type", "status", "job_title",
    "owner", "team", "timezone", "locale", "priority", "custom_fields", "reports_to", "categories", "tags", "groups",
    "template", "status_changed_at", "last_contacted_at", "last_engaged_at", "engagement_score", "created_at",
    "updated_at",
)



def _s(value) -> str | None:
    return None if value is None else str(value)


def contact_to_dict(contact: Contact) -> dict[str, Any]:
    """The API representation of a contact (also what the detail cache holds)."""
    return {
        "id": str(contact.id),
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "full_name": contact.full_name,
        "email": contact.email,
        "phone": contact.phone,
        "organization": _s(contact.organization_id),
        "type": contact.type_id,
        "status": contact.status,
        "job_title": contact.job_title,
        "owner": contact.owner_id,
        "team": _s(contact.team_id),
        "timezone": contact.timezone,
        "locale": contact.locale,
        "priority": contact.priority,
        "custom_fields": contact.custom_fields,
        "reports_to": _s(contact.reports_to_id),
        "categories": [str(c) for c in getattr(contact, "category_ids", None) or []],
        "tags": contact.tags,
        "groups": [str(g) for g in getattr(contact, "group_ids", None) or []],
        "template": _s(contact.template_id),
        "status_changed_at": iso_z(contact.status_changed_at),
        "last_contacted_at": iso_z(contact.last_contacted_at),
        "last_engaged_at": iso_z(contact.last_engaged_at),
        "engagement_score": contact.engagement_score,
        "created_at": iso_z(contact.created_at),
        "updated_at": iso_z(contact.updated_at),
    }


def contact_base() -> QuerySet[Contact]:
    """Contacts with their category and group ids, in one statement."""
    return Contact.objects.defer("search_text").annotate(
        category_ids=ArraySubquery(ContactCategory.objects.filter(contact_id=OuterRef("pk")).values("category_id")),
        group_ids=ArraySubquery(GroupMembership.objects.filter(contact_id=OuterRef("pk")).values("group_id")),
    )


# --------------------------------------------------------------------------- visibility
# One mechanism: `Contact.objects.visible_to(user)` / `editable_by(user)` (contacts.models.ContactQuerySet).
# These functions are the selectors' spelling of it; `user=None` means a system job (explicitly all contacts).
ADMIN_ROLE = models_module.ADMIN_ROLE
WRITER_TEAM_ROLES = models_module.WRITER_TEAM_ROLES


def sees_all(user) -> bool:
    """No user (the system: tasks, beat), superusers and the admin role see every contact."""
    return user is None or models_module.sees_all(user)


def visible_contacts(user, queryset: QuerySet[Contact] | None = None) -> QuerySet[Contact]:
    """THE base queryset of every contact read for a user (see ContactQuerySet.visible_to). Anything outside
    it is 404, never 403. `user=None` is a system job: every contact."""
    queryset = contact_base() if queryset is None else queryset
    return queryset.for_system() if user is None else queryset.visible_to(user)


def editable_contacts(user, queryset: QuerySet[Contact] | None = None) -> QuerySet[Contact]:
    """The visible contacts the user may change: not those of a team where they are only a viewer."""
    queryset = contact_base() if queryset is None else queryset
    return queryset.for_system() if user is None else queryset.editable_by(user)


def check_contact_access(user, contact_id, *, write: bool = False) -> None:
    """404 when the user may not see the contact; 403 when they see it but may not change it."""
    if sees_all(user):
        return
    key = parse_uuid(contact_id)
    if key is None or not visible_contacts(user, Contact.objects.all()).filter(pk=key).exists():
        raise NotFound("Contact not found.")
    if write and not editable_contacts(user, Contact.objects.all()).filter(pk=key).exists():
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied("You may read this contact but not change it (viewer in its team).")


def visible_contact(user, contact_id) -> Contact:
    """The contact if the user may see it, else 404 (never 403: existence is not revealed)."""
    key = parse_uuid(contact_id)
    contact = visible_contacts(user, Contact.objects.all()).filter(pk=key).first() if key else None
    if contact is None:
        raise NotFound("Contact not found.")
    return contact


def visible_contact_ids(user, ids) -> set[str]:
    """Which of `ids` the user may see (all of them for admins), as strings: one query."""
    if sees_all(user):
        return {str(i) for i in ids}
    rows = visible_contacts(user, Contact.objects.all()).filter(pk__in=list(ids)).values_list("pk", flat=True)
    return {str(pk) for pk in rows}


def contact_list(user=None) -> QuerySet[Contact]:
    """Contacts with their categories and groups; with `user`, only those the user may see."""
    return visible_contacts(user) if user is not None else contact_base()


def contact_get(*, contact_id, user=None) -> Contact:
    key = parse_uuid(contact_id)
    if key is not None and user is None:  # the read-back after a write: its SQL compiled once
        contact = compiled.one_by_pk("contact", lambda pk: contact_base().filter(pk=pk), key)
    else:
        contact = contact_list(user).filter(pk=key).first() if key else None
    if contact is None:
        raise NotFound("Contact not found.")
    return contact


def contact_get_details(*, contact_id, user=None) -> dict[str, Any]:
    """The RFC's get_contact_details: cache-aside in Redis, built from PostgreSQL on a miss.

    The cache holds one representation for everyone, so visibility is checked before it is consulted."""
    key = parse_uuid(contact_id)
    if key is None:
        raise NotFound("Contact not found.")
    if user is not None:
        check_contact_access(user, key)

    def build():
        # higher apps add id arrays (planning: `lists`), read by this one statement on cache misses only; the app
        # that owns the data invalidates the contact's cache when it changes
        # aliased: a detail field may share its name with a relation (planning's `lists`)
        arrays = registry["contact_detail_arrays"]
        contact = compiled.one_by_pk(("contact-detail", *arrays.items()), lambda pk: contact_base().annotate(
            **{f"detail_{name}": subquery() for name, subquery in arrays.items()}).filter(pk=pk), key)
        if contact is None:
            return None
        data = contact_to_dict(contact)
        for name in arrays:
            data[name] = [str(value) for value in getattr(contact, f"detail_{name}")]
        return data

    data = cache.get_or_build(cache.contact_detail_key(key), build, settings.CONTACT_CACHE_TIMEOUT)
    if data is None:
        raise NotFound("Contact not found.")
    return data


# --------------------------------------------------------------------------- groups
def group_list() -> QuerySet[ContactGroup]:
    return ContactGroup.objects.all()


def group_get(*, group_id) -> ContactGroup:
    key = parse_uuid(group_id)
    group = ContactGroup.objects.filter(pk=key).first() if key else None
    if group is None:
        raise NotFound("Group not found.")
    return group


def group_contacts(*, group_id, user=None) -> QuerySet[Contact]:
    group = group_get(group_id=group_id)
    return contact_list(user).filter(Exists(GroupMembership.objects.filter(group=group, contact_id=OuterRef("pk"))))


def organization_groups(*, organization_id) -> QuerySet[ContactGroup]:
    """The RFC's get_organization_groups: groups that belong to the organization or hold its contacts."""
    members_of_org = GroupMembership.objects.filter(group_id=OuterRef("pk"), contact__organization_id=organization_id)
    return ContactGroup.objects.filter(Q(organization_id=organization_id) | Exists(members_of_org))


def template_list() -> QuerySet[ContactTemplate]:
    return ContactTemplate.objects.all()


# --------------------------------------------------------------------------- history
def contact_history(*, contact_id, before: int | None = None, limit: int = 50) -> tuple[list[dict], int | None]:
    """The audit trail of a contact, newest first: who, when, which fields, before and after.

    Contact snapshots (pghistory) are diffed against the previous snapshot; group membership
    events are merged in. Returns (rows, cursor for the next page or None).
    """
    ContactEvent = apps.get_model("contacts", "ContactEvent")
    MembershipEvent = apps.get_model("contacts", "GroupMembershipEvent")
    key = parse_uuid(contact_id)
    if key is None:
        raise NotFound("Contact not found.")
    events = ContactEvent.objects.filter(pgh_obj_id=key).select_related("pgh_context").order_by("-pgh_id")
    if before is not None:
        events = events.filter(pgh_id__lt=before)
    snapshots = list(events[: limit + 2])
    if not snapshots and not Contact.objects.filter(pk=key).exists():
        raise NotFound("Contact not found.")
    tracked = [f.name for f in Contact._meta.concrete_fields if f.name != "search_text"]
    rows = []
    for index, event in enumerate(snapshots[: limit + 1]):
        older = snapshots[index + 1] if index + 1 < len(snapshots) else None
        meta = (event.pgh_context.metadata if event.pgh_context_id else {}) or {}
        if event.pgh_label == "insert" or older is None:
            changes = {f: {"before": None, "after": _jsonable(getattr(event, _attname(f)))} for f in tracked
                       if getattr(event, _attname(f)) not in (None, "", [], {})} if event.pgh_label == "insert" else {}
        else:
            changes = {f: {"before": _jsonable(getattr(older, _attname(f))),
                           "after": _jsonable(getattr(event, _attname(f)))}
                       for f in tracked if getattr(older, _attname(f)) != getattr(event, _attname(f))
                       and f != "updated_at"}
        rows.append({
            "id": f"contact-{event.pgh_id}",
            "event": {"insert": "created", "update": "updated", "delete": "deleted"}.get(event.pgh_label,
                                                                                         event.pgh_label),
            "at": iso_z(event.pgh_created_at),
            "actor": {"id": meta.get("user"), "username": meta.get("username")} if meta.get("user") else None,
            "action": meta.get("action", ""),
            "reason": meta.get("reason", ""),
            "changes": changes,
        })
    has_more = len(snapshots) > limit
    rows = rows[:limit]
    cursor = snapshots[limit - 1].pgh_id if has_more and len(snapshots) >= limit else None
    if before is None:  # group membership changes, newest first, on the first page
        memberships = MembershipEvent.objects.filter(contact_id=key).select_related("pgh_context", "group") \
            .order_by("-pgh_id")[:limit]
        for event in memberships:
            meta = (event.pgh_context.metadata if event.pgh_context_id else {}) or {}
            rows.append({
                "id": f"membership-{event.pgh_id}",
                "event": "added_to_group" if event.pgh_label == "insert" else "removed_from_group",
                "at": iso_z(event.pgh_created_at),
                "actor": {"id": meta.get("user"), "username": meta.get("username")} if meta.get("user") else None,
                "action": meta.get("action", ""),
                "reason": meta.get("reason", ""),
                "changes": {"group": {"before": None, "after": str(event.group_id)} if event.pgh_label == "insert"
                            else {"before": str(event.group_id), "after": None}},
            })
        rows.sort(key=lambda r: r["at"], reverse=True)
    return rows, cursor


def _attname(name: str) -> str:
    field = Contact._meta.get_field(name)
    return field.attname


def _jsonable(value):
    if isinstance(value, dt.datetime):
        return iso_z(value)
    if isinstance(value, (dt.date,)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool, list, dict)):
        return value
    return str(value)


# --------------------------------------------------------------------------- reports
PERIODS = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}


def contact_report(*, contacts: QuerySet[Contact], period: str, start: dt.datetime, end: dt.datetime,
                   top: int = 20) -> dict[str, Any]:
    """Counts by status, type, organization and owner and new contacts per period. Over all contacts the
    counts come from the trigger-kept rollup (`ContactRollup`); over a filter, from one scan (GROUPING SETS)."""
    if contacts.query.where:
        total, by_status, by_type, by_org, by_owner = _counts_by_scan(contacts)
    else:  # every contact: the trigger-kept rollup, not a scan of the table
        total, by_status, by_type, by_org, by_owner = _counts_from_rollup()
    trunc = PERIODS[period]
    series = (contacts.filter(created_at__gte=start, created_at__lt=end)
              .annotate(bucket=trunc("created_at")).values("bucket").annotate(count=Count("pk")).order_by("bucket"))
    return {
        "total": total,
        "by_status": by_status,
        "by_type": by_type,
        "by_organization": by_org[:top],
        "by_owner": by_owner[:top],
        "new_contacts": {"period": period, "start": iso_z(start), "end": iso_z(end),
                         "buckets": [{"start": iso_z(row["bucket"]), "count": row["count"]} for row in series]},
    }


def _counts_from_rollup():
    by: dict[str, dict[str, int]] = {"status": {}, "type": {}, "organization": {}, "owner": {}}
    with connection.cursor() as cursor:
        cursor.execute("SELECT dimension, value, sum(delta) FROM contacts_contactrollup GROUP BY 1, 2 "
                       "HAVING sum(delta) <> 0")
        for dimension, value, n in cursor.fetchall():
            by[dimension][value] = int(n)
    by_org = sorted(({"organization": value or None, "count": n} for value, n in by["organization"].items()),
                    key=lambda r: -r["count"])
    by_owner = sorted(({"owner": int(value) if value else None, "count": n} for value, n in by["owner"].items()),
                      key=lambda r: -r["count"])
    return sum(by["status"].values()), by["status"], by["type"], by_org, by_owner


def _counts_by_scan(contacts: QuerySet[Contact]):
    sql, params = contacts.order_by().values("pk").query.sql_with_params()
    where = f"WHERE c.id IN ({sql})"
    grouping = (
        f"SELECT c.status, c.type, c.organization_id, c.owner_id, GROUPING(c.status, c.type, c.organization_id, "
        f"c.owner_id) AS g, count(*) FROM {Contact._meta.db_table} c {where} "
        f"GROUP BY GROUPING SETS ((c.status), (c.type), (c.organization_id), (c.owner_id), ())"
    )
    by_status: dict = {}
    by_type: dict = {}
    by_org: list = []
    by_owner: list = []
    total = 0
    with connection.cursor() as cursor:
        cursor.execute(grouping, params)
        for status, ctype, org, owner, g, n in cursor.fetchall():
            if g == 0b0111:
                by_status[status] = n
            elif g == 0b1011:
                by_type[ctype or ""] = n
            elif g == 0b1101:
                by_org.append({"organization": _s(org), "count": n})
            elif g == 0b1110:
                by_owner.append({"owner": owner, "count": n})
            elif g == 0b1111:
                total = n
    by_org.sort(key=lambda r: -r["count"])
    by_owner.sort(key=lambda r: -r["count"])
    return total, by_status, by_type, by_org, by_owner
