"""Communication writes (the RFC's CommunicationService): history, status transitions, templates,
preferences and consent, the suppression list, delivery events and the engagement score.

Every function is keyword-only, validates first (one 400 naming each bad field), writes in one
transaction inside an audit context, and leaves sending to the dispatcher (communications.dispatch):
creating or scheduling a message only writes rows.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts import selectors as contact_selectors
from contacts.models import Contact
from contacts.validation import check_timezone
from contacts_project import cache
from contacts_project.audit import audited
from contacts_project.errors import Conflict, Errors, InvalidInput, NotFound
from contacts_project.events import emit
from contacts_project.ids import parse_uuid

from . import rendering
from .channels.sms import sms_segments
from .choices import (
    ALLOWED_TRANSITIONS,
    PRE_SEND_STATUSES,
    SENDABLE_CHANNELS,
    SYSTEM_STATUSES,
    Channel,
    CommunicationStatus,
    ConsentStatus,
    DeliveryEventType,
    Direction,
    Purpose,
    StatusSource,
    SuppressionReason,
)
from .models import (
    Communication,
    CommunicationStatusEvent,
    ContactPreference,
    DeliveryEvent,
    MessageTemplate,
    QuietHours,
    Suppression,
)
from .policy import address_hash, normalize_address, parse_clock

S = CommunicationStatus
LOGGED_STATUSES = frozenset({S.SENT, S.DELIVERED, S.REPLIED, S.CANCELLED})


# --------------------------------------------------------------------------- helpers
def _contact(contact_id, *, field: str = "contact", actor=None, write: bool = False) -> Contact:
    """The contact named in a body field: 400 naming the field when the actor may not see it (as when it does
    not exist), 403 when they see it but `write` and may not change it. No actor: a system job."""
    key = parse_uuid(contact_id)
    query = Contact.objects.select_related("organization")
    if actor is not None:
        query = query.visible_to(actor)
    contact = query.filter(pk=key).first() if key else None
    if contact is None:
        raise InvalidInput.field(field, f"No contact with id {contact_id!r}.", "does_not_exist")
    if write and actor is not None and not contact_selectors.sees_all(actor) \
            and not Contact.objects.editable_by(actor).filter(pk=contact.pk).exists():
        raise PermissionDenied("You may read this contact but not change it.")
    return contact


def _communication(communication_id, *, lock: bool = False, actor=None, write: bool = False) -> Communication:
    """A communication (locked with `lock`); with an actor, 404 unless they may see its contact and 403 when
    `write` and they may not change it, checked under the row lock. No actor: a system job."""
    key = parse_uuid(communication_id)
    query = Communication.objects.select_for_update(of=("self",)) if lock else Communication.objects
    if actor is not None:
        query = query.filter(contact__in=Contact.objects.visible_to(actor).values("pk")) \
            if not contact_selectors.sees_all(actor) else query
    comm = query.select_related("contact").filter(pk=key).first() if key else None
    if comm is None:
        raise NotFound("Communication not found.")
    if write and actor is not None and not contact_selectors.sees_all(actor) \
            and not Contact.objects.editable_by(actor).filter(pk=comm.contact_id).exists():
        raise PermissionDenied("You may read this contact's communications but not change them.")
    return comm


def recipient_address(channel: str, contact: Contact) -> str:
    if channel == Channel.EMAIL:
        return contact.email
    if channel == Channel.SMS:
        return contact.phone
    return ""


def check_scheduled_at(value: dt.datetime | None, errors: Errors, *, field: str = "scheduled_at") -> dt.datetime:
    """None or a moment up to the tolerance in the past means now ("sends now"); further back is a 400
    (almost always a typo in the date)."""
    now = timezone.now()
    if value is None:
        return now
    if timezone.is_naive(value):
        errors.add(field, "Give a time zone (e.g. 2025-01-31T09:00:00Z or +01:00).", "naive_datetime")
        return now
    tolerance = dt.timedelta(seconds=settings.COMMUNICATIONS_PAST_SCHEDULE_TOLERANCE)
    if value < now - tolerance:
        errors.add(field, f"The time is more than {int(tolerance.total_seconds() // 60)} minutes in the past; "
                          "leave it out to send now.", "in_the_past")
        return now
    return max(value, now)


def check_content_length(channel: str, subject: str, text: str, html: str, errors: Errors,
                         *, field: str = "content") -> None:
    if channel == Channel.SMS:
        segments, encoding = sms_segments(text)
        limit = settings.COMMUNICATIONS_SMS_MAX_SEGMENTS
        if segments > limit:
            errors.add(field, f"The SMS needs {segments} {encoding} segments; at most {limit} are allowed.",
                       "too_long")
    elif channel == Channel.EMAIL:
        if len(text.encode()) + len(html.encode()) > settings.COMMUNICATIONS_EMAIL_MAX_BYTES:
            errors.add(field, f"The email body is over {settings.COMMUNICATIONS_EMAIL_MAX_BYTES} bytes.", "too_long")


def record_status_events(rows: list[tuple], *, source: str, actor=None, at: dt.datetime | None = None) -> None:
    """rows: (communication_id, from_status, to_status, reason). One INSERT for all of them."""
    at = at or timezone.now()
    CommunicationStatusEvent.objects.bulk_create([
        CommunicationStatusEvent(communication_id=cid, from_status=old, to_status=new, reason=(reason or "")[:255],
                                 source=source, actor=actor if getattr(actor, "is_authenticated", False) else None,
                                 at=at)
        for cid, old, new, reason in rows
    ])
    for cid, old, new, reason in rows:  # webhooks; the dispatcher's internal steps are not news
        if old and new not in ("queued", "sending"):
            emit("communication.status_changed", {"id": str(cid), "from": old, "to": new, "reason": reason or "",
                                                  "source": source})


def _template(template_id, channel: str, errors: Errors) -> MessageTemplate | None:
    if template_id in (None, ""):
        return None
    key = parse_uuid(template_id)
    template = MessageTemplate.objects.filter(pk=key).first() if key else None
    if template is None:
        errors.add("template", f"No message template with id {template_id!r}.", "does_not_exist")
    elif not template.is_active:
        errors.add("template", "The message template is inactive.", "inactive")
    elif template.channel != channel:
        errors.add("template", f"The template is for {template.channel}, not {channel}.", "channel_mismatch")
    else:
        return template
    return None


def render_for(*, template: MessageTemplate, contact: Contact, unsubscribe_url: str = "",
               custom_fields: set[str] | None = None) -> rendering.Rendered:
    if custom_fields is None:
        custom_fields = rendering.known_custom_fields()
    context = rendering.merge_context(contact, custom_fields=custom_fields, unsubscribe_url=unsubscribe_url)
    return rendering.render(subject=template.subject, text=template.text_body, html=template.html_body,
                            context=context)


# --------------------------------------------------------------------------- communications
def communication_create(*, data: dict[str, Any], actor=None) -> Communication:
    """The RFC's create_communication. Outbound email and SMS are written as `draft` or `scheduled`
    (the dispatcher sends them); calls, meetings, notes and inbound messages are logged as they happened."""
    errors = Errors()
    channel = data.get("type")
    if channel not in Channel.values:
        errors.add("type", f"Unknown channel {channel!r}; choose one of {Channel.values}.", "invalid_choice")
        errors.raise_if_any()
    contact = None
    try:
        contact = _contact(data.get("contact"), actor=actor, write=True)
    except InvalidInput as exc:
        errors.items.extend(exc.errors)
    direction = data.get("direction") or Direction.OUTBOUND
    purpose = data.get("purpose") or Purpose.TRANSACTIONAL
    subject, content, html = data.get("subject", ""), data.get("content", ""), data.get("html_content", "")
    logged = direction == Direction.INBOUND or channel not in SENDABLE_CHANNELS
    template = _template(data.get("template"), channel, errors)
    now = timezone.now()
    values: dict[str, Any] = {}
    if logged:
        default = S.DELIVERED if direction == Direction.INBOUND else S.SENT
        status = data.get("status") or default
        if status not in LOGGED_STATUSES:
            errors.add("status", f"A logged {direction} {channel} is one of {sorted(LOGGED_STATUSES)}.",
                       "invalid_choice")
        if data.get("scheduled_at") is not None:
            errors.add("scheduled_at", "Only outbound email and SMS are scheduled; use occurred_at.", "not_allowed")
        if template is not None:
            errors.add("template", "Templates apply to outbound email and SMS.", "not_allowed")
        occurred = data.get("occurred_at") or now
        if occurred > now + dt.timedelta(minutes=5):
            errors.add("occurred_at", "A logged communication cannot have happened in the future.", "in_the_future")
        values.update(status=status, sent_at=occurred, scheduled_at=None)
    else:
        status = data.get("status") or S.SCHEDULED
        if status not in (S.DRAFT, S.SCHEDULED):
            errors.add("status", "A new outbound message is `draft` or `scheduled`; the dispatcher sends it.",
                       "invalid_choice")
        if data.get("occurred_at") is not None:
            errors.add("occurred_at", "Only logged communications have occurred_at.", "not_allowed")
        scheduled_at = data.get("scheduled_at")
        if status == S.SCHEDULED:
            scheduled_at = check_scheduled_at(scheduled_at, errors)
        values.update(status=status, scheduled_at=scheduled_at)
        if template is not None and (content or html or subject):
            errors.add("template", "Give either a template or subject and content, not both.", "conflict")
        if template is None and not (content or html):
            errors.add("content", "The message has no content (give content, html_content or a template).",
                       "required")
        if channel == Channel.SMS and html:
            errors.add("html_content", "SMS has no HTML part.", "not_allowed")
        if contact is not None and not recipient_address(channel, contact):
            errors.add("contact", f"The contact has no {'email address' if channel == Channel.EMAIL else 'phone'}.",
                       "no_address")
        if template is not None and contact is not None:
            try:
                preview = render_for(template=template, contact=contact)
                check_content_length(channel, preview.subject, preview.text, preview.html, errors, field="template")
            except rendering.RenderError as exc:
                errors.add("template", str(exc), "render_error")
        else:
            check_content_length(channel, subject, content, html, errors)
    in_reply_to = None
    if data.get("in_reply_to") is not None:
        in_reply_to = Communication.objects.filter(pk=data["in_reply_to"]).first()
        if in_reply_to is None or (contact is not None and in_reply_to.contact_id != contact.pk):
            errors.add("in_reply_to", "No communication with this id for this contact.", "does_not_exist")
        elif direction != Direction.INBOUND:
            errors.add("in_reply_to", "Only an inbound communication replies to another.", "not_allowed")
    errors.raise_if_any()

    with transaction.atomic(), audited(actor, "communication.create", contact=str(contact.pk)):
        comm = Communication.objects.create(
            contact=contact, type=channel, direction=direction, purpose=purpose, subject=subject, content=content,
            html_content=html, template=template, campaign_id=data.get("campaign_id"),
            metadata=data.get("metadata") or {}, in_reply_to=in_reply_to, status_changed_at=now,
            to_address=recipient_address(channel, contact) if logged else "",
            created_by=actor if getattr(actor, "is_authenticated", False) else None, **values)
        record_status_events([(comm.pk, "", comm.status, "created")], source=StatusSource.API, actor=actor, at=now)
        emit("communication.created", {"id": str(comm.pk), "contact": str(comm.contact_id), "channel": comm.type,
                                       "direction": comm.direction, "status": comm.status})
        if logged and direction == Direction.OUTBOUND and comm.status != S.CANCELLED:
            _touch_contacted([contact.pk], comm.sent_at)
        if direction == Direction.INBOUND:
            engagement_record(contact_id=contact.pk, kind="replied", at=comm.sent_at)
            if in_reply_to is not None and S.REPLIED in ALLOWED_TRANSITIONS.get(in_reply_to.status, ()):
                _apply_status(in_reply_to, S.REPLIED, reason="reply logged", source=StatusSource.API, actor=actor)
    return comm


UPDATABLE = ("subject", "content", "html_content", "purpose", "template", "scheduled_at", "metadata", "campaign_id")


def communication_update(*, communication_id, data: dict[str, Any], actor=None) -> Communication:
    """Edit a message before it is sent (draft or scheduled), or a logged communication's text."""
    with transaction.atomic():
        comm = _communication(communication_id, lock=True, actor=actor, write=True)
        logged = comm.direction == Direction.INBOUND or comm.type not in SENDABLE_CHANNELS
        errors = Errors()
        for key in sorted(set(data) - set(UPDATABLE)):
            errors.add(key, "This field cannot be changed.", "read_only")
        if not logged and comm.status not in (S.DRAFT, S.SCHEDULED):
            raise Conflict(f"A {comm.status} message can no longer be edited.",
                           extra={"status": comm.status})
        if logged and set(data) - {"subject", "content", "metadata"}:
            for key in sorted(set(data) - {"subject", "content", "metadata"}):
                errors.add(key, "A logged communication only has subject, content and metadata to edit.",
                           "read_only")
        values = {k: v for k, v in data.items() if k in UPDATABLE}
        if "template" in values:
            values["template"] = _template(values["template"], comm.type, errors)
        if "scheduled_at" in values and comm.status == S.SCHEDULED:
            values["scheduled_at"] = check_scheduled_at(values["scheduled_at"], errors)
        template = values.get("template", comm.template)
        if not logged:
            subject = values.get("subject", comm.subject)
            content, html = values.get("content", comm.content), values.get("html_content", comm.html_content)
            if template is not None and (("template" in values and (content or html or subject))
                                         or ({"content", "html_content", "subject"} & set(values)
                                             and (values.get("content") or values.get("html_content")
                                                  or values.get("subject")))):
                errors.add("template", "Give either a template or subject and content, not both.", "conflict")
            if template is None:
                check_content_length(comm.type, subject, content, html, errors)
        errors.raise_if_any()
        if not values:
            return comm
        with audited(actor, "communication.update", contact=str(comm.contact_id)):
            for key, value in values.items():
                setattr(comm, key, value)
            comm.save(update_fields=[*values, "updated_at"])
            if "scheduled_at" in values and comm.status == S.SCHEDULED:
                record_status_events([(comm.pk, S.SCHEDULED, S.SCHEDULED, "rescheduled")], source=StatusSource.API,
                                     actor=actor)
    return comm


