"""One idempotent pipeline for every received message, whichever way it came in.

`accept` stores the raw message once (unique on Message-ID and SHA-256 of the bytes: a redelivery, a
second poll of the same mailbox or a replayed SMS callback is a no-op) and enqueues
`communications.inbound.process` after commit. `process` takes the row with FOR UPDATE SKIP LOCKED while it
is `pending`, classifies it and applies every effect in one savepoint together with the row's new state:
nothing is half-written, and a crash before commit leaves the row pending for the task's redelivery (or
the sweep). An error is logged, counted and recorded on the row (`failed`); the worker carries on.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import logging
import re
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from contacts_project.audit import audited
from contacts_project.events import emit
from contacts_project.ids import parse_uuid
from contacts_project.metrics import INBOUND_MESSAGES, INBOUND_PROBLEMS

from .. import services
from ..choices import Channel, CommunicationStatus, DeliveryEventType, Direction, StatusSource, SuppressionReason
from ..models import Communication
from ..policy import address_hash
from . import addresses, classify
from .matching import contact_find_by_address
from .models import InboundKind, InboundMessage, InboundSource, InboundState, SoftBounce

logger = logging.getLogger(__name__)
K = InboundKind
PROVIDER = "inbound"
MAX_CONTENT = 1_000_000  # characters of a reply kept on the timeline
REPLY_WINDOW_DAYS = 90  # how far back a bounce or complaint without reference looks for the message


# --------------------------------------------------------------------------- accepting
def header_block(raw: bytes) -> bytes:
    for separator in (b"\r\n\r\n", b"\n\n"):
        index = raw.find(separator)
        if index >= 0:
            return raw[:index]
    return raw[:65536]


def message_id_of(raw: bytes) -> str:
    match = re.search(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", header_block(raw), re.IGNORECASE | re.MULTILINE)
    if not match:
        return ""
    return re.sub(r"\s+", "", match.group(1).decode("ascii", errors="replace"))[:255]


def accept(*, raw: bytes, source: str, envelope_from: str = "", envelope_to=(), message_id: str | None = None
           ) -> tuple[InboundMessage, bool]:
    """Store a received message once and enqueue its processing; (row, created)."""
    message_id = message_id_of(raw) if message_id is None else message_id[:255]
    digest = hashlib.sha256(raw).hexdigest()
    try:
        with transaction.atomic():
            row = InboundMessage.objects.create(
                source=source, message_id=message_id, content_hash=digest, raw=raw, size=len(raw),
                envelope_from=(envelope_from or "")[:320], envelope_to=[str(a)[:320] for a in envelope_to][:100])
            transaction.on_commit(lambda: enqueue([row.pk]))
    except IntegrityError:
        existing = InboundMessage.objects.filter(message_id=message_id, content_hash=digest).defer("raw").first()
        if existing is None:  # pragma: no cover - the conflicting row was deleted meanwhile
            raise
        return existing, False
    return row, True


def enqueue(ids) -> None:
    from .tasks import process_message

    for key in ids:
        process_message.apply_async(args=[str(key)])


def sweep(*, older_than: float = 120.0, limit: int = 500) -> int:
    """Re-enqueue rows still pending after `older_than` seconds (a lost task); harmless if the first
    task still comes, since only one run takes the row."""
    cutoff = timezone.now() - dt.timedelta(seconds=older_than)
    ids = list(InboundMessage.objects.filter(state=InboundState.PENDING, received_at__lt=cutoff)
               .order_by("received_at").values_list("id", flat=True)[:limit])
    enqueue(ids)
    return len(ids)


def purge_raw(*, now: dt.datetime | None = None, batch: int = 1000) -> int:
    """Raw messages are kept for INBOUND_RAW_RETENTION_DAYS for audit, then emptied (the row and what was
    learned from it stay)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.INBOUND_RAW_RETENTION_DAYS)
    total = 0
    while True:
        ids = list(InboundMessage.objects.filter(raw_purged_at__isnull=True, received_at__lt=cutoff)
                   .values_list("id", flat=True)[:batch])
        if not ids:
            return total
        total += InboundMessage.objects.filter(pk__in=ids, raw_purged_at__isnull=True).update(raw=b"",
                                                                                             raw_purged_at=now)


