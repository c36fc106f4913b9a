"""Collaboration writes: notes, attachments, notifications and webhooks.

Keyword-only functions that validate first (one 400 naming the fields), write in one transaction inside an
audit context, and do side effects (notifications, task enqueues, file deletion) after commit.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import mimetypes
import re
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Func
from django.utils import timezone

from accounts import roles
from contacts.selectors import visible_contact
from contacts_project.audit import audited
from contacts_project.errors import Conflict, Errors, FieldError, InvalidInput, NotFound, PayloadTooLarge
from contacts_project.ids import parse_uuid
from contacts_project.timefmt import iso_z
from organization.models import Organization
from planning.models import Campaign, Task

from . import webhooks
from .choices import DeliveryStatus, NotificationKind, WebhookEvent
from .models import (
    Attachment,
    Note,
    NoteMention,
    Notification,
    NotificationPreference,
    WebhookDelivery,
    WebhookSubscription,
)

logger = logging.getLogger(__name__)
User = get_user_model()




def _target(data: dict, errors: Errors, actor, names: tuple[str, ...]) -> dict:
    """Exactly one of `names` (contact, organization, campaign, note) names an existing, visible object."""
    given = [name for name in names if data.get(name) not in (None, "")]
    if len(given) != 1:
        errors.add(names[0], f"Give exactly one of: {', '.join(names)}.", "required")
        return {}
    name = given[0]
    value = data[name]
    if name == "contact":
        try:
            return {"contact": visible_contact(actor, value)}
        except NotFound:
            errors.add("contact", f"No contact with id {value!r}.", "does_not_exist")
            return {}
    model = {"organization": Organization, "campaign": Campaign, "note": Note}[name]
    key = parse_uuid(value)
    obj = model.objects.filter(pk=key).first() if key else None
    if obj is None:
        errors.add(name, f"No {name} with id {value!r}.", "does_not_exist")
        return {}
    if name == "note":
        note_visible(actor, obj)
    return {name: obj}


# --------------------------------------------------------------------------- notes
MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9_.+-]*[A-Za-z0-9_+-])")


def mentioned_users(body: str, errors: Errors) -> list:
    names = list(dict.fromkeys(MENTION.findall(body)))
    if not names:
        return []
    found = {u.username.lower(): u for u in User.objects.filter(username__in=names, is_active=True)}
    missing = [n for n in names if n.lower() not in found]
    if missing:
        # case-insensitive second chance (usernames are usually typed in lower case)
        for user in User.objects.filter(is_active=True).extra(where=["lower(username) = ANY(%s)"],
                                                              params=[[m.lower() for m in missing]]):
            found[user.username.lower()] = user
        missing = [n for n in names if n.lower() not in found]
    if missing:
        errors.add("body", f"No user named {', '.join('@' + m for m in missing)}.", "unknown_mention")
    return [found[n.lower()] for n in names if n.lower() in found]


def note_visible(actor, note: Note) -> Note:
    if note.contact_id is not None:
        visible_contact(actor, note.contact_id)
    return note


def note_create(*, data: dict[str, Any], actor=None) -> Note:
    errors = Errors()
    errors.unknown(data, {"contact", "organization", "campaign", "parent", "body"})
    body = errors.text(data, "body", settings.NOTE_MAX_LENGTH, required=True)
    parent = None
    target: dict = {}
    if data.get("parent") not in (None, ""):
        if any(data.get(k) not in (None, "") for k in ("contact", "organization", "campaign")):
            errors.add("parent", "A reply takes its parent's target; give parent or a target, not both.", "invalid")
        key = parse_uuid(data["parent"])
        parent = Note.objects.filter(pk=key).first() if key else None
        if parent is None:
            errors.add("parent", f"No note with id {data['parent']!r}.", "does_not_exist")
        else:
            try:
                note_visible(actor, parent)
            except NotFound:
                errors.add("parent", f"No note with id {data['parent']!r}.", "does_not_exist")
                parent = None
    else:
        target = _target(data, errors, actor, ("contact", "organization", "campaign"))
    mentioned = mentioned_users(body, errors) if body else []
    errors.raise_if_any()
    if parent is not None:
        target = {"contact_id": parent.contact_id, "organization_id": parent.organization_id,
                  "campaign_id": parent.campaign_id}
    with transaction.atomic(), audited(actor, "note.create"):
        note = Note.objects.create(body=body, parent=parent, author=actor if getattr(actor, "pk", None) else None,
                                   **target)
        NoteMention.objects.bulk_create([NoteMention(note=note, user=u) for u in mentioned])
        _notify_mentions(note, [u.pk for u in mentioned], actor)
    return note


def _notify_mentions(note: Note, user_ids: list, actor) -> None:
    recipients = [pk for pk in user_ids if pk != getattr(actor, "pk", None)]
    if not recipients:
        return
    who = actor.get_username() if getattr(actor, "pk", None) else "Someone"
    notify(user_ids=recipients, kind=NotificationKind.MENTION, title=f"{who} mentioned you",
           body=note.body[:500], data={"note": str(note.pk), "contact": _s(note.contact_id),
                                      "organization": _s(note.organization_id), "campaign": _s(note.campaign_id)})


def _s(value) -> str | None:
    return None if value is None else str(value)


def _own_note(note_id, actor) -> Note:
    key = parse_uuid(note_id)
    note = Note.objects.select_for_update().filter(pk=key).first() if key else None
    if note is None:
        raise NotFound("Note not found.")
    note_visible(actor, note)
    if note.author_id != getattr(actor, "pk", None) and not roles.is_admin(actor):
        raise PermissionDenied("Only the author or an admin changes a note.")
    return note


def note_update(*, note_id, data: dict[str, Any], actor=None) -> Note:
    errors = Errors()
    errors.unknown(data, {"body"})
    body = errors.text(data, "body", settings.NOTE_MAX_LENGTH, required=True)
    mentioned = mentioned_users(body, errors) if body else []
    errors.raise_if_any()
    with transaction.atomic(), audited(actor, "note.update"):
        note = _own_note(note_id, actor)
        if body == note.body:
            return note
        before = set(note.mention_rows.values_list("user_id", flat=True))
        note.body, note.edited_at = body, timezone.now()
        note.save(update_fields=["body", "edited_at", "updated_at"])
        now = {u.pk for u in mentioned}
        NoteMention.objects.filter(note=note).exclude(user_id__in=now).delete()
        NoteMention.objects.bulk_create([NoteMention(note=note, user_id=pk) for pk in now - before])
        _notify_mentions(note, sorted(now - before), actor)  # only the newly mentioned hear about it
    return note


def note_delete(*, note_id, actor=None) -> None:
    with transaction.atomic(), audited(actor, "note.delete"):
        _own_note(note_id, actor).delete()


# --------------------------------------------------------------------------- attachments
EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"#!")


def _content_type(upload) -> str | None:
    """The type judged from the file name; None when it is not on the allow-list or the bytes are a program."""
    guessed, _ = mimetypes.guess_type(upload.name or "", strict=False)
    if guessed not in settings.ATTACHMENT_ALLOWED_TYPES:
        return None
    head = upload.read(8)
    upload.seek(0)
    if head.startswith(EXECUTABLE_MAGIC):
        return None
    return guessed


def attachment_create(*, upload, data: dict[str, Any], actor=None) -> Attachment:
    if upload is None:
        raise InvalidInput.field("file", "Upload the file as multipart form field `file`.", "required")
    if upload.size > settings.ATTACHMENT_MAX_BYTES:
        raise PayloadTooLarge(
            f"The file is {upload.size:,} bytes; attachments take at most {settings.ATTACHMENT_MAX_BYTES:,}.",
            errors=[FieldError("file", "too_large", f"At most {settings.ATTACHMENT_MAX_BYTES:,} bytes.")],
            extra={"limit": settings.ATTACHMENT_MAX_BYTES})
    errors = Errors()
    errors.unknown(data, {"contact", "organization", "note"})
    target = _target(data, errors, actor, ("contact", "organization", "note"))
    content_type = _content_type(upload)
    if content_type is None:
        errors.add("file", f"Files of this type ({upload.name!r}) are not accepted; allowed: "
                           f"{', '.join(sorted(settings.ATTACHMENT_ALLOWED_TYPES))}.", "forbidden_type")
    errors.raise_if_any()
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    filename = (upload.name or "file").replace("/", "_").replace("\\", "_")[-255:]
    attachment = Attachment(filename=filename, content_type=content_type, size=upload.size,
                            sha256=digest.hexdigest(), uploaded_by=actor if getattr(actor, "pk", None) else None,
                            **target)
    try:
        with transaction.atomic(), audited(actor, "attachment.create"):
            attachment.file.save(filename, upload, save=False)
            attachment.save()
    except Exception:
        if attachment.file.name:  # the row was not written: do not leave the stored file behind
            attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment


def attachment_delete(*, attachment_id, actor=None) -> None:
    from . import selectors

    with transaction.atomic(), audited(actor, "attachment.delete"):
        attachment = selectors.attachment_get(attachment_id=attachment_id, user=actor)
        if attachment.uploaded_by_id != getattr(actor, "pk", None) and not roles.is_admin(actor) \
                and not actor.has_perm("collaboration.delete_attachment"):
            raise PermissionDenied("Not allowed to delete this attachment.")
        attachment.delete()  # the stored file goes after commit (apps.py: delete_file_on_commit)


def delete_stored_file_on_commit(storage, name: str) -> None:
    """Files are removed only once the rows are gone for good (a rolled-back delete keeps them)."""
    if name:
        transaction.on_commit(lambda: storage.delete(name))


# --------------------------------------------------------------------------- notifications
def notify(*, user_ids, kind: str, title: str, body: str = "", data: dict | None = None) -> int:
    """In-app notifications for these users, except those who muted this kind (one query for preferences)."""
    user_ids = list(dict.fromkeys(pk for pk in user_ids if pk is not None))
    if not user_ids:
        return 0
    muted = set(NotificationPreference.objects.filter(user_id__in=user_ids, muted_kinds__contains=[kind])
                .values_list("user_id", flat=True))
    rows = [Notification(user_id=pk, kind=kind, title=title[:255], body=body, data=data or {})
            for pk in user_ids if pk not in muted]
    Notification.objects.bulk_create(rows)
    return len(rows)


def notification_mark_read(*, user, notification_id) -> Notification:
    key = parse_uuid(notification_id)
    note = Notification.objects.filter(pk=key, user=user).first() if key else None
    if note is None:
        raise NotFound("Notification not found.")
    if note.read_at is None:
        note.read_at = timezone.now()
        Notification.objects.filter(pk=note.pk, read_at__isnull=True).update(read_at=note.read_at)
    return note


def notification_mark_all_read(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


def preferences_get(*, user) -> NotificationPreference:
    pref, _ = NotificationPreference.objects.get_or_create(user=user)
    return pref


def preferences_update(*, user, data: dict[str, Any]) -> NotificationPreference:
    errors = Errors()
    errors.unknown(data, {"muted_kinds", "email_digest"})
    values: dict = {}
    if "muted_kinds" in data:
        kinds = data["muted_kinds"]
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            errors.add("muted_kinds", "Expected a list of notification kinds.")
        else:
            bad = [k for k in kinds if k not in NotificationKind.values]
            if bad:
                errors.add("muted_kinds", f"Unknown kinds {bad}; choose from {NotificationKind.values}.",
                           "invalid_choice")
            values["muted_kinds"] = list(dict.fromkeys(kinds))
    if "email_digest" in data:
        if not isinstance(data["email_digest"], bool):
            errors.add("email_digest", "Expected true or false.")
        values["email_digest"] = data["email_digest"]
    if values.get("email_digest") and not user.email:
        errors.add("email_digest", "Set an email address on your user first.", "no_email")
    errors.raise_if_any()
    with transaction.atomic():
        pref, _ = NotificationPreference.objects.select_for_update().get_or_create(user=user)
        for key, value in values.items():
            setattr(pref, key, value)
        if values:
            pref.save(update_fields=list(values))
    return pref


# --------------------------------------------------------------------------- webhooks
def _clean_webhook(data: dict, errors: Errors, partial: bool) -> dict:
    errors.unknown(data, {"url", "description", "event_types", "filters", "is_active"})
    values: dict = {}
    if "url" in data or not partial:
        url = errors.text(data, "url", 2000, required=True)
        if url:
            reason = webhooks.check_url(url)
            if reason:
                errors.add("url", reason, "forbidden_url")
            else:
                values["url"] = url
    if "description" in data:
        value = errors.text(data, "description", 255)
        if value is not None:
            values["description"] = value
    if "event_types" in data or not partial:
        types = data.get("event_types")
        if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
            errors.add("event_types", f"Expected a non-empty list of events from {WebhookEvent.values}.", "required")
        else:
            bad = [t for t in types if t not in WebhookEvent.values]
            if bad:
                errors.add("event_types", f"Unknown events {bad}; choose from {WebhookEvent.values}.",
                           "invalid_choice")
            values["event_types"] = list(dict.fromkeys(types))
    if "filters" in data:
        filters = data["filters"]
        scalar = (str, int, float, bool)
        if not isinstance(filters, dict) or not all(
                isinstance(v, scalar) or (isinstance(v, list) and v and all(isinstance(i, scalar) for i in v))
                for v in filters.values()):
            errors.add("filters", "Expected an object of payload field → value or list of values.")
        else:
            values["filters"] = filters
    if "is_active" in data:
        if not isinstance(data["is_active"], bool):
            errors.add("is_active", "Expected true or false.")
        values["is_active"] = data["is_active"]
    return values


def webhook_create(*, data: dict[str, Any], actor=None) -> WebhookSubscription:
    errors = Errors()
    values = _clean_webhook(data, errors, partial=False)
    errors.raise_if_any()
    with transaction.atomic(), audited(actor, "webhook.create"):
        _subscriptions_changed()
        return WebhookSubscription.objects.create(owner=actor, secret=webhooks.new_secret(), **values)


def _webhook(webhook_id, actor, *, lock: bool = False) -> WebhookSubscription:
    from . import selectors

    subscription = selectors.webhook_get(webhook_id=webhook_id, user=actor)
    if lock:
        subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    return subscription


def webhook_update(*, webhook_id, data: dict[str, Any], actor=None) -> WebhookSubscription:
    errors = Errors()
    values = _clean_webhook(data, errors, partial=True)
    errors.raise_if_any()
    with transaction.atomic(), audited(actor, "webhook.update"):
        subscription = _webhook(webhook_id, actor, lock=True)
        if values.get("is_active") and not subscription.is_active:  # re-enabling starts a fresh count
            values.update(consecutive_failures=0, disabled_at=None, disabled_reason="")
        for key, value in values.items():
            setattr(subscription, key, value)
        if values:
            subscription.save(update_fields=[*values, "updated_at"])
        _subscriptions_changed()
    return subscription


def webhook_rotate_secret(*, webhook_id, actor=None) -> WebhookSubscription:
    with transaction.atomic(), audited(actor, "webhook.rotate_secret"):
        subscription = _webhook(webhook_id, actor, lock=True)
        subscription.secret = webhooks.new_secret()
        subscription.save(update_fields=["secret", "updated_at"])
    return subscription


def webhook_delete(*, webhook_id, actor=None) -> None:
    with transaction.atomic(), audited(actor, "webhook.delete"):
        _webhook(webhook_id, actor, lock=True).delete()
        _subscriptions_changed()


def _matches(filters: dict, data: dict) -> bool:
    for key, wanted in (filters or {}).items():
        value = data.get(key)
        options = wanted if isinstance(wanted, list) else [wanted]
        values = value if isinstance(value, list) else [value]
        if not any(str(v) == str(o) for v in values for o in options if v is not None):
            return False
    return True


_SUBSCRIBED: dict[str, Any] = {"at": -1e9, "events": frozenset()}
SUBSCRIBED_TTL = 5.0  # seconds another process may take to see a new subscription's event types


def subscribed_events() -> frozenset:
    """Event types some active subscription wants, memoised briefly: a campaign that changes 100,000 message
    statuses must not run 100,000 subscription queries when nobody listens."""
    now = time.monotonic()
    if now - _SUBSCRIBED["at"] > SUBSCRIBED_TTL:
        _SUBSCRIBED["events"] = frozenset(WebhookSubscription.objects.filter(is_active=True).annotate(
            event=Func(F("event_types"), function="unnest")).values_list("event", flat=True).distinct())
        _SUBSCRIBED["at"] = now
    return _SUBSCRIBED["events"]


def _subscriptions_changed() -> None:
    _SUBSCRIBED.update(at=-1e9)  # now (this transaction sees its own change) and again after commit
    transaction.on_commit(lambda: _SUBSCRIBED.update(at=-1e9))


def webhook_deliveries_create(*, event: str, data: dict[str, Any]) -> list:
    """One delivery per active subscription to `event` whose filters match; enqueued after commit."""
    if event not in WebhookEvent.values or event not in subscribed_events():
        return []
    if event.startswith("communication.") and "contact" not in data:
        from communications.models import Communication

        row = Communication.objects.filter(pk=data.get("id")).values("contact_id", "type", "campaign_id").first()
        if row:
            data = {**data, "contact": str(row["contact_id"]), "channel": row["type"],
                    "campaign": str(row["campaign_id"]) if row["campaign_id"] else None}
    subscriptions = [s for s in WebhookSubscription.objects.filter(is_active=True, event_types__contains=[event])
                     .only("id", "filters") if _matches(s.filters, data)]
    if not subscriptions:
        return []
    now = timezone.now()
    with transaction.atomic():
        deliveries = []
        for subscription in subscriptions:
            delivery = WebhookDelivery(subscription=subscription, event=event, next_attempt_at=now)
            delivery.payload = {"type": event, "timestamp": iso_z(now), "data": data}
            deliveries.append(delivery)
        WebhookDelivery.objects.bulk_create(deliveries)
        ids = [d.pk for d in deliveries]
        transaction.on_commit(lambda: _enqueue(ids))
    return ids


def _enqueue(delivery_ids, countdown: float = 0) -> None:
    from .tasks import deliver_webhook

    for delivery_id in delivery_ids:
        deliver_webhook.apply_async(args=[str(delivery_id)], countdown=countdown)


def webhook_delivery_replay(*, webhook_id, delivery_id, actor=None) -> WebhookDelivery:
    """Send a delivery again now (same webhook-id, so a receiver that got it already can skip it)."""
    with transaction.atomic(), audited(actor, "webhook.replay"):
        subscription = _webhook(webhook_id, actor)
        key = parse_uuid(delivery_id)
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=key, subscription=subscription).first() \
            if key else None
        if delivery is None:
            raise NotFound("Delivery not found.")
        if delivery.status == DeliveryStatus.SENDING:
            raise Conflict("The delivery is being sent right now.")
        if not subscription.is_active:
            raise Conflict("The subscription is disabled; enable it before replaying.")
        delivery.status, delivery.next_attempt_at = DeliveryStatus.PENDING, timezone.now()
        delivery.save(update_fields=["status", "next_attempt_at"])
        transaction.on_commit(lambda: _enqueue([delivery.pk]))
    return delivery


def backoff_seconds(attempts: int) -> float:
    """Exponential: base · 2^(attempts-1), capped."""
    return min(settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), settings.WEBHOOK_RETRY_MAX_SECONDS)


def webhook_attempt(*, delivery_id) -> str | None:
    """Claim the delivery (conditional UPDATE), POST it once, log the attempt, then succeed, retry or fail."""
    from .models import WebhookAttempt

    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING], next_attempt_at__lte=now,
        subscription__is_active=True).update(status=DeliveryStatus.SENDING, attempts=F("attempts") + 1,
                                                       next_attempt_at=now)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
    subscription = delivery.subscription
    import orjson

    body = orjson.dumps(delivery.payload)
    result = webhooks.post(url=subscription.url, secret=subscription.secret, message_id=str(delivery.pk), body=body)
    done = timezone.now()
    with transaction.atomic():
        WebhookAttempt.objects.create(delivery=delivery, response_code=result.response_code,
                                      response_body=result.response_body, error=result.error,
                                      duration_ms=result.duration_ms)
        if result.ok:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.SUCCEEDED, delivered_at=done,
                                                                  response_code=result.response_code,
                                                                  next_attempt_at=None)
            WebhookSubscription.objects.filter(pk=subscription.pk, consecutive_failures__gt=0).update(
                consecutive_failures=0)
            return DeliveryStatus.SUCCEEDED
        if delivery.attempts < settings.WEBHOOK_MAX_ATTEMPTS:
            wait = backoff_seconds(delivery.attempts)
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.RETRYING, response_code=result.response_code,
                next_attempt_at=done + dt.timedelta(seconds=wait))
            transaction.on_commit(lambda: _enqueue([delivery.pk], countdown=wait))
            return DeliveryStatus.RETRYING
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED,
                                                              response_code=result.response_code,
                                                              next_attempt_at=None)
        _count_failure(subscription.pk)
        return DeliveryStatus.FAILED


def _count_failure(subscription_id) -> None:
    """A delivery that exhausted its attempts; enough of them in a row disable the subscription."""
    WebhookSubscription.objects.filter(pk=subscription_id).update(consecutive_failures=F("consecutive_failures") + 1)
    limit = settings.WEBHOOK_DISABLE_AFTER_FAILURES
    with audited(None, "webhook.disable"):
        disabled = WebhookSubscription.objects.filter(pk=subscription_id, is_active=True,
                                                      consecutive_failures__gte=limit).update(
            is_active=False, disabled_at=timezone.now(),
            disabled_reason=f"{limit} deliveries in a row failed after every retry.")
    if disabled:
        _SUBSCRIBED.update(at=-1e9)
        subscription = WebhookSubscription.objects.get(pk=subscription_id)
        notify(user_ids=[subscription.owner_id], kind=NotificationKind.WEBHOOK_DISABLED,
               title=f"Webhook to {subscription.url[:150]} was disabled",
               body=subscription.disabled_reason, data={"webhook": str(subscription.pk)})


def webhook_sweep(*, now: dt.datetime | None = None) -> int:
    """Re-enqueue deliveries whose retry is due (a lost countdown task) and stale `sending` ones (a killed
    worker: the attempt is counted, the delivery retried, webhook-id unchanged)."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.WEBHOOK_SENDING_LEASE_SECONDS)
    WebhookDelivery.objects.filter(status=DeliveryStatus.SENDING, next_attempt_at__lt=stale).update(
        status=DeliveryStatus.RETRYING)
    due = list(WebhookDelivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING],
                                              next_attempt_at__lte=now - dt.timedelta(seconds=30))
               .values_list("pk", flat=True)[:1000])
    _enqueue(due)
    return len(due)