def communication_delete(*, communication_id, actor=None) -> None:
    """Drafts, cancelled messages and logged communications can be deleted; sent history cannot."""
    with transaction.atomic():
        comm = _communication(communication_id, lock=True, actor=actor, write=True)
        logged = comm.direction == Direction.INBOUND or comm.type not in SENDABLE_CHANNELS
        if not logged and comm.status not in (S.DRAFT, S.CANCELLED):
            raise Conflict(f"A {comm.status} message is part of the history; cancel it instead of deleting.",
                           extra={"status": comm.status})
        with audited(actor, "communication.delete", contact=str(comm.contact_id)):
            comm.delete()


def _apply_status(comm: Communication, status: str, *, reason: str, source: str, actor=None,
                  extra: dict | None = None) -> bool:
    """Conditional UPDATE from the status we read; False when someone else moved it first."""
    now = timezone.now()
    fields = {"status": status, "status_reason": (reason or "")[:255], "status_changed_at": now,
              "updated_at": now, **(extra or {})}
    changed = Communication.objects.filter(pk=comm.pk, status=comm.status).update(**fields)
    if changed:
        record_status_events([(comm.pk, comm.status, status, reason)], source=source, actor=actor, at=now)
        for key, value in fields.items():
            setattr(comm, key, value)
    return bool(changed)