# --------------------------------------------------------------------------- processing
def process(inbound_id) -> str:
    """Classify and apply one pending message; returns its kind, `skipped` or `failed`."""
    key = parse_uuid(inbound_id)
    if key is None:
        return "skipped"
    after: list = []
    with transaction.atomic():
        row = InboundMessage.objects.select_for_update(skip_locked=True).filter(
            pk=key, state=InboundState.PENDING).first()
        if row is None:
            return "skipped"
        try:
            with transaction.atomic():
                if row.source == InboundSource.SMS:
                    from .sms import handle_sms

                    handle_sms(row, after)
                else:
                    handle_mail(row)
                row.state, row.processed_at = InboundState.PROCESSED, timezone.now()
                row.save(update_fields=["state", "processed_at", "kind", "subject", "from_address", "communication",
                                        "contact", "logged_as", "detail", "error"])
        except OperationalError:
            raise  # the database (deadlock, connection lost): the task retries, the row stays pending
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the worker or be half-applied
            logger.exception("inbound message not processed", extra={"inbound": str(row.pk), "source": row.source})
            InboundMessage.objects.filter(pk=row.pk).update(
                state=InboundState.FAILED, processed_at=timezone.now(),
                error=f"{type(exc).__name__}: {exc}"[:2000])
            INBOUND_PROBLEMS.labels("error").inc()
            return "failed"
        kind = row.kind
        INBOUND_MESSAGES.labels(row.source, kind or "none").inc()
        for action in after:  # once committed: what talks to the outside (an SMS confirmation)
            transaction.on_commit(action)
    return kind


def _problem(row: InboundMessage, kind: str, note: str) -> None:
    row.kind = kind
    row.detail = {**row.detail, "note": note}
    logger.warning("inbound message %s: %s", kind, note,
                   extra={"inbound": str(row.pk), "message_id": row.message_id, "source": row.source})
    INBOUND_PROBLEMS.labels(kind).inc()


def handle_mail(row: InboundMessage) -> None:
    raw = bytes(row.raw)
    try:
        msg = classify.parse(raw)
        row.subject = classify.header(msg, "Subject")[:255]
        row.from_address = classify.from_address(msg)[:320]
        result = classify.classify(msg, envelope_to=row.envelope_to,
                                   envelope_from=row.envelope_from if row.source == InboundSource.SMTP else None)
    except Exception as exc:  # noqa: BLE001 - the parser or a detector choking on broken MIME
        _problem(row, K.MALFORMED, f"cannot be parsed: {type(exc).__name__}: {exc}")
        return
    if msg.defects:
        row.detail["defects"] = sorted({type(d).__name__ for d in msg.defects})
    if result.kind in (classify.MALFORMED, classify.LOOP):
        _problem(row, result.kind, result.note)
        return
    row.detail.update({"detector": result.detector, "note": result.note} if result.detector or result.note else {})
    handler = HANDLERS[result.kind]
    handler(row, msg, result)


# --------------------------------------------------------------------------- finding what a message is about
def _communication(comm_id) -> Communication | None:
    key = parse_uuid(comm_id)
    if key is None:
        return None
    return (Communication.objects.select_related("contact").filter(pk=key, direction=Direction.OUTBOUND,
                                                                    type=Channel.EMAIL).first())


def _by_token(result: classify.Result, *kinds: str) -> Communication | None:
    for kind in kinds:
        parsed = result.token(kind)
        if parsed is not None:
            comm = _communication(parsed.value)
            if comm is not None:
                return comm
    return None


