"""GDPR: everything held about a person (access), erasure, retention of old content, legal holds.

Higher apps join in through `contacts_project.registry` (privacy_exporters, privacy_erasers,
privacy_erased_tables, retention_purgers); without an entry, every row that references the contact is
exported, and deleted on erasure with its audit snapshots.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import serializers
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact, ContactCategory
from contacts.services import invalidate_contacts
from contacts_project.audit import audited
from contacts_project.errors import Conflict, InvalidInput, NotFound
from contacts_project.ids import parse_uuid
from contacts_project.registry import registry

from . import relations
from .models import (
    DataAccessLog,
    DuplicateCandidate,
    ErasedIdentity,
    ImportedContact,
    LegalHold,
    MergeRecord,
)

ERASED_NAME = "Erased"
# contacts' own tables that erasure treats explicitly (the contact row is kept, anonymized)
OWN = (ContactCategory, DuplicateCandidate, MergeRecord, LegalHold)


# --------------------------------------------------------------------------- identity hashes
def _hash_key() -> bytes:
    return (getattr(settings, "ERASURE_HASH_KEY", "") or settings.SECRET_KEY).encode()


def identity_hash(kind: str, value: str) -> str:
    """Keyed hash of a normalized email (lower case) or E.164 phone; the same function runs in SQL for imports."""
    return hmac.new(_hash_key(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def identity_hash_sql(kind: str, column: str) -> tuple[str, list]:
    """SQL computing identity_hash for a column: HMAC-SHA256 via pgcrypto-free sha256 (RFC 2104 by hand)."""
    key = _hash_key()
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    ipad = bytes(b ^ 0x36 for b in key)
    opad = bytes(b ^ 0x5C for b in key)
    sql = (f"encode(sha256(%s::bytea || sha256(%s::bytea || convert_to('{kind}:' || {column}, 'UTF8'))), 'hex')")
    return sql, [opad, ipad]


def is_erased(*, email: str = "", phone: str = "") -> bool:
    digests = [identity_hash("email", email.lower())] if email else []
    digests += [identity_hash("phone", phone)] if phone else []
    return bool(digests) and ErasedIdentity.objects.filter(digest__in=digests).exists()


def consent_restored(*, email: str = "", phone: str = "", actor=None) -> int:
    """The person gave new consent: imports may bring them back."""
    digests = [identity_hash("email", email.lower())] if email else []
    digests += [identity_hash("phone", phone)] if phone else []
    deleted, _ = ErasedIdentity.objects.filter(digest__in=digests).delete()
    log_access(action="consent_restored", contact_key=None, actor=actor, detail={"identities": deleted})
    return deleted


# --------------------------------------------------------------------------- access log
def log_access(*, action: str, contact_key, actor, detail: dict | None = None) -> None:
    DataAccessLog.objects.create(action=action, contact_key=contact_key, detail=detail or {},
                                 actor=actor if getattr(actor, "is_authenticated", False) else None)


def _contact(contact_id, *, lock: bool = False) -> Contact:
    key = parse_uuid(contact_id)
    query = Contact.objects.select_for_update() if lock else Contact.objects
    contact = query.filter(pk=key).first() if key else None
    if contact is None:
        raise NotFound("Contact not found.")
    return contact


def _rows(queryset) -> list[dict]:
    return [{"id": r["pk"], **r["fields"]} for r in json.loads(serializers.serialize("json", queryset))]


# --------------------------------------------------------------------------- export (right of access)
def personal_data_export(*, contact_id, actor=None) -> dict[str, Any]:
    from contacts.selectors import contact_get, contact_history, contact_to_dict

    contact = _contact(contact_id)
    data: dict[str, Any] = {
        "generated_at": timezone.now().isoformat(),
        "contact": contact_to_dict(contact_get(contact_id=contact.pk)),
        "organization": _rows(apps.get_model("organization", "Organization").objects
                              .filter(pk=contact.organization_id))[:1] or None,
        "categories": _rows(apps.get_model("organization", "Category").objects.filter(contacts=contact)),
        "groups": _rows(contact.contact_groups.all()),
        "related": {},
        "legal_hold": _rows(LegalHold.objects.filter(contact=contact)),
        "merges": _rows(MergeRecord.objects.filter(survivor_key=contact.pk)),
        "imports": _rows(ImportedContact.objects.filter(contact_id=contact.pk)),
        "data_access_log": _rows(DataAccessLog.objects.filter(contact_key=contact.pk)),
    }
    for model, fk in relations.contact_relations(exclude=(*OWN, Contact)):
        label = relations.label(model)
        if label in ("contacts.groupmembership",):
            continue
        rows = _rows(model._default_manager.filter(**{fk.name: contact}))
        if rows:
            data["related"][label] = rows
    history, cursor = [], None
    while True:  # the whole audit trail, page by page
        page, cursor = contact_history(contact_id=contact.pk, before=cursor, limit=500)
        history.extend(page)
        if not cursor:
            break
    data["audit"] = history
    for name, exporter in registry["privacy_exporters"].items():
        data.setdefault("hooks", {})[name] = exporter(contact.pk)
    log_access(action="privacy_export", contact_key=contact.pk, actor=actor)
    return json.loads(json.dumps(data, default=str))


# --------------------------------------------------------------------------- erasure (right to be forgotten)
PERSONAL_FIELDS = {
    "first_name": ERASED_NAME, "last_name": "", "email": "", "phone": "", "job_title": "", "timezone": "",
    "locale": "", "custom_fields": {}, "tags": [], "organization_id": None, "reports_to_id": None,
    "owner_id": None, "team_id": None, "last_contacted_at": None, "last_engaged_at": None,
    "engagement_score": 0,
}


def _scrub_contact_snapshots(contact_id) -> int:
    """The audit keeps each event (who, when, which action), not the personal values in the snapshots."""
    event_model = apps.get_model("contacts", "ContactEvent")
    return event_model.objects.filter(pgh_obj_id=contact_id).update(**{
        k: v for k, v in PERSONAL_FIELDS.items() if k not in ("owner_id", "team_id", "engagement_score")})


def contact_erase(*, contact_id, actor=None, reason: str = "") -> dict[str, Any]:
    if not isinstance(reason, str) or len(reason) > 500:
        raise InvalidInput.field("reason", "The reason is text of at most 500 characters.")
    with transaction.atomic():
        contact = _contact(contact_id, lock=True)
        hold = LegalHold.objects.filter(contact=contact).first()
        if hold is not None:
            raise Conflict(f"This contact is under legal hold ({hold.reason}); lift the hold before erasing.",
                           extra={"legal_hold": hold.reason})
        identity = {"email": contact.email, "phone": contact.phone,
                    "email_hash": identity_hash("email", contact.email.lower()) if contact.email else "",
                    "phone_hash": identity_hash("phone", contact.phone) if contact.phone else ""}
        counts: dict[str, int] = {}
        with audited(actor, "contact.erase", reason=reason or "erasure request"):
            for name, eraser in registry["privacy_erasers"].items():
                counts[name] = eraser(contact.pk, identity)
            for model, fk in relations.contact_relations(exclude=(*OWN, Contact)):
                label = relations.label(model)
                if label in registry["privacy_erased_tables"] or label == "contacts.groupmembership":
                    continue
                ids = list(model._default_manager.filter(**{fk.name: contact}).values_list("pk", flat=True))
                if not ids:
                    continue
                deleted, _ = model._default_manager.filter(pk__in=ids).delete()
                counts[label] = deleted
                # their audit snapshots (the delete's own included) hold the same personal data
                for event_model in relations.event_models_of(model):
                    event_model.objects.filter(pgh_obj_id__in=ids).delete()
            Contact.objects.filter(reports_to=contact).update(reports_to=None)
            ContactCategory.objects.filter(contact=contact).delete()
            counts["duplicates"], _ = DuplicateCandidate.objects.filter(contact_a=contact).delete()
            counts["duplicates"] += DuplicateCandidate.objects.filter(contact_b=contact).delete()[0]
            MergeRecord.objects.filter(survivor_key=contact.pk).update(
                survivor_before={}, merged_snapshot={}, erased=True)
            MergeRecord.objects.filter(merged_key=contact.pk).update(merged_snapshot={}, erased=True)
            ImportedContact.objects.filter(contact_id=contact.pk).update(before=None)
            for attname, value in PERSONAL_FIELDS.items():
                setattr(contact, attname, value)
            contact.status = "archived"
            contact.status_changed_at = timezone.now()
            contact.save(update_fields=[*PERSONAL_FIELDS, "status", "status_changed_at", "updated_at"])
            counts["audit_snapshots_scrubbed"] = _scrub_contact_snapshots(contact.pk)
            ErasedIdentity.objects.bulk_create(
                [ErasedIdentity(digest=identity[f"{k}_hash"], kind=k) for k in ("email", "phone")
                 if identity[f"{k}_hash"]], ignore_conflicts=True)
        log_access(action="privacy_erase", contact_key=contact.pk, actor=actor,
                   detail={"counts": counts, "reason": reason})
        invalidate_contacts([contact.pk])
    return {"contact": str(contact.pk), "erased": True, "removed": counts}


# --------------------------------------------------------------------------- legal hold
def legal_hold_place(*, contact_id, reason: str, actor=None) -> LegalHold:
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise InvalidInput.field("reason", "Give the reason for the hold (at most 500 characters).", "required")
    with transaction.atomic():
        contact = _contact(contact_id, lock=True)
        hold, _ = LegalHold.objects.update_or_create(
            contact=contact, defaults={"reason": reason.strip(),
                                       "placed_by": actor if getattr(actor, "is_authenticated", False) else None})
        log_access(action="legal_hold_placed", contact_key=contact.pk, actor=actor, detail={"reason": reason})
    return hold


def legal_hold_lift(*, contact_id, actor=None) -> None:
    with transaction.atomic():
        contact = _contact(contact_id, lock=True)
        deleted, _ = LegalHold.objects.filter(contact=contact).delete()
        if not deleted:
            raise NotFound("This contact has no legal hold.")
        log_access(action="legal_hold_lifted", contact_key=contact.pk, actor=actor)


# --------------------------------------------------------------------------- retention
def retention_rules() -> list[dict]:
    return list(getattr(settings, "DATA_RETENTION_RULES", []))


def retention_purge(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Clear the content of rows older than each rule's age (DATA_RETENTION_RULES), except for contacts
    under legal hold; also clears the same fields in their audit snapshots. Idempotent."""
    now = now or timezone.now()
    held = set(LegalHold.objects.values_list("contact_id", flat=True))
    result: dict[str, int] = {}
    with transaction.atomic():
        for rule in retention_rules():
            try:
                model = apps.get_model(rule["model"])
            except LookupError:
                continue  # the app is not installed here
            cutoff = now - dt.timedelta(days=int(rule["days"]))
            clear: dict = rule["clear"]
            stale = model._default_manager.filter(**{f"{rule['date_field']}__lt": cutoff}) \
                .exclude(**{f"{rule['contact_field']}_id__in": held})
            # only rows that still hold something to clear (keeps the job idempotent and cheap)
            pending = Q()
            for name, empty in clear.items():
                pending |= ~Q(**{name: empty})
            ids = list(stale.filter(pending).values_list("pk", flat=True))
            if ids:
                model._default_manager.filter(pk__in=ids).update(**clear)
                for event_model in relations.event_models_of(model):
                    event_model.objects.filter(pgh_obj_id__in=ids).update(**clear)
            result[rule["model"]] = len(ids)
        for name, purger in registry["retention_purgers"].items():
            result[name] = purger(now, held)
    return result