def communication_update_status(*, communication_id, status: str, reason: str = "",
                                scheduled_at: dt.datetime | None = None, actor=None,
                                source: str = StatusSource.API) -> Communication:
    """The RFC's update_communication_status. Follows ALLOWED_TRANSITIONS (409 otherwise); `queued`,
    `sending` and `sent` belong to the dispatcher. `scheduled` reschedules (from draft, scheduled, queued
    or failed), `cancelled` cancels anything not yet handed to a backend."""
    if status not in S.values:
        raise InvalidInput.field("status", f"{status!r} is not a status; choose one of {S.values}.", "invalid_choice")
    if not isinstance(reason, str) or len(reason) > 255:
        raise InvalidInput.field("reason", "The reason is text of at most 255 characters.")
    errors = Errors()
    with transaction.atomic():
        comm = _communication(communication_id, lock=True, actor=actor, write=True)
        current = comm.status
        if source == StatusSource.API and status in SYSTEM_STATUSES:
            raise Conflict(f"`{status}` is set by the dispatcher, not by hand.",
                           extra={"status": current, "allowed": sorted(ALLOWED_TRANSITIONS[current] - SYSTEM_STATUSES)})
        if source == StatusSource.API and current == S.SENDING:
            # the send task holds it: only its outcome (sent, failed, cancelled by policy) may settle it
            raise Conflict("The message is being handed to the channel right now; it can no longer be changed.",
                           extra={"status": current, "allowed": []})
        if status not in ALLOWED_TRANSITIONS.get(current, ()):
            raise Conflict(f"A {current} communication cannot become {status}.",
                           extra={"status": current, "allowed": sorted(ALLOWED_TRANSITIONS[current] - SYSTEM_STATUSES)})
        extra: dict[str, Any] = {}
        if status == S.SCHEDULED:
            if comm.type not in SENDABLE_CHANNELS or comm.direction != Direction.OUTBOUND:
                raise Conflict("Only outbound email and SMS are scheduled.")
            extra = {"scheduled_at": check_scheduled_at(scheduled_at, errors), "queued_at": None}
            if current == S.FAILED:
                extra["attempts"] = 0
        elif scheduled_at is not None:
            errors.add("scheduled_at", "scheduled_at goes with status `scheduled`.", "not_allowed")
        errors.raise_if_any()
        with audited(actor, "communication.status", reason=reason, status_from=current, status_to=status):
            if not _apply_status(comm, status, reason=reason or ("rescheduled" if status == current else ""),
                                 source=source, actor=actor, extra=extra):
                raise Conflict("The communication changed meanwhile (the dispatcher took it); try again.",
                               extra={"status": Communication.objects.filter(pk=comm.pk).values_list(
                                   "status", flat=True).first()})
    return comm