def _by_references(result: classify.Result) -> Communication | None:
    for ref in result.references:
        comm = _communication(ref)
        if comm is not None:
            return comm
    return None


def _latest_sent_to(address: str) -> Communication | None:
    contact = contact_find_by_address(channel=Channel.EMAIL, address=address)
    if contact is None:
        return None
    since = timezone.now() - dt.timedelta(days=REPLY_WINDOW_DAYS)
    return (Communication.objects.select_related("contact")
            .filter(contact=contact, type=Channel.EMAIL, direction=Direction.OUTBOUND, sent_at__gte=since)
            .order_by("-created_at", "-id").first())


def _occurred(msg) -> dt.datetime:
    now = timezone.now()
    try:
        when = email.utils.parsedate_to_datetime(classify.header(msg, "Date"))
    except (TypeError, ValueError, IndexError):
        return now
    if when is None:
        return now
    if timezone.is_naive(when):
        when = timezone.make_aware(when, dt.UTC)
    return min(when, now)


def _failure_detail(failures) -> list[dict[str, Any]]:
    return [{"address": f.address, "hard": f.hard, "status": f.status, "action": f.action,
             "diagnostic": f.diagnostic[:300]} for f in failures]


# --------------------------------------------------------------------------- effects
def on_bounce(row: InboundMessage, msg, result: classify.Result) -> None:
    row.kind = K.HARD_BOUNCE if result.kind == classify.HARD else K.SOFT_BOUNCE
    row.detail["failures"] = _failure_detail(result.failures)
    comm = _by_token(result, addresses.BOUNCE, addresses.REPLY) or _by_references(result)
    targets: list[tuple[Communication | None, str, classify.Failure]] = []
    if comm is not None:
        # VERP: one message per recipient, so the token names the recipient even when the notice reports a
        # forwarding address or none
        matching = [f for f in result.failures if f.address and f.address == (comm.to_address or "").lower()]
        failure = (matching or sorted(result.failures, key=lambda f: not f.hard))[0]
        targets.append((comm, comm.to_address, failure))
    else:
        for failure in result.failures:
            if failure.address:
                targets.append((_latest_sent_to(failure.address), failure.address, failure))
    applied = []
    for target, address, failure in targets:
        contact = target.contact if target is not None else contact_find_by_address(channel=Channel.EMAIL,
                                                                                    address=address)
        if contact is None or not address:
            continue  # an address we never sent to: nothing of ours to suppress
        row.communication = row.communication or target
        row.contact = row.contact or contact
        description = " ".join(p for p in (failure.status, failure.diagnostic) if p)[:500]
        if failure.hard:
            _hard_bounce(row, target, address, description)
        else:
            _soft_bounce(row, target, address, failure.status, description)
        applied.append(address)
    row.detail["applied"] = applied
    if not applied:
        row.detail["note"] = "no recipient of ours in the notice"


def _hard_bounce(row, comm, address: str, description: str) -> None:
    if comm is not None:
        services.delivery_event_record(provider=PROVIDER, event_type=DeliveryEventType.BOUNCED,
                                       provider_event_id=f"{row.pk}:{address_hash(Channel.EMAIL, address)[:16]}",
                                       communication_id=comm.pk, recipient=address, description=description)
    else:
        services.suppression_add(channel=Channel.EMAIL, address=address, reason=SuppressionReason.HARD_BOUNCE,
                                 source=PROVIDER, note=description)


