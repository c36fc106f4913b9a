"""Send-time rules: consent, suppression, quiet hours and frequency caps.

Checked by the send task right before a message goes to a backend (and not only when it was
scheduled): a contact who opts out after scheduling gets nothing.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import zoneinfo

from django.conf import settings

from .choices import Channel, ConsentStatus, Purpose, SuppressionReason
from .models import ContactPreference, FrequencyCap, QuietHours, Suppression


def normalize_address(channel: str, address: str) -> str:
    address = (address or "").strip()
    return address.lower() if channel == Channel.EMAIL else address


def address_hash(channel: str, address: str) -> str:
    """SHA-256 of `channel:address` (email lower-cased, phone in E.164); kept after erasure."""
    return hashlib.sha256(f"{channel}:{normalize_address(channel, address)}".encode()).hexdigest()


def opt_in_required(purpose: str) -> bool:
    return purpose in settings.COMMUNICATIONS_OPT_IN_REQUIRED_PURPOSES


def quiet_hours_exempt(purpose: str) -> bool:
    return purpose in settings.COMMUNICATIONS_QUIET_HOURS_EXEMPT_PURPOSES


def parse_clock(value) -> dt.time:
    """'21:00' or '21:00:00' -> time; ValueError otherwise."""
    if isinstance(value, dt.time):
        return value
    if not isinstance(value, str):
        raise ValueError("Expected a time of day as HH:MM.")
    try:
        parsed = dt.time.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a time of day (HH:MM, 00:00 to 23:59).") from None
    if parsed.tzinfo is not None:
        raise ValueError("Give the time of day without a zone; the zone is the recipient's.")
    return parsed


def quiet_until(now: dt.datetime, *, start: dt.time, end: dt.time, zone: str) -> dt.datetime | None:
    """When quiet hours that cover `now` end (aware UTC), or None if `now` is outside them.
    Hours may wrap midnight (21:00-08:00)."""
    if start == end:
        return None
    tz = zoneinfo.ZoneInfo(zone or settings.COMMUNICATIONS_DEFAULT_TIMEZONE)
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= clock < end
        end_day = local.date()
    else:
        inside = clock >= start or clock < end
        end_day = local.date() + dt.timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    # fold/gap handling comes from zoneinfo; the result is converted back to UTC
    return dt.datetime.combine(end_day, end, tzinfo=tz).astimezone(dt.UTC)


@dataclasses.dataclass
class Decision:
    action: str  # "send", "cancel", "defer"
    reason: str = ""
    until: dt.datetime | None = None


class PolicyCache:
    """Frequency caps are few and rarely change: one query per batch."""

    def __init__(self):
        self.caps = {(c.channel, c.purpose): c for c in FrequencyCap.objects.all()}


def decide(communication, contact, address: str, now: dt.datetime, caps: PolicyCache) -> Decision:
    """What to do with a claimed message right now. A few indexed lookups, no writes."""
    channel, purpose = communication.type, communication.purpose or "transactional"
    if not address:
        missing = "email address" if channel == Channel.EMAIL else "phone number"
        return Decision("cancel", f"The contact has no {missing}.")
    suppression = (Suppression.objects.filter(channel=channel, address_hash=address_hash(channel, address))
                   .values_list("reason", flat=True).first())
    # an unsubscribe blocks everything but transactional mail; bounces, complaints and manual entries block all
    if suppression is not None and not (suppression == SuppressionReason.UNSUBSCRIBE
                                        and purpose == Purpose.TRANSACTIONAL):
        return Decision("cancel", f"Suppressed: {suppression}.")
    consent = (ContactPreference.objects.filter(contact_id=contact.pk, channel=channel, purpose=purpose)
               .values_list("status", flat=True).first())
    if consent == ConsentStatus.OPTED_OUT:
        return Decision("cancel", f"The contact opted out of {purpose} {channel}.")
    if consent is None and opt_in_required(purpose):
        return Decision("cancel", f"No opt-in for {purpose} {channel}.")
    if not quiet_hours_exempt(purpose):
        quiet = QuietHours.objects.filter(contact_id=contact.pk).first()
        start = end = None
        zone = contact.timezone
        if quiet is not None:
            start, end, zone = quiet.start, quiet.end, quiet.timezone or contact.timezone
        elif settings.COMMUNICATIONS_DEFAULT_QUIET_HOURS:
            start, end = (parse_clock(v) for v in settings.COMMUNICATIONS_DEFAULT_QUIET_HOURS)
        if start is not None:
            until = quiet_until(now, start=start, end=end, zone=zone)
            if until is not None:
                return Decision("defer", "Quiet hours in the recipient's time zone.", until)
    cap = caps.caps.get((channel, purpose))
    if cap is not None:
        since = now - dt.timedelta(hours=cap.period_hours)
        recent = type(communication).objects.filter(
            contact_id=contact.pk, type=channel, purpose=purpose, sent_at__gte=since).count()
        if recent >= cap.max_messages:
            return Decision("cancel", f"Frequency cap: {cap.max_messages} {purpose} {channel} per "
                                      f"{cap.period_hours} h reached.")
    return Decision("send")