def _touch_contacted(contact_ids, at: dt.datetime) -> None:
    """last_contacted_at moves forward only; one UPDATE for the batch."""
    ids = list(contact_ids)
    if not ids:
        return
    from django.db.models import Q

    Contact.objects.filter(Q(last_contacted_at__isnull=True) | Q(last_contacted_at__lt=at), pk__in=ids) \
        .update(last_contacted_at=at)
    cache.invalidate_on_commit(*(cache.contact_detail_key(i) for i in ids))


# --------------------------------------------------------------------------- engagement
def engagement_decay(score: float, since: dt.datetime | None, now: dt.datetime) -> float:
    """score * 0.5 ** (days elapsed / half-life): the engagement score as of `now`."""
    if since is None or not score:
        return score
    days = max((now - since).total_seconds(), 0) / 86400
    return score * math.pow(0.5, days / settings.COMMUNICATIONS_ENGAGEMENT_HALF_LIFE_DAYS)


def engagement_record(*, contact_id, kind: str, at: dt.datetime | None = None) -> None:
    """Add an engagement (opened, clicked, replied) to the contact's decaying score. The stored score is
    the value as of last_engaged_at; an older event adds its weight already decayed."""
    weight = settings.COMMUNICATIONS_ENGAGEMENT_WEIGHTS.get(kind)
    if not weight:
        return
    at = at or timezone.now()
    with transaction.atomic():
        row = Contact.objects.select_for_update(of=("self",)).filter(pk=contact_id) \
            .values_list("engagement_score", "last_engaged_at").first()
        if row is None:
            return
        score, last = row
        if last is None or at >= last:
            score, last = engagement_decay(score or 0.0, last, at) + weight, at
        else:
            score = (score or 0.0) + engagement_decay(weight, at, last)
        Contact.objects.filter(pk=contact_id).update(engagement_score=round(score, 6), last_engaged_at=last)
        cache.invalidate_on_commit(cache.contact_detail_key(contact_id))


