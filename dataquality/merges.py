"""Merging two contacts into one, and undoing it within MERGE_UNDO_DAYS.

The survivor keeps its id. For each field the caller says whose value wins ("survivor" or "other");
fields not named keep the survivor's value, or take the other's when the survivor's is empty. Tags and
categories are the union, groups the union of memberships. Every row of every app that points at the
other contact (communications, notes, tasks, list and campaign rows…) moves to the survivor; rows that
cannot move because the survivor already has an equal one (a unique constraint) are set aside with their
data on the merge record. The other contact is then deleted — its audit history stays (pghistory keeps
its events, and the survivor's history lists them) — and the merge record keeps its snapshot, the
survivor's values before, and the moved row ids, which is what undo puts back.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.conf import settings
from django.core import serializers
from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.models import Contact, ContactCategory, GroupMembership
from contacts.services import emails_taken, invalidate_contacts
from contacts_project.audit import audited
from contacts_project.errors import Conflict, FieldError, InvalidInput, NotFound
from contacts_project.events import emit
from contacts_project.ids import parse_uuid
from contacts_project.registry import registry
from contacts_project.timefmt import iso_z

from . import relations
from .models import DuplicateCandidate, LegalHold, MergeRecord

MERGEABLE = {
    "first_name": "first_name", "last_name": "last_name", "email": "email", "phone": "phone",
    "organization": "organization_id", "type": "type_id", "status": "status", "job_title": "job_title",
    "owner": "owner_id", "team": "team_id", "timezone": "timezone", "locale": "locale", "priority": "priority",
    "custom_fields": "custom_fields", "reports_to": "reports_to_id",
}
SIDES = ("survivor", "other")
# contacts' own tables with their own merge rules (or none: they follow the contact's fate)
SPECIAL = (ContactCategory, GroupMembership, DuplicateCandidate, MergeRecord, LegalHold)


def undo_days() -> int:
    return int(getattr(settings, "MERGE_UNDO_DAYS", 30))


def _jsonable(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool, list, dict)):
        return value
    return str(value)


def snapshot(contact: Contact) -> dict[str, Any]:
    fields = {f.attname: _jsonable(getattr(contact, f.attname)) for f in Contact._meta.concrete_fields
              if f.name != "search_text"}
    return {
        "fields": fields,
        "categories": [str(c) for c in ContactCategory.objects.filter(contact=contact)
                       .values_list("category_id", flat=True)],
        "groups": [str(g) for g in GroupMembership.objects.filter(contact=contact).values_list("group_id", flat=True)],
    }


def _restore_value(attname: str, value):
    field = next(f for f in Contact._meta.concrete_fields if f.attname == attname)
    if value is None:
        return None
    if hasattr(field, "base_field") or field.get_internal_type() == "JSONField":
        return value
    return field.to_python(value)


def _validate_fields(fields: Any) -> dict[str, str]:
    if fields in (None, ""):
        return {}
    if not isinstance(fields, dict):
        raise InvalidInput.field("fields", "Expected an object of field: \"survivor\" | \"other\".")
    errors = []
    for key, side in fields.items():
        if key not in MERGEABLE:
            errors.append(FieldError(f"fields.{key}", "unknown_field",
                                     f"Not a mergeable field; choose from {sorted(MERGEABLE)}."))
        elif side not in SIDES:
            errors.append(FieldError(f"fields.{key}", "invalid_choice", "Choose \"survivor\" or \"other\"."))
    if errors:
        raise InvalidInput("", errors=errors)
    return dict(fields)


def _serialize(rows) -> list[dict]:
    return json.loads(serializers.serialize("json", rows))


def _move_rows(survivor: Contact, other: Contact) -> dict[str, Any]:
    """Re-point every row that references `other`. Returns {model label: [pks]} and the set-aside rows."""
    moved: dict[str, Any] = {"rows": {}, "set_aside": []}
    for model, fk in relations.contact_relations(exclude=SPECIAL):
        if model is Contact:  # reports_to: the other's reports now report to the survivor
            ids = [str(pk) for pk in Contact.objects.filter(reports_to=other).exclude(pk=survivor.pk)
                   .values_list("pk", flat=True)]
            Contact.objects.filter(pk__in=ids).update(reports_to=survivor)
            if ids:
                moved["rows"]["contacts.contact.reports_to"] = ids
            continue
        queryset = model._default_manager.filter(**{fk.name: other})
        pks = list(queryset.values_list("pk", flat=True))
        if not pks:
            continue
        try:
            with transaction.atomic():
                model._default_manager.filter(pk__in=pks).update(**{fk.name: survivor})
            done = pks
        except IntegrityError:
            # the survivor already has an equal row (unique constraint): move what can move, set the rest aside
            done = []
            for row in model._default_manager.filter(pk__in=pks):
                try:
                    with transaction.atomic():
                        model._default_manager.filter(pk=row.pk).update(**{fk.name: survivor})
                    done.append(row.pk)
                except IntegrityError:
                    moved["set_aside"].extend(_serialize([row]))
                    row.delete()
        if done:
            moved["rows"][f"{relations.label(model)}.{fk.name}"] = [str(pk) for pk in done]
    return moved


def contact_merge(*, survivor_id, other_id, fields: Any = None, actor=None) -> MergeRecord:
    survivor_key, other_key = parse_uuid(survivor_id), parse_uuid(other_id)
    if other_key is None:
        raise InvalidInput.field("other", "Give the id of the contact to merge into this one.", "required")
    if survivor_key == other_key:
        raise InvalidInput.field("other", "A contact cannot be merged with itself.", "same_contact")
    choices = _validate_fields(fields)
    with transaction.atomic():
        locked = {c.pk: c for c in Contact.objects.select_for_update().filter(pk__in=[survivor_key, other_key])
                  .order_by("pk")}
        if survivor_key not in locked:
            raise NotFound("Contact not found.")
        if other_key not in locked:
            raise InvalidInput.field("other", f"No contact with id {other_id!r}.", "does_not_exist")
        survivor, other = locked[survivor_key], locked[other_key]
        before, merged = snapshot(survivor), snapshot(other)

        values = {}
        for name, attname in MERGEABLE.items():
            mine, theirs = getattr(survivor, attname), getattr(other, attname)
            side = choices.get(name) or ("other" if mine in (None, "", {}, []) and theirs not in (None, "", {}, [])
                                         else "survivor")
            if side == "other" and mine != theirs:
                values[attname] = theirs
        if values.get("reports_to_id") == survivor.pk:
            values.pop("reports_to_id")
        tags = list(dict.fromkeys([*survivor.tags, *other.tags]))
        if tags != survivor.tags:
            values["tags"] = tags

        with audited(actor, "contact.merge", merged_from=str(other.pk), survivor=str(survivor.pk)):
            moved = _move_rows(survivor, other)
            have = set(ContactCategory.objects.filter(contact=survivor).values_list("category_id", flat=True))
            added_categories = [c for c in merged["categories"] if parse_uuid(c) not in have]
            ContactCategory.objects.bulk_create([ContactCategory(contact=survivor, category_id=c)
                                                 for c in added_categories], ignore_conflicts=True)
            in_groups = set(GroupMembership.objects.filter(contact=survivor).values_list("group_id", flat=True))
            added_groups = [g for g in merged["groups"] if parse_uuid(g) not in in_groups]
            GroupMembership.objects.bulk_create([GroupMembership(contact=survivor, group_id=g) for g in added_groups],
                                                ignore_conflicts=True)
            moved["added_categories"], moved["added_groups"] = added_categories, added_groups
            if not hasattr(survivor, "legal_hold") and LegalHold.objects.filter(contact=other).exists():
                LegalHold.objects.filter(contact=other).update(contact=survivor)
                moved["legal_hold"] = True
            moved["hooks"] = {name: hook(survivor.pk, other.pk) for name, (hook, _) in
                              registry["merge_hooks"].items()}
            other.delete()  # after the moves: nothing of value cascades; frees the email for the survivor
            for attname, value in values.items():
                setattr(survivor, attname, value)
            if values:
                survivor.save(update_fields=[*values, "updated_at"])
            record = MergeRecord.objects.create(
                survivor=survivor, survivor_key=survivor.pk, merged_key=other.pk if other.pk else other_key,
                fields=choices, survivor_before=before, merged_snapshot=merged, moved=moved,
                actor=actor if getattr(actor, "is_authenticated", False) else None)
            emit("contact.merged", {"id": str(survivor.pk), "merged": str(other_key), "merge": str(record.pk),
                                    "status": survivor.status, "team": str(survivor.team_id) if survivor.team_id
                                    else None, "owner": survivor.owner_id})
        invalidate_contacts([survivor_key, other_key])
    return record


def merge_undo(*, merge_id, actor=None) -> MergeRecord:
    key = parse_uuid(merge_id)
    with transaction.atomic():
        record = MergeRecord.objects.select_for_update().filter(pk=key).first() if key else None
        if record is None:
            raise NotFound("Merge not found.")
        if record.undone_at is not None:
            raise Conflict("This merge has already been undone.")
        if record.erased:
            raise Conflict("The merged contact's data was erased; this merge cannot be undone.")
        if timezone.now() - record.created_at > dt.timedelta(days=undo_days()):
            raise Conflict(f"Merges can be undone for {undo_days()} days; this one was made on "
                           f"{record.created_at.date().isoformat()}.",
                           extra={"merged_at": record.created_at.isoformat()})
        survivor = Contact.objects.select_for_update().filter(pk=record.survivor_key).first()
        if survivor is None:
            raise Conflict("The surviving contact no longer exists; this merge cannot be undone.")
        if Contact.objects.filter(pk=record.merged_key).exists():
            raise Conflict("A contact with the merged contact's id exists again.")
        snap = record.merged_snapshot["fields"]
        with audited(actor, "contact.merge_undo", merge=str(record.pk), merged_from=str(record.merged_key)):
            # the survivor's values before the merge first, so the merged contact's email is free again
            restore = {}
            for attname, value in record.survivor_before["fields"].items():
                if attname in ("updated_at", "created_at", "id"):
                    continue
                restored = _restore_value(attname, value)
                if getattr(survivor, attname) != restored:
                    restore[attname] = restored
            for attname, value in restore.items():
                setattr(survivor, attname, value)
            if restore:
                survivor.save(update_fields=[*restore, "updated_at"])
            email = snap.get("email") or ""
            if email and emails_taken([email]):
                raise Conflict(f"Another contact now uses {email}; change it before undoing this merge.")
            other = Contact(**{k: _restore_value(k, v) for k, v in snap.items()})
            other.save(force_insert=True)
            Contact.objects.filter(pk=other.pk).update(created_at=_restore_value("created_at", snap["created_at"]))
            moved = record.moved
            ContactCategory.objects.filter(contact=survivor, category_id__in=moved.get("added_categories", [])).delete()
            GroupMembership.objects.filter(contact=survivor, group_id__in=moved.get("added_groups", [])).delete()
            ContactCategory.objects.bulk_create([ContactCategory(contact=other, category_id=c)
                                                 for c in record.merged_snapshot["categories"]], ignore_conflicts=True)
            GroupMembership.objects.bulk_create([GroupMembership(contact=other, group_id=g)
                                                 for g in record.merged_snapshot["groups"]], ignore_conflicts=True)
            if moved.get("legal_hold"):
                LegalHold.objects.filter(contact=survivor).update(contact=other)
            by_table = {f"{relations.label(m)}.{f.name}": (m, f) for m, f in relations.contact_relations(SPECIAL)}
            for table, pks in moved.get("rows", {}).items():
                if table == "contacts.contact.reports_to":
                    Contact.objects.filter(pk__in=pks, reports_to=survivor).update(reports_to=other)
                elif table in by_table:
                    model, fk = by_table[table]
                    model._default_manager.filter(pk__in=pks, **{fk.name: survivor}).update(**{fk.name: other})
            for obj in serializers.deserialize("json", json.dumps(moved.get("set_aside", []))):
                obj.save()
            for name, payload in (moved.get("hooks") or {}).items():
                undo = registry["merge_hooks"].get(name, (None, None))[1]
                if undo is not None:
                    undo(survivor.pk, other.pk, payload)
            record.undone_at = timezone.now()
            record.undone_by = actor if getattr(actor, "is_authenticated", False) else None
            record.save(update_fields=["undone_at", "undone_by"])
        invalidate_contacts([survivor.pk, other.pk])
    return record


def merge_to_dict(record: MergeRecord) -> dict[str, Any]:
    deadline = record.created_at + dt.timedelta(days=undo_days())
    return {
        "id": str(record.id),
        "survivor": str(record.survivor_key),
        "merged": str(record.merged_key),
        "fields": record.fields,
        "moved": {table: len(pks) for table, pks in (record.moved.get("rows") or {}).items()},
        "set_aside": len(record.moved.get("set_aside") or []),
        "created_at": iso_z(record.created_at),
        "undo_until": iso_z(deadline),
        "undone_at": iso_z(record.undone_at),
        "undoable": record.undone_at is None and not record.erased and timezone.now() <= deadline,
    }
