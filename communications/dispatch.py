"""The sending engine (ARCHITECTURE.md section 4): claim due rows, send each exactly once, recover.

1. `dispatch_due` (Celery beat, every few seconds) claims due `scheduled` rows with
   SELECT ... FOR UPDATE SKIP LOCKED in batches, marks them `queued` and, after commit, enqueues
   `communications.send_messages` tasks carrying only ids. It keeps at most COMMUNICATIONS_MAX_IN_FLIGHT
   messages waiting in the send queue (a few seconds of sending): a backlog waits as `scheduled`, where
   the next dispatch can still put a message that just came due ahead of it, instead of in the broker's
   FIFO list. Half of each dispatch's room goes to the most recently due messages, the rest to the
   longest waiting, so neither a 10,000-message campaign delays a message due now by minutes nor a steady
   stream of new messages starves the backlog.
2. `send_messages` takes each id with a conditional UPDATE queued -> sending (no row: someone else has
   it, skip), checks consent, suppression, quiet hours and caps, renders, hands the message to the
   channel backend and records `sent` with the provider's id (or `failed`, `cancelled`, or back to
   `scheduled` for a deferral or a retry with backoff).
3. `recover_stale` re-enqueues `queued` rows whose task was lost, and settles `sending` rows whose
   lease expired (a worker died mid-send): the backend is asked whether it has the message; if it
   cannot say (SMTP), the row is failed rather than sent twice: at-most-once for that narrow case.
"""
from __future__ import annotations

import datetime as dt
import logging
import random

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from contacts_project.events import emit
from contacts_project.metrics import MESSAGES as MESSAGES_SENT
from contacts_project.metrics import send_queue_tasks

from . import rendering, services, tracking
from .channels import ChannelBackend, Handover, OutboundMessage, PermanentSendError, TransientSendError, get_backend
from .choices import Channel, CommunicationStatus, Purpose, StatusSource
from .inbound import addresses as inbound_addresses
from .models import Communication
from .policy import PolicyCache, decide, policy_columns

logger = logging.getLogger(__name__)
S = CommunicationStatus
EVENTS = "communications_communicationstatusevent"
TABLE = "communications_communication"


def _enqueue(ids: list) -> None:
    from .tasks import send_messages

    chunk = settings.COMMUNICATIONS_SEND_CHUNK
    for start in range(0, len(ids), chunk):
        send_messages.apply_async(args=[[str(i) for i in ids[start:start + chunk]]])


def claim_due(*, now: dt.datetime | None = None, limit: int | None = None, newest_first: bool = False) -> list:
    """One batch: due scheduled rows -> queued (one transaction), send tasks enqueued after commit.
    Longest waiting first, or, with `newest_first`, the ones that came due last."""
    now = now or timezone.now()
    limit = limit or settings.COMMUNICATIONS_DISPATCH_BATCH
    order = "scheduled_at DESC, id DESC" if newest_first else "scheduled_at, id"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"""
            WITH due AS (
                SELECT id FROM {TABLE} WHERE status = 'scheduled' AND scheduled_at <= %s
                ORDER BY {order} LIMIT %s FOR UPDATE SKIP LOCKED
            ), claimed AS (
                UPDATE {TABLE} c SET status = 'queued', queued_at = %s, status_changed_at = %s, updated_at = %s,
                    status_reason = ''
                FROM due WHERE c.id = due.id RETURNING c.id, c.scheduled_at
            ), logged AS (
                INSERT INTO {EVENTS} (communication_id, from_status, to_status, reason, source, at)
                SELECT id, 'scheduled', 'queued', '', 'dispatcher', %s FROM claimed
            )
            SELECT id FROM claimed ORDER BY {order}""", [now, limit, now, now, now, now])  # RETURNING has no order
        ids = [row[0] for row in cursor.fetchall()]
        if ids:
            transaction.on_commit(lambda: _enqueue(ids))
    return ids