# --------------------------------------------------------------------------- message templates
TEMPLATE_FIELDS = ("name", "description", "channel", "purpose", "subject", "text_body", "html_body", "is_active")


def _clean_template(values: dict, errors: Errors) -> None:
    channel = values.get("channel")
    if channel not in SENDABLE_CHANNELS:
        errors.add("channel", f"Templates are for {sorted(SENDABLE_CHANNELS)}.", "invalid_choice")
    custom = rendering.known_custom_fields()
    for field, is_html in (("subject", False), ("text_body", False), ("html_body", True)):
        for problem in rendering.check_template(values.get(field) or "", html=is_html, custom_fields=custom):
            errors.add(field, problem, "merge_field")
    if channel == Channel.SMS:
        if values.get("html_body"):
            errors.add("html_body", "SMS has no HTML part.", "not_allowed")
        if not values.get("text_body"):
            errors.add("text_body", "An SMS template needs a text body.", "required")
    elif channel == Channel.EMAIL and not (values.get("text_body") or values.get("html_body")):
        errors.add("text_body", "Give a text body, an HTML body or both.", "required")


def message_template_create(*, data: dict[str, Any], actor=None) -> MessageTemplate:
    values = {k: v for k, v in data.items() if k in TEMPLATE_FIELDS}
    values.setdefault("channel", Channel.EMAIL)
    errors = Errors()
    _clean_template(values, errors)
    if MessageTemplate.objects.filter(name=values.get("name")).exists():
        errors.add("name", "A message template with this name exists.", "unique")
    errors.raise_if_any()
    with transaction.atomic(), audited(actor, "message_template.create"):
        return MessageTemplate.objects.create(
            created_by=actor if getattr(actor, "is_authenticated", False) else None, **values)


