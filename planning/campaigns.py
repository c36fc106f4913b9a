"""Campaigns: an audience materialized once, then fanned out in batches through the communications dispatcher.

Life of a campaign:
  draft → scheduled (POST /campaigns/{id}/schedule/) → running (the tick starts it when due: ONE
  `INSERT … SELECT` writes every recipient row, skipped ones with their reason) → the tick creates
  `scheduled` communications for the next batch of pending recipients (throttled), the dispatcher claims
  and sends them, checking consent again at send time → completed / completed_with_failures when no
  recipient is pending and no message is still before sending. Pause moves unsent messages back to
  `draft` (resume puts them back); cancel cancels them. Each step is a conditional UPDATE, so a tick
  running twice, or a killed worker, never sends twice.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from communications.choices import SENDABLE_CHANNELS, CommunicationStatus, DeliveryEventType, Purpose, StatusSource
from communications.models import Communication, ContactPreference, DeliveryEvent, MessageTemplate, Suppression
from communications.services import record_status_events
from contacts.models import Contact, sees_all
from contacts_project.audit import audited
from contacts_project.errors import Conflict, Errors, NotFound
from contacts_project.events import emit
from contacts_project.ids import parse_uuid, uuid7

from . import segments
from .choices import CampaignStatus, RecipientStatus
from .models import Campaign, CampaignRecipient, ContactList, ListMembership, Segment

S = CampaignStatus
C = CommunicationStatus
EDITABLE = {S.DRAFT, S.SCHEDULED}
PRE_SEND = [C.DRAFT, C.SCHEDULED, C.QUEUED, C.SENDING]
FAILED_STATES = [C.FAILED, C.BOUNCED]
BATCH = 1000  # recipients turned into messages per campaign per tick, without a throttle
TICK_SECONDS = 2.0
TZ_LEAD = dt.timedelta(hours=14)  # the earliest zone (UTC+14) reaches a wall-clock time this much earlier
CAMPAIGN_FIELDS = {"name", "channel", "purpose", "message_template", "include_lists", "include_segments",
                   "exclude_lists", "exclude_segments", "scheduled_at", "send_in_recipient_timezone",
                   "throttle_per_minute"}


def _ids(model, values: Any, field: str, errors: Errors) -> list | None:
    if not isinstance(values, list):
        errors.add(field, "Expected a list of ids.")
        return None
    parsed = [parse_uuid(v) for v in values]
    found = set(model.objects.filter(pk__in=[p for p in parsed if p]).values_list("pk", flat=True))
    missing = [str(v) for v, p in zip(values, parsed) if p not in found]
    if missing:
        errors.add(field, f"No {model._meta.verbose_name} with ids {missing[:20]}.", "does_not_exist")
        return None
    return list(dict.fromkeys(parsed))


def _clean(data: dict, errors: Errors, campaign: Campaign | None) -> tuple[dict, dict]:
    values: dict[str, Any] = {}
    relations: dict[str, list] = {}
    for key in sorted(set(data) - CAMPAIGN_FIELDS):
        errors.add(key, "Unknown field.", "unknown_field")
    if "name" in data:
        name = data["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            errors.add("name", "A name of 1 to 200 characters is required.", "required")
        else:
            values["name"] = name.strip()
    if "channel" in data:
        if data["channel"] not in SENDABLE_CHANNELS:
            errors.add("channel", f"Campaigns send on {sorted(SENDABLE_CHANNELS)}.", "invalid_choice")
        else:
            values["channel"] = data["channel"]
    if "purpose" in data:
        purpose = data["purpose"]
        if purpose not in Purpose.values:
            errors.add("purpose", f"Purpose is one of {Purpose.values}.", "invalid_choice")
        elif purpose == Purpose.TRANSACTIONAL:
            # a bulk send to an audience is never transactional: that would bypass opt-outs
            errors.add("purpose", "A campaign needs a consent purpose (e.g. marketing, newsletter, service); "
                                  "transactional messages are not sent to audiences.", "no_consent_basis")
        else:
            values["purpose"] = purpose
    if "message_template" in data:
        key = parse_uuid(data["message_template"])
        template = MessageTemplate.objects.filter(pk=key, is_active=True).first() if key else None
        if template is None:
            errors.add("message_template", f"No active message template with id {data['message_template']!r}.",
                       "does_not_exist")
        else:
            values["message_template"] = template
    for field, model in (("include_lists", ContactList), ("exclude_lists", ContactList),
                         ("include_segments", Segment), ("exclude_segments", Segment)):
        if field in data:
            ids = _ids(model, data[field], field, errors)
            if ids is not None:
                relations[field] = ids
    if "scheduled_at" in data:
        value = data["scheduled_at"]
        if value is not None and not isinstance(value, dt.datetime):
            errors.add("scheduled_at", "Expected a date-time or null (send when scheduled).")
        else:
            values["scheduled_at"] = value
    if "send_in_recipient_timezone" in data:
        if not isinstance(data["send_in_recipient_timezone"], bool):
            errors.add("send_in_recipient_timezone", "Expected true or false.")
        else:
            values["send_in_recipient_timezone"] = data["send_in_recipient_timezone"]
    if "throttle_per_minute" in data:
        value = data["throttle_per_minute"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100000):
            errors.add("throttle_per_minute", "Expected messages per minute from 1 to 100,000, or null.",
                       "invalid")
        else:
            values["throttle_per_minute"] = value
    channel = values.get("channel", campaign.channel if campaign else "email")
    purpose = values.get("purpose", campaign.purpose if campaign else None)
    template = values.get("message_template", campaign.message_template if campaign else None)
    if template is not None and not errors:
        if template.channel != channel:
            errors.add("message_template", f"The template is for {template.channel}, the campaign for {channel}.",
                       "channel_mismatch")
        if purpose and template.purpose not in (purpose,):
            errors.add("purpose", f"The template is for {template.purpose!r} messages; the campaign's purpose is "
                                  f"{purpose!r}.", "purpose_mismatch")
    return values, relations


def campaign_create(*, data: dict[str, Any], actor=None) -> Campaign:
    errors = Errors()
    for required in ("name", "purpose", "message_template"):
        if required not in data:
            errors.add(required, "This field is required.", "required")
    values, relations = _clean(data, errors, None)
    if not errors and not (relations.get("include_lists") or relations.get("include_segments")):
        errors.add("include_lists", "Give at least one list or segment to send to.", "required")
    errors.raise_if_any()
    with transaction.atomic(), audited(actor, "campaign.create"):
        campaign = Campaign.objects.create(**values, owner_id=getattr(actor, "pk", None))
        for field, ids in relations.items():
            getattr(campaign, field).set(ids)
    return campaign


def _locked(campaign_id) -> Campaign:
    key = parse_uuid(campaign_id)
    campaign = Campaign.objects.select_for_update().filter(pk=key).first() if key else None
    if campaign is None:
        raise NotFound("Campaign not found.")
    return campaign


def campaign_update(*, campaign_id, data: dict[str, Any], actor=None) -> Campaign:
    with transaction.atomic(), audited(actor, "campaign.update"):
        campaign = _locked(campaign_id)
        if campaign.status not in EDITABLE:
            raise Conflict(f"A {campaign.status} campaign cannot be edited.", extra={"state": campaign.status})
        errors = Errors()
        values, relations = _clean(data, errors, campaign)
        errors.raise_if_any()
        for key, value in values.items():
            setattr(campaign, key, value)
        if values:
            campaign.save(update_fields=[*values, "updated_at"])
        for field, ids in relations.items():
            getattr(campaign, field).set(ids)
    return campaign


def campaign_delete(*, campaign_id, actor=None) -> None:
    with transaction.atomic(), audited(actor, "campaign.delete"):
        campaign = _locked(campaign_id)
        if campaign.status not in (S.DRAFT, S.CANCELLED, S.COMPLETED, S.COMPLETED_WITH_FAILURES):
            raise Conflict(f"A {campaign.status} campaign cannot be deleted; cancel it first.",
                           extra={"state": campaign.status})
        campaign.delete()


def campaign_schedule(*, campaign_id, scheduled_at: dt.datetime | None = None, actor=None) -> Campaign:
    """draft → scheduled. Without a time (and none on the campaign) it starts at the next tick."""
    with transaction.atomic(), audited(actor, "campaign.schedule"):
        campaign = _locked(campaign_id)
        if campaign.status != S.DRAFT and campaign.status != S.SCHEDULED:
            raise Conflict(f"A {campaign.status} campaign cannot be scheduled.", extra={"state": campaign.status})
        if scheduled_at is not None:
            campaign.scheduled_at = scheduled_at
        campaign.status = S.SCHEDULED
        campaign.save(update_fields=["status", "scheduled_at", "updated_at"])
    return campaign


def _audience_sql(campaign: Campaign) -> tuple[str, list]:
    """SELECT contact ids of (included lists ∪ segments) minus (excluded lists ∪ segments), as SQL."""
    include = Q(pk__in=[])
    list_ids = list(campaign.include_lists.values_list("pk", flat=True))
    if list_ids:
        include |= Q(pk__in=ListMembership.objects.filter(contact_list_id__in=list_ids).values("contact_id"))
    for segment in campaign.include_segments.all():
        include |= segments.compile_rules(segment.rules, segment_id=segment.pk)
    exclude = Q(pk__in=[])
    excluded_lists = list(campaign.exclude_lists.values_list("pk", flat=True))
    if excluded_lists:
        exclude |= Q(pk__in=ListMembership.objects.filter(contact_list_id__in=excluded_lists).values("contact_id"))
    for segment in campaign.exclude_segments.all():
        exclude |= segments.compile_rules(segment.rules, segment_id=segment.pk)
    audience = Contact.objects.filter(include).exclude(exclude).order_by().values("id")
    sql, params = audience.query.sql_with_params()
    return sql, list(params)


def _materialize(campaign: Campaign) -> int:
    """One INSERT … SELECT: every recipient once, with the reason it is skipped (no address, suppressed,
    no consent) decided in SQL by the same rules the send task applies again at send time."""
    audience_sql, params = _audience_sql(campaign)
    address = "c.email" if campaign.channel == "email" else "c.phone"
    normalized = f"lower(trim({address}))" if campaign.channel == "email" else f"trim({address})"
    opt_in_required = campaign.purpose in settings.COMMUNICATIONS_OPT_IN_REQUIRED_PURPOSES
    send_at = "%s::timestamptz"
    send_params: list = [campaign.scheduled_at or timezone.now()]
    if campaign.send_in_recipient_timezone and campaign.scheduled_at:
        send_at = ("((%s::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE "
                   "COALESCE((SELECT name FROM pg_timezone_names WHERE name = NULLIF(c.timezone, '')), 'UTC'))")
    prefs, suppressions = ContactPreference._meta.db_table, Suppression._meta.db_table
    # the audience is what the campaign's owner may see, read now (when the job runs), not when it was queued;
    # the others are kept as skipped rows (`not_visible`) so the stats say how many were left out
    not_visible, visible_params = "", []
    owner = campaign.owner if campaign.owner_id else None
    if owner is not None and not sees_all(owner):
        visible = Contact.objects.visible_to(owner).order_by().values("id")
        if visible.query.is_empty():
            not_visible = "WHEN true THEN 'not_visible'"
        else:
            visible_sql, visible_params = visible.query.sql_with_params()
            not_visible = f"WHEN c.id NOT IN ({visible_sql}) THEN 'not_visible'"
            visible_params = list(visible_params)
    sql = f"""
        INSERT INTO {CampaignRecipient._meta.db_table} (campaign_id, contact_id, status, skip_reason, send_at,
                                                        updated_at)
        SELECT %s, c.id,
               CASE WHEN reason IS NULL THEN 'pending' ELSE 'skipped' END, COALESCE(reason, ''), {send_at}, now()
        FROM {Contact._meta.db_table} c
        CROSS JOIN LATERAL (SELECT CASE
            {not_visible}
            WHEN {address} = '' THEN 'no_address'
            WHEN EXISTS (SELECT 1 FROM {suppressions} s WHERE s.channel = %s AND s.address_hash =
                 encode(sha256(convert_to(%s || ':' || {normalized}, 'UTF8')), 'hex')) THEN 'suppressed'
            WHEN EXISTS (SELECT 1 FROM {prefs} p WHERE p.contact_id = c.id AND p.channel = %s AND p.purpose = %s
                 AND p.status = 'opted_out') THEN 'no_consent'
            WHEN %s AND NOT EXISTS (SELECT 1 FROM {prefs} p WHERE p.contact_id = c.id AND p.channel = %s
                 AND p.purpose = %s AND p.status = 'opted_in') THEN 'no_consent'
            END AS reason) r
        WHERE c.id IN ({audience_sql})
        ON CONFLICT (campaign_id, contact_id) DO NOTHING
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk, *send_params, *visible_params, campaign.channel, campaign.channel,
                             campaign.channel, campaign.purpose, opt_in_required, campaign.channel, campaign.purpose,
                             *params])
        return cursor.rowcount