def _soft_bounce(row, comm, address: str, status: str, description: str) -> None:
    digest = address_hash(Channel.EMAIL, address)
    SoftBounce.objects.get_or_create(inbound=row, address_hash=digest,
                                     defaults={"channel": Channel.EMAIL, "communication": comm,
                                               "status": status[:20]})
    if comm is not None:
        services.delivery_event_record(provider=PROVIDER, event_type=DeliveryEventType.DEFERRED,
                                       provider_event_id=f"{row.pk}:{digest[:16]}", communication_id=comm.pk,
                                       recipient=address, description=description)
    days = settings.INBOUND_SOFT_BOUNCE_DAYS
    count = SoftBounce.objects.filter(channel=Channel.EMAIL, address_hash=digest,
                                      at__gte=timezone.now() - dt.timedelta(days=days)).count()
    if count >= settings.INBOUND_SOFT_BOUNCE_THRESHOLD:
        services.suppression_add(channel=Channel.EMAIL, address=address, reason=SuppressionReason.SOFT_BOUNCE,
                                 source=PROVIDER, note=f"{count} soft bounces within {days} days; last: "
                                                       f"{description}"[:255],
                                 communication_id=comm.pk if comm else None)
        row.detail["suppressed"] = True


def on_complaint(row: InboundMessage, msg, result: classify.Result) -> None:
    row.kind = K.COMPLAINT
    address = result.complaint_address
    comm = _by_token(result, addresses.BOUNCE, addresses.REPLY) or _by_references(result) \
        or (_latest_sent_to(address) if address else None)
    row.detail["complained"] = address
    if comm is not None:
        row.communication, row.contact = comm, comm.contact
        services.delivery_event_record(provider=PROVIDER, event_type=DeliveryEventType.COMPLAINED,
                                       provider_event_id=str(row.pk), communication_id=comm.pk,
                                       recipient=address or comm.to_address,
                                       description=f"Feedback report: {result.note or 'abuse'}")
    elif address and (contact := contact_find_by_address(channel=Channel.EMAIL, address=address)) is not None:
        row.contact = contact
        services.suppression_add(channel=Channel.EMAIL, address=address, reason=SuppressionReason.COMPLAINT,
                                 source=PROVIDER, note=f"Feedback report: {result.note or 'abuse'}")
    else:
        row.detail["note"] = "the report names no message or address of ours"


def on_unsubscribe(row: InboundMessage, msg, result: classify.Result) -> None:
    row.kind = K.UNSUBSCRIBE
    comm = _by_token(result, addresses.UNSUBSCRIBE)
    if comm is None:
        row.detail["note"] = "the token names no message"
        return
    row.communication, row.contact = comm, comm.contact
    proof = (f"mailto: unsubscribe (List-Unsubscribe) from {row.from_address or 'an unknown sender'}, "
             f"Message-ID {row.message_id or '-'}, Date {classify.header(msg, 'Date') or '-'}, "
             f"inbound message {row.pk}")
    services.delivery_event_record(provider=PROVIDER, event_type=DeliveryEventType.UNSUBSCRIBED,
                                   provider_event_id=f"mailto-unsubscribe:{comm.pk}", communication_id=comm.pk,
                                   recipient=comm.to_address, description=proof[:500])


def on_auto_reply(row: InboundMessage, msg, result: classify.Result) -> None:
    row.kind = K.AUTO_REPLY
    comm = _by_token(result, addresses.REPLY, addresses.BOUNCE) or _by_references(result)
    if comm is not None:
        row.communication, row.contact = comm, comm.contact
    logger.info("auto-reply ignored", extra={"inbound": str(row.pk), "reason": result.note})


def _log_inbound(row: InboundMessage, msg, *, contact_id, in_reply_to=None, purpose: str = "transactional"):
    data = {"type": Channel.EMAIL, "contact": contact_id, "direction": Direction.INBOUND, "purpose": purpose,
            "subject": row.subject[:255], "content": classify.body_text(msg)[:MAX_CONTENT],
            "occurred_at": _occurred(msg), "in_reply_to": in_reply_to,
            "metadata": {"message_id": row.message_id, "from": row.from_address, "inbound": str(row.pk)}}
    return services.communication_create(data=data, actor=None)