def message_template_update(*, template_id, data: dict[str, Any], actor=None) -> MessageTemplate:
    with transaction.atomic():
        key = parse_uuid(template_id)
        template = MessageTemplate.objects.select_for_update().filter(pk=key).first() if key else None
        if template is None:
            raise NotFound("Message template not found.")
        values = {k: v for k, v in data.items() if k in TEMPLATE_FIELDS}
        merged = {field: values.get(field, getattr(template, field)) for field in TEMPLATE_FIELDS}
        errors = Errors()
        _clean_template(merged, errors)
        if "name" in values and MessageTemplate.objects.filter(name=values["name"]).exclude(pk=template.pk).exists():
            errors.add("name", "A message template with this name exists.", "unique")
        if "channel" in values and values["channel"] != template.channel and template.communications.filter(
                status__in=PRE_SEND_STATUSES).exists():
            errors.add("channel", "Messages waiting to be sent use this template; its channel cannot change.",
                       "in_use")
        errors.raise_if_any()
        with audited(actor, "message_template.update"):
            for key_, value in values.items():
                setattr(template, key_, value)
            template.save(update_fields=[*values, "updated_at"])
    return template


def message_template_delete(*, template_id, actor=None) -> None:
    with transaction.atomic():
        key = parse_uuid(template_id)
        template = MessageTemplate.objects.select_for_update().filter(pk=key).first() if key else None
        if template is None:
            raise NotFound("Message template not found.")
        if template.communications.filter(status__in=PRE_SEND_STATUSES).exists():
            raise Conflict("Messages waiting to be sent use this template; cancel them or deactivate it.")
        with audited(actor, "message_template.delete"):
            template.delete()


def message_template_preview(*, template_id, contact_id, actor=None) -> dict:
    key = parse_uuid(template_id)
    template = MessageTemplate.objects.filter(pk=key).first() if key else None
    if template is None:
        raise NotFound("Message template not found.")
    contact = _contact(contact_id, actor=actor)
    try:
        rendered = render_for(template=template, contact=contact, unsubscribe_url="https://example.invalid/unsubscribe")
    except rendering.RenderError as exc:
        raise InvalidInput.field("template", str(exc), "render_error")
    result = {"subject": rendered.subject, "text": rendered.text, "html": rendered.html,
              "to": recipient_address(template.channel, contact)}
    if template.channel == Channel.SMS:
        segments, encoding = sms_segments(rendered.text)
        result.update(segments=segments, encoding=encoding)
    return result