def _start_due(now: dt.datetime) -> list:
    """Start scheduled campaigns that are due: claim (scheduled → running) and materialize, one transaction each."""
    started = []
    due = Campaign.objects.filter(status=S.SCHEDULED).filter(
        Q(scheduled_at__isnull=True) | Q(scheduled_at__lte=now)
        | Q(send_in_recipient_timezone=True, scheduled_at__lte=now + TZ_LEAD))
    for campaign_id in due.values_list("pk", flat=True):
        with transaction.atomic(), audited(None, "campaign.start"):
            if not Campaign.objects.filter(pk=campaign_id, status=S.SCHEDULED).update(
                    status=S.RUNNING, started_at=now, updated_at=now):
                continue  # another tick took it
            campaign = Campaign.objects.get(pk=campaign_id)
            _materialize(campaign)
            _campaign_event("campaign.started", campaign)
            started.append(campaign_id)
    return started


def _batch_size(campaign: Campaign) -> int:
    if campaign.throttle_per_minute:
        return max(1, math.ceil(campaign.throttle_per_minute * TICK_SECONDS / 60))
    return BATCH


def _fan_out(campaign_id, now: dt.datetime) -> int:
    """Turn the next batch of pending recipients into scheduled communications (SKIP LOCKED: two ticks never
    take the same recipients)."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update(skip_locked=True).filter(pk=campaign_id,
                                                                                 status=S.RUNNING).first()
        if campaign is None:
            return 0
        if campaign.throttle_per_minute:
            recent = Communication.objects.filter(campaign_id=campaign.pk,
                                                  created_at__gte=now - dt.timedelta(minutes=1)).count()
            allowance = max(0, campaign.throttle_per_minute - recent)
            size = min(_batch_size(campaign), allowance)
        else:
            size = _batch_size(campaign)
        if size == 0:
            return 0
        horizon = now + dt.timedelta(seconds=60)  # recipients due within the next minute
        recipients = list(CampaignRecipient.objects.select_for_update(skip_locked=True)
                          .filter(campaign=campaign, status=RecipientStatus.PENDING, send_at__lte=horizon)
                          .order_by("send_at", "id").values_list("id", "contact_id", "send_at")[:size])
        if not recipients:
            return 0
        messages = [Communication(id=uuid7(), contact_id=contact_id, type=campaign.channel,
                                  status=C.SCHEDULED, scheduled_at=max(send_at or now, now),
                                  template_id=campaign.message_template_id, purpose=campaign.purpose,
                                  campaign_id=campaign.pk, status_changed_at=now,
                                  metadata={"campaign": str(campaign.pk)})
                    for _, contact_id, send_at in recipients]
        Communication.objects.bulk_create(messages)
        record_status_events([(m.id, "", C.SCHEDULED, f"campaign {campaign.pk}") for m in messages],
                             source=StatusSource.DISPATCHER, at=now)
        table = CampaignRecipient._meta.db_table
        values = ", ".join(["(%s, %s::uuid)"] * len(messages))
        params: list = []
        for (recipient_id, _, _), message in zip(recipients, messages):
            params += [recipient_id, message.id]
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} r SET status = 'queued', communication_id = v.cid, updated_at = now() "
                           f"FROM (VALUES {values}) AS v(rid, cid) WHERE r.id = v.rid", params)
        return len(messages)


def _campaign_event(event: str, campaign: Campaign) -> None:
    """Webhooks and the owner's notification, after commit."""
    emit(event, {"id": str(campaign.pk), "name": campaign.name, "status": campaign.status,
                 "status_reason": campaign.status_reason, "owner": campaign.owner_id, "channel": campaign.channel})