def on_reply(row: InboundMessage, msg, result: classify.Result) -> None:
    comm = _by_token(result, addresses.REPLY) or _by_references(result)
    if comm is None:
        on_person(row, msg, result)
        return
    row.kind, row.communication, row.contact = K.REPLY, comm, comm.contact
    logged = _log_inbound(row, msg, contact_id=comm.contact_id, in_reply_to=comm.pk, purpose=comm.purpose)
    row.logged_as = logged
    emit("communication.replied", {"id": str(comm.pk), "reply": str(logged.pk), "contact": str(comm.contact_id),
                                   "owner": comm.created_by_id or comm.contact.owner_id,
                                   "campaign": str(comm.campaign_id) if comm.campaign_id else None,
                                   "subject": row.subject})


def on_person(row: InboundMessage, msg, result: classify.Result) -> None:
    contact = contact_find_by_address(channel=Channel.EMAIL, address=row.from_address)
    if contact is None:
        row.kind = K.UNMATCHED
        return
    row.kind, row.contact = K.CONTACT_MAIL, contact
    row.logged_as = _log_inbound(row, msg, contact_id=contact.pk)


def on_staff_log(row: InboundMessage, msg, result: classify.Result) -> None:
    parsed = result.token(addresses.LOG)
    user = get_user_model().objects.filter(pk=parsed.value, is_active=True).first() if parsed else None
    if user is None:
        row.kind = K.UNMATCHED
        row.detail["note"] = "the drop address names no active user"
        return
    recipients = [a for a in dict.fromkeys(classify.addresses_in(msg, "To", "Cc")) if not classify.ours(a)]
    logged = []
    for recipient in recipients:
        contact = contact_find_by_address(channel=Channel.EMAIL, address=recipient)
        if contact is None:
            continue
        comm = _log_sent(row, msg, contact=contact, address=recipient, user=user)
        logged.append(str(comm.pk))
        row.contact = row.contact or contact
        row.logged_as = row.logged_as or comm
    row.detail.update({"user": str(user.pk), "logged": logged})
    row.kind = K.STAFF_LOG if logged else K.UNMATCHED
    if not logged:
        row.detail["note"] = "no recipient is a contact"


def _log_sent(row: InboundMessage, msg, *, contact, address: str, user) -> Communication:
    """Mail a staff member sent from their own client, logged as sent (the dispatcher never sees it)."""
    occurred = _occurred(msg)
    with audited(user, "communication.create", contact=str(contact.pk)):
        comm = Communication.objects.create(
            contact=contact, type=Channel.EMAIL, direction=Direction.OUTBOUND, status=CommunicationStatus.SENT,
            subject=row.subject[:255], content=classify.body_text(msg)[:MAX_CONTENT], sent_at=occurred,
            status_changed_at=timezone.now(), to_address=address[:320], created_by=user,
            metadata={"message_id": row.message_id, "from": row.from_address, "inbound": str(row.pk),
                      "logged_by_bcc": True})
        services.record_status_events([(comm.pk, "", comm.status, "logged from the BCC drop address")],
                                      source=StatusSource.INBOUND, actor=user)
        emit("communication.created", {"id": str(comm.pk), "contact": str(contact.pk), "channel": comm.type,
                                       "direction": comm.direction, "status": comm.status})
        services._touch_contacted([contact.pk], occurred)
    return comm


def on_dsn_other(row: InboundMessage, msg, result: classify.Result) -> None:
    row.kind = K.DSN_OTHER
    row.detail["failures"] = _failure_detail(result.failures)


HANDLERS = {
    classify.HARD: on_bounce,
    classify.SOFT: on_bounce,
    classify.COMPLAINT: on_complaint,
    classify.UNSUBSCRIBE: on_unsubscribe,
    classify.AUTO_REPLY: on_auto_reply,
    classify.REPLY: on_reply,
    classify.PERSON: on_person,
    classify.STAFF_LOG: on_staff_log,
    classify.DSN_OTHER: on_dsn_other,
}