# --------------------------------------------------------------------------- preferences and consent
def preferences_update(*, contact_id, data: dict[str, Any], actor=None, ip_address: str | None = None,
                       api_client: str = "") -> None:
    """Set the given (channel, purpose) consents with their proof, and the quiet hours when given.
    Pairs not mentioned keep their state (a consent record is proof and is never dropped by omission)."""
    key = parse_uuid(contact_id)
    if key is None or not Contact.objects.filter(pk=key).exists():
        raise NotFound("Contact not found.")
    errors = Errors()
    entries = data.get("preferences") or []
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(entries):
        pair = (entry["channel"], entry["purpose"])
        if pair in seen:
            errors.add(f"preferences[{index}]", f"{pair[0]}/{pair[1]} is given twice.", "duplicate")
        seen.add(pair)
        if entry["channel"] not in SENDABLE_CHANNELS:
            errors.add(f"preferences[{index}].channel", f"Consent is kept for {sorted(SENDABLE_CHANNELS)}.",
                       "invalid_choice")
    quiet = data.get("quiet_hours", ...)
    quiet_values = None
    if quiet is not ... and quiet is not None:
        quiet_values = {}
        for field in ("start", "end"):
            try:
                quiet_values[field] = parse_clock(quiet.get(field))
            except ValueError as exc:
                errors.add(f"quiet_hours.{field}", str(exc), "invalid")
        try:
            quiet_values["timezone"] = check_timezone(quiet.get("timezone") or "")
        except ValueError as exc:
            errors.add("quiet_hours.timezone", str(exc), "invalid")
        if quiet_values.get("start") is not None and quiet_values.get("start") == quiet_values.get("end"):
            errors.add("quiet_hours.end", "Quiet hours need different start and end times.", "invalid")
    errors.raise_if_any()
    now = timezone.now()
    with transaction.atomic(), audited(actor, "contact.preferences", contact=str(key)):
        for entry in entries:
            ContactPreference.objects.update_or_create(
                contact_id=key, channel=entry["channel"], purpose=entry["purpose"],
                defaults={"status": entry["status"], "source": entry["source"], "wording": entry.get("wording", ""),
                          "ip_address": ip_address, "api_client": api_client[:150], "recorded_at": now})
        if quiet is None:
            QuietHours.objects.filter(contact_id=key).delete()
        elif quiet_values is not None:
            QuietHours.objects.update_or_create(contact_id=key, defaults=quiet_values)


def consent_withdraw(*, contact_id, channel: str, purpose: str, source: str, wording: str = "",
                     ip_address: str | None = None, api_client: str = "") -> None:
    """Opt-out recorded by the system (one-click unsubscribe, provider unsubscribe event)."""
    ContactPreference.objects.update_or_create(
        contact_id=contact_id, channel=channel, purpose=purpose,
        defaults={"status": ConsentStatus.OPTED_OUT, "source": source, "wording": wording,
                  "ip_address": ip_address, "api_client": api_client, "recorded_at": timezone.now()})


# --------------------------------------------------------------------------- suppression list
def suppression_add(*, channel: str, address: str, reason: str, source: str = "", note: str = "",
                    communication_id=None, actor=None) -> tuple[Suppression, bool]:
    """Idempotent: an address already on the list keeps its first entry."""
    if channel not in SENDABLE_CHANNELS:
        raise InvalidInput.field("channel", f"Suppressions are kept for {sorted(SENDABLE_CHANNELS)}.",
                                 "invalid_choice")
    if reason not in SuppressionReason.values:
        raise InvalidInput.field("reason", f"Choose one of {SuppressionReason.values}.", "invalid_choice")
    address = normalize_address(channel, address)
    if not address:
        raise InvalidInput.field("address", "An address is required.", "required")
    with transaction.atomic(), audited(actor, "suppression.add", reason=reason):
        return Suppression.objects.get_or_create(
            channel=channel, address_hash=address_hash(channel, address),
            defaults={"address": address, "reason": reason, "source": source[:100], "note": note[:255],
                      "communication_id": communication_id,
                      "created_by": actor if getattr(actor, "is_authenticated", False) else None})