def _finish_if_done(campaign_id, now: dt.datetime) -> str | None:
    """running → completed (or completed_with_failures) once nothing is pending or before sending."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update(skip_locked=True).filter(pk=campaign_id,
                                                                                 status=S.RUNNING).first()
        if campaign is None:
            return None
        if CampaignRecipient.objects.filter(campaign=campaign, status=RecipientStatus.PENDING).exists():
            return None
        if Communication.objects.filter(campaign_id=campaign.pk, status__in=PRE_SEND).exists():
            return None
        failures = Communication.objects.filter(campaign_id=campaign.pk, status__in=FAILED_STATES).count()
        campaign.status = S.COMPLETED_WITH_FAILURES if failures else S.COMPLETED
        campaign.status_reason = f"{failures} messages failed or bounced." if failures else ""
        campaign.finished_at = now
        with audited(None, "campaign.finish"):
            campaign.save(update_fields=["status", "status_reason", "finished_at", "updated_at"])
        _campaign_event("campaign.failed" if failures else "campaign.finished", campaign)
        return campaign.status


def campaign_tick(*, now: dt.datetime | None = None) -> dict:
    """Beat, every few seconds: start due campaigns, fan out running ones, finish the done ones."""
    now = now or timezone.now()
    started = _start_due(now)
    queued = finished = 0
    for campaign_id in Campaign.objects.filter(status=S.RUNNING).values_list("pk", flat=True):
        queued += _fan_out(campaign_id, now)
        finished += _finish_if_done(campaign_id, now) is not None
    return {"started": len(started), "queued": queued, "finished": finished}


def _move_messages(campaign: Campaign, from_statuses: list[str], to_status: str, reason: str,
                   now: dt.datetime) -> int:
    """Set-based, conditional status change of the campaign's messages, with their status events.

    The rows are locked first; a message a send task has already moved to `sending` is not among them,
    and a send task that comes later finds its conditional `queued → sending` update matching nothing."""
    with transaction.atomic():
        moved = list(Communication.objects.select_for_update().filter(campaign_id=campaign.pk,
                                                                      status__in=from_statuses)
                     .values_list("pk", "status"))
        if not moved:
            return 0
        Communication.objects.filter(pk__in=[pk for pk, _ in moved]).update(
            status=to_status, status_reason=reason, status_changed_at=now, updated_at=now)
        record_status_events([(pk, old, to_status, reason) for pk, old in moved], source=StatusSource.API, at=now)
    return len(moved)


def campaign_pause(*, campaign_id, actor=None) -> Campaign:
    """running → paused: no new batches; messages no send task has started yet go back to draft."""
    now = timezone.now()
    with transaction.atomic(), audited(actor, "campaign.pause"):
        campaign = _locked(campaign_id)
        if campaign.status != S.RUNNING:
            raise Conflict(f"Only a running campaign can be paused; this one is {campaign.status}.",
                           extra={"state": campaign.status})
        # queued ones too: the dispatcher has claimed them but no send task has started them yet
        _move_messages(campaign, [C.SCHEDULED, C.QUEUED], C.DRAFT, "campaign paused", now)
        campaign.status = S.PAUSED
        campaign.save(update_fields=["status", "updated_at"])
    return campaign


def campaign_resume(*, campaign_id, actor=None) -> Campaign:
    now = timezone.now()
    with transaction.atomic(), audited(actor, "campaign.resume"):
        campaign = _locked(campaign_id)
        if campaign.status != S.PAUSED:
            raise Conflict(f"Only a paused campaign can be resumed; this one is {campaign.status}.",
                           extra={"state": campaign.status})
        _move_messages(campaign, [C.DRAFT], C.SCHEDULED, "campaign resumed", now)
        campaign.status = S.RUNNING
        campaign.save(update_fields=["status", "updated_at"])
    return campaign


def campaign_cancel(*, campaign_id, actor=None) -> Campaign:
    """Cancel: pending recipients and every message not yet sending are cancelled (a message already handed to
    a send task finishes: the send task's conditional update decides)."""
    now = timezone.now()
    with transaction.atomic(), audited(actor, "campaign.cancel"):
        campaign = _locked(campaign_id)
        if campaign.status in (S.CANCELLED, S.COMPLETED, S.COMPLETED_WITH_FAILURES):
            raise Conflict(f"The campaign is already {campaign.status}.", extra={"state": campaign.status})
        _move_messages(campaign, [C.DRAFT, C.SCHEDULED, C.QUEUED], C.CANCELLED, "campaign cancelled", now)
        CampaignRecipient.objects.filter(campaign=campaign, status=RecipientStatus.PENDING).update(
            status=RecipientStatus.CANCELLED, updated_at=now)
        campaign.status, campaign.finished_at = S.CANCELLED, now
        campaign.save(update_fields=["status", "finished_at", "updated_at"])
        _campaign_event("campaign.cancelled", campaign)
    return campaign


def campaign_stats(*, campaign_id) -> dict:
    """Counts from the per-recipient rows and the campaign's messages (two GROUP BY queries), with rates."""
    key = parse_uuid(campaign_id)
    campaign = Campaign.objects.filter(pk=key).first() if key else None
    if campaign is None:
        raise NotFound("Campaign not found.")
    recipients = dict(CampaignRecipient.objects.filter(campaign=campaign).values_list("status")
                      .annotate(n=Count("id")).values_list("status", "n"))
    skipped = dict(CampaignRecipient.objects.filter(campaign=campaign, status=RecipientStatus.SKIPPED)
                   .values_list("skip_reason").annotate(n=Count("id")).values_list("skip_reason", "n"))
    messages = Communication.objects.filter(campaign_id=campaign.pk)
    by_status = dict(messages.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    cancelled_reasons = messages.filter(status=C.CANCELLED).aggregate(
        capped=Count("id", filter=Q(status_reason__startswith="Frequency cap")),
        suppressed=Count("id", filter=Q(status_reason__startswith="Suppressed")),
        no_consent=Count("id", filter=Q(status_reason__icontains="opt")),
    )
    total = sum(recipients.values())
    reached = {"sent": [C.SENT, C.DELIVERED, C.OPENED, C.CLICKED, C.REPLIED, C.BOUNCED],
               "delivered": [C.DELIVERED, C.OPENED, C.CLICKED, C.REPLIED],
               "opened": [C.OPENED, C.CLICKED, C.REPLIED], "clicked": [C.CLICKED, C.REPLIED],
               "replied": [C.REPLIED], "bounced": [C.BOUNCED], "failed": [C.FAILED]}
    counts = {name: sum(by_status.get(s, 0) for s in states) for name, states in reached.items()}
    unsubscribed = DeliveryEvent.objects.filter(communication__campaign_id=campaign.pk,
                                                event_type=DeliveryEventType.UNSUBSCRIBED).count()
    sent = counts["sent"] or 0

    def rate(n, of):
        return round(n / of, 4) if of else 0.0

    skipped_all = {**skipped}
    for reason, n in cancelled_reasons.items():
        if n:
            skipped_all[reason] = skipped_all.get(reason, 0) + n
    pending = recipients.get(RecipientStatus.PENDING, 0) + sum(by_status.get(s, 0) for s in PRE_SEND)
    return {
        "campaign": str(campaign.pk), "status": campaign.status, "status_reason": campaign.status_reason,
        "recipients": total, "skipped": sum(skipped_all.values()), "skipped_by_reason": skipped_all,
        "pending": pending, **counts, "unsubscribed": unsubscribed,
        "cancelled": by_status.get(C.CANCELLED, 0),
        "rates": {"delivery": rate(counts["delivered"], sent), "open": rate(counts["opened"], sent),
                  "click": rate(counts["clicked"], sent), "bounce": rate(counts["bounced"], sent),
                  "failure": rate(counts["failed"], sent + counts["failed"])},
        "started_at": campaign.started_at, "finished_at": campaign.finished_at,
    }