# --------------------------------------------------------------------------- event reactions
def on_event(event: str, payload: dict[str, Any]) -> None:
    """contacts_project.events subscriber: webhooks for every event, notifications for some."""
    webhook_deliveries_create(event=event, data=payload)
    if event in ("task.assigned", "task.due"):
        on_task_event(event, **payload)
    elif event == "import.finished":
        notify(user_ids=[payload.get("actor")], kind=NotificationKind.IMPORT_FINISHED,
               title=f"Import {payload.get('filename') or payload.get('id')} {payload.get('status', 'finished')}",
               body=", ".join(f"{k}: {payload[k]}" for k in ("created", "updated", "skipped", "failed")
                              if k in payload), data={"import": payload.get("id")})
    elif event == "communication.replied" and payload.get("owner"):
        notify(user_ids=[payload["owner"]], kind=NotificationKind.COMMUNICATION_REPLIED,
               title=f"Reply: {payload.get('subject') or '(no subject)'}"[:200],
               data={"communication": payload.get("id"), "reply": payload.get("reply"),
                     "contact": payload.get("contact")})
    elif event in ("campaign.finished", "campaign.failed"):
        kind = NotificationKind.CAMPAIGN_FINISHED if event == "campaign.finished" else NotificationKind.CAMPAIGN_FAILED
        notify(user_ids=[payload.get("owner")], kind=kind,
               title=f"Campaign {payload.get('name', '')!s} {payload.get('status', '')}".strip(),
               body=payload.get("status_reason", ""), data={"campaign": payload.get("id")})


def on_task_event(event: str, *, task_id, actor_id=None, **_) -> None:
    """task.assigned / task.due events: the assignee hears about assignment (not their own) and due dates."""
    task = Task.objects.filter(pk=task_id).values("assignee_id", "title", "contact_id", "due_at").first()
    if task is None or task["assignee_id"] is None:
        return
    if event == "task.assigned":
        if task["assignee_id"] == actor_id:
            return
        kind, title = NotificationKind.TASK_ASSIGNED, f"Task assigned to you: {task['title']}"
    elif event == "task.due":
        kind, title = NotificationKind.TASK_DUE, f"Task due: {task['title']}"
    else:
        return
    notify(user_ids=[task["assignee_id"]], kind=kind, title=title,
           data={"task": str(task_id), "contact": str(task["contact_id"]), "due_at": task["due_at"].isoformat()})