def suppression_remove(*, suppression_id, actor=None) -> None:
    key = parse_uuid(suppression_id)
    with transaction.atomic():
        suppression = Suppression.objects.select_for_update().filter(pk=key).first() if key else None
        if suppression is None:
            raise NotFound("Suppression not found.")
        with audited(actor, "suppression.remove"):
            suppression.delete()


def suppression_erase_addresses(*, channel: str, address: str) -> int:
    """Erasure: forget the address itself, keep the hash so the person stays suppressed."""
    return Suppression.objects.filter(channel=channel, address_hash=address_hash(channel, address)).update(address="")


# --------------------------------------------------------------------------- delivery events
EVENT_STATUS = {
    DeliveryEventType.DELIVERED: S.DELIVERED,
    DeliveryEventType.OPENED: S.OPENED,
    DeliveryEventType.CLICKED: S.CLICKED,
    DeliveryEventType.REPLIED: S.REPLIED,
    DeliveryEventType.BOUNCED: S.BOUNCED,
    DeliveryEventType.REJECTED: S.FAILED,
    DeliveryEventType.FAILED: S.FAILED,
}


def delivery_event_record(*, provider: str, event_type: str, provider_event_id: str = "",
                          provider_message_id: str = "", communication_id=None, recipient: str = "",
                          occurred_at: dt.datetime | None = None, description: str = "", url: str = "",
                          ip_address: str | None = None) -> DeliveryEvent | None:
    """Store one delivery event (once per provider event id: a replay returns None and changes nothing)
    and reflect it: the communication's status when the transition table allows it, the suppression
    list (hard bounce, complaint), consent (unsubscribe) and the contact's engagement."""
    if event_type not in DeliveryEventType.values:
        event_type = DeliveryEventType.UNKNOWN
    occurred_at = occurred_at or timezone.now()
    with transaction.atomic():
        comm = None
        key = parse_uuid(communication_id) if communication_id else None
        query = Communication.objects.select_for_update(of=("self",)).select_related("contact")
        if key is not None:
            comm = query.filter(pk=key).first()
        if comm is None and provider_message_id:
            comm = query.filter(provider_message_id=provider_message_id).first()
        try:
            with transaction.atomic():
                event = DeliveryEvent.objects.create(
                    communication=comm, provider=provider[:50], provider_event_id=(provider_event_id or "")[:255],
                    event_type=event_type, occurred_at=occurred_at, provider_message_id=provider_message_id[:255],
                    recipient_hash=address_hash(comm.type if comm else Channel.EMAIL, recipient) if recipient else "",
                    description=(description or "")[:500], url=(url or "")[:2000])
        except IntegrityError:
            return None  # replayed: stored once already
        if comm is None:
            return event
        target = EVENT_STATUS.get(event_type)
        if target and target in ALLOWED_TRANSITIONS.get(comm.status, ()):
            _apply_status(comm, target, reason=f"{provider} {event_type}" + (f": {description}" if description else ""),
                          source=StatusSource.WEBHOOK if provider != "tracking" else StatusSource.TRACKING)
        address = recipient or comm.to_address
        if event_type == DeliveryEventType.BOUNCED and address:
            suppression_add(channel=comm.type, address=address, reason=SuppressionReason.HARD_BOUNCE,
                            source=provider, note=description, communication_id=comm.pk)
        elif event_type == DeliveryEventType.COMPLAINED and address:
            suppression_add(channel=comm.type, address=address, reason=SuppressionReason.COMPLAINT,
                            source=provider, note=description, communication_id=comm.pk)
            consent_withdraw(contact_id=comm.contact_id, channel=comm.type, purpose=comm.purpose,
                             source=f"{provider}:complaint", ip_address=ip_address)
        elif event_type == DeliveryEventType.UNSUBSCRIBED:
            consent_withdraw(contact_id=comm.contact_id, channel=comm.type, purpose=comm.purpose,
                             source=f"{provider}:unsubscribe", ip_address=ip_address,
                             wording=description or "Unsubscribe link in the message")
        if event_type in (DeliveryEventType.OPENED, DeliveryEventType.CLICKED, DeliveryEventType.REPLIED):
            engagement_record(contact_id=comm.contact_id, kind=event_type, at=occurred_at)
    return event