def recover_stale(*, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    queued_before = now - dt.timedelta(seconds=settings.COMMUNICATIONS_QUEUED_LEASE_SECONDS)
    sending_before = now - dt.timedelta(seconds=settings.COMMUNICATIONS_SENDING_LEASE_SECONDS)
    limit = settings.COMMUNICATIONS_DISPATCH_BATCH
    # queued rows whose task never ran (broker lost it, worker killed before acking): enqueue again;
    # harmless if the first task is still coming, since only one conditional UPDATE wins.
    with transaction.atomic():
        requeue = list(Communication.objects.select_for_update(skip_locked=True)
                       .filter(status=S.QUEUED, queued_at__lt=queued_before).values_list("id", flat=True)[:limit])
        if requeue:
            Communication.objects.filter(pk__in=requeue, status=S.QUEUED).update(queued_at=now)
            transaction.on_commit(lambda: _enqueue(requeue))
    settled = {"requeued": len(requeue), "confirmed": 0, "retried": 0, "failed": 0}
    stale = list(Communication.objects.filter(status=S.SENDING, sending_started_at__lt=sending_before)
                 .values_list("id", "type", "sending_started_at")[:limit])
    backends: dict[str, ChannelBackend] = {}
    for comm_id, channel, started in stale:
        backend = backends.get(channel) or backends.setdefault(channel, get_backend(channel))
        try:
            handover = backend.check_handover(str(comm_id))
        except Exception:  # noqa: BLE001 - a provider lookup failing means we do not know
            logger.exception("handover check failed", extra={"communication": str(comm_id)})
            handover = Handover.UNKNOWN
        lease = Communication.objects.filter(pk=comm_id, status=S.SENDING, sending_started_at=started)
        with transaction.atomic():
            if handover is Handover.HANDED_OVER:
                done = lease.update(status=S.SENT, sent_at=now, status_changed_at=now, updated_at=now,
                                    status_reason="Confirmed with the provider after the send lease expired.")
                new, key = S.SENT, "confirmed"
            elif handover is Handover.NOT_HANDED_OVER:
                done = lease.update(status=S.QUEUED, queued_at=now, status_changed_at=now, updated_at=now,
                                    status_reason="Send interrupted before hand-over; queued again.")
                new, key = S.QUEUED, "retried"
                if done:
                    transaction.on_commit(lambda cid=comm_id: _enqueue([cid]))
            else:
                done = lease.update(status=S.FAILED, status_changed_at=now, updated_at=now,
                                    status_reason="Interrupted while sending; not retried because the channel "
                                                  "cannot confirm hand-over (at-most-once).")
                new, key = S.FAILED, "failed"
            if done:
                services.record_status_events([(comm_id, S.SENDING, new, "send lease expired")],
                                              source=StatusSource.RECOVERY, at=now)
                settled[key] += 1
    return settled


def waiting_in_send_queue() -> int | None:
    """Messages waiting in the broker's send queue (tasks × ids per task: an upper bound), or None when the
    broker cannot say. Tasks a worker has already taken are not counted (one per process: prefetch 1)."""
    tasks = send_queue_tasks()
    return None if tasks is None else tasks * settings.COMMUNICATIONS_SEND_CHUNK


def dispatch_room() -> int:
    """How many due messages this dispatch may queue: the in-flight cap minus what already waits."""
    waiting = waiting_in_send_queue()
    if waiting is None:
        return settings.COMMUNICATIONS_DISPATCH_BATCH
    return max(0, settings.COMMUNICATIONS_MAX_IN_FLIGHT - waiting)


def dispatch_due(*, max_batches: int | None = None) -> dict:
    """What beat runs: recover, then fill the send queue's free room with due messages (bounded per run):
    half with the most recently due, the rest with the longest waiting."""
    result = recover_stale()
    room = dispatch_room()
    batch = settings.COMMUNICATIONS_DISPATCH_BATCH
    batches = max_batches or settings.COMMUNICATIONS_DISPATCH_MAX_BATCHES
    claimed = 0
    for newest_first, up_to in ((True, room // 2), (False, room)):
        while claimed < up_to and batches > 0:
            limit = min(up_to - claimed, batch)
            ids = claim_due(limit=limit, newest_first=newest_first)
            batches -= 1
            claimed += len(ids)
            if len(ids) < limit:
                break  # nothing more is due
    result["claimed"] = claimed
    result["room"] = room
    return result


# --------------------------------------------------------------------------- sending
def _claim(comm: Communication, now: dt.datetime, address: str, caps: PolicyCache) -> tuple | None:
    """queued -> sending with a conditional UPDATE and its timeline row, and the send-time policy data,
    in one statement. None when another task has the message."""
    columns, params = policy_columns(comm, comm.contact, address, now, caps.caps.get((comm.type, comm.purpose)))
    with connection.cursor() as cursor:
        cursor.execute(f"""
            WITH claimed AS (
                UPDATE {TABLE} SET status = 'sending', sending_started_at = %s, status_changed_at = %s,
                    updated_at = %s, attempts = attempts + 1
                WHERE id = %s AND status = 'queued' RETURNING id
            ), logged AS (
                INSERT INTO {EVENTS} (communication_id, from_status, to_status, reason, source, at)
                SELECT id, 'queued', 'sending', '', 'send', %s FROM claimed
            )
            SELECT (SELECT count(*) FROM claimed), {columns}""", [now, now, now, comm.pk, now, *params])
        row = cursor.fetchone()
    return row[1:] if row[0] == 1 else None


def _finish(comm: Communication, status: str, reason: str, **fields) -> bool:
    """sending -> status with its timeline row in one statement, only while we still hold the lease
    (a recovery may have settled the row meanwhile)."""
    now = timezone.now()
    values = {"status": status, "status_reason": reason[:255], "status_changed_at": now, "updated_at": now, **fields}
    assignments = ", ".join(f'"{column}" = %s' for column in values)
    with connection.cursor() as cursor:
        cursor.execute(f"""
            WITH done AS (
                UPDATE {TABLE} SET {assignments}
                WHERE id = %s AND status = 'sending' AND sending_started_at = %s RETURNING id
            ), logged AS (
                INSERT INTO {EVENTS} (communication_id, from_status, to_status, reason, source, at)
                SELECT id, 'sending', %s, %s, 'send', %s FROM done
            )
            SELECT count(*) FROM done""",
                       [*values.values(), comm.pk, comm.sending_started_at, status, reason[:255], now])
        changed = cursor.fetchone()[0] == 1
    if changed:  # webhooks hear about the outcome, as from services.record_status_events
        emit("communication.status_changed", {"id": str(comm.pk), "from": S.SENDING, "to": status,
                                              "reason": reason[:255], "source": StatusSource.SEND})
    else:
        logger.warning("lost the send lease", extra={"communication": str(comm.pk), "status": status})
    return changed


def _backoff(attempt: int) -> dt.timedelta:
    base = settings.COMMUNICATIONS_RETRY_BACKOFF_SECONDS
    delay = min(base * 2 ** max(attempt - 1, 0), settings.COMMUNICATIONS_RETRY_BACKOFF_MAX_SECONDS)
    return dt.timedelta(seconds=delay * random.uniform(0.8, 1.2))


def build_message(comm: Communication, address: str, custom_fields: set[str] | None = None
                  ) -> tuple[OutboundMessage, rendering.Rendered]:
    contact = comm.contact
    unsubscribe = tracking.unsubscribe_url(comm.pk) if comm.type == Channel.EMAIL else ""
    if comm.template_id:
        rendered = services.render_for(template=comm.template, contact=contact, unsubscribe_url=unsubscribe,
                                       custom_fields=custom_fields)
    else:
        rendered = rendering.Rendered(subject=comm.subject, text=comm.content, html=comm.html_content)
    headers: dict[str, str] = {"X-Communication-ID": str(comm.pk)}
    html = rendered.html
    if comm.type == Channel.EMAIL:
        if comm.purpose != Purpose.TRANSACTIONAL:
            headers.update(tracking.list_unsubscribe_headers(comm.pk))
        # signed addresses: bounces, replies and mailto: unsubscribes come back to the inbound pipeline
        headers.update(inbound_addresses.outgoing_headers(comm.pk, list_unsubscribe=headers.get("List-Unsubscribe")))
        if html and settings.COMMUNICATIONS_TRACKING:
            html = tracking.rewrite_html(html, comm.pk)
    message = OutboundMessage(channel=comm.type, to=address, subject=rendered.subject, text=rendered.text,
                              html=html, headers=headers, reference=str(comm.pk),
                              metadata={"purpose": comm.purpose},
                              envelope_sender=inbound_addresses.bounce_address(comm.pk)
                              if comm.type == Channel.EMAIL else "")
    return message, rendered


def send_one(comm: Communication, backends: dict[str, ChannelBackend], caps: PolicyCache) -> str:
    """Send one message loaded while `queued`; returns the outcome (skipped, sent, cancelled, deferred,
    retry, failed). The conditional claim decides whether this task sends it at all."""
    now = timezone.now()
    channel = comm.type
    address = services.recipient_address(channel, comm.contact)
    policy = _claim(comm, now, address, caps)
    if policy is None:
        return "skipped"
    comm.sending_started_at, comm.attempts = now, comm.attempts + 1
    try:
        decision = decide(comm, comm.contact, address, now, caps, row=policy)
        if decision.action == "cancel":
            _finish(comm, S.CANCELLED, decision.reason)
            MESSAGES_SENT.labels(channel, "cancelled").inc()
            return "cancelled"
        if decision.action == "defer":
            _finish(comm, S.SCHEDULED, decision.reason, scheduled_at=decision.until, attempts=comm.attempts - 1)
            MESSAGES_SENT.labels(channel, "deferred").inc()
            return "deferred"
        message, rendered = build_message(comm, address, caps.custom_fields if comm.template_id else None)
        backend = backends.get(channel) or backends.setdefault(channel, get_backend(channel))
        result = backend.send(message)
    except TransientSendError as exc:
        if comm.attempts >= settings.COMMUNICATIONS_MAX_ATTEMPTS:
            _finish(comm, S.FAILED, f"Gave up after {comm.attempts} attempts: {exc}")
            MESSAGES_SENT.labels(channel, "failed").inc()
            return "failed"
        _finish(comm, S.SCHEDULED, f"Attempt {comm.attempts} failed, retrying: {exc}",
                scheduled_at=timezone.now() + _backoff(comm.attempts))
        MESSAGES_SENT.labels(channel, "retry").inc()
        return "retry"
    except (PermanentSendError, rendering.RenderError) as exc:
        _finish(comm, S.FAILED, str(exc))
        MESSAGES_SENT.labels(channel, "failed").inc()
        return "failed"
    except Exception as exc:  # noqa: BLE001 - a bug must not leave the row in `sending` until the lease ends
        logger.exception("send failed unexpectedly", extra={"communication": str(comm.pk)})
        _finish(comm, S.FAILED, f"Internal error: {type(exc).__name__}: {exc}")
        MESSAGES_SENT.labels(channel, "error").inc()
        return "failed"
    fields = {"sent_at": timezone.now(), "provider_message_id": result.provider_message_id[:255],
              "to_address": address}
    if comm.template_id:  # keep what was actually sent in the history
        fields.update(subject=rendered.subject[:255], content=rendered.text, html_content=rendered.html)
    _finish(comm, S.SENT, "", **fields)
    MESSAGES_SENT.labels(channel, "sent").inc()
    return "sent"


def send_messages(ids: list) -> dict:
    caps = PolicyCache()
    backends: dict[str, ChannelBackend] = {}
    outcomes: dict[str, int] = {}
    # one query loads the batch; rows not queued any more are skipped without a claim attempt. While
    # queued a message's content cannot change (edits need draft or scheduled), so loading early is safe.
    loaded = {str(c.pk): c for c in Communication.objects.select_related("contact", "contact__organization",
                                                                         "template")
              .filter(pk__in=ids, status=S.QUEUED)}
    try:
        for comm_id in ids:
            comm = loaded.get(str(comm_id))
            outcome = send_one(comm, backends, caps) if comm is not None else "skipped"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    finally:
        for backend in backends.values():
            backend.close()
    if outcomes.get("sent"):
        sent = Communication.objects.filter(pk__in=ids, status=S.SENT).values_list("contact_id", "sent_at")
        latest: dict = {}
        for contact_id, sent_at in sent:
            latest[contact_id] = max(sent_at, latest.get(contact_id, sent_at))
        if latest:
            services._touch_contacted(list(latest), max(latest.values()))
    return outcomes
