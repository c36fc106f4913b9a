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
from django.db import connection

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
        self._custom_fields: set[str] | None = None

    @property
    def custom_fields(self) -> set[str]:
        """Custom-field keys for merge fields, loaded once per batch and only when a template needs them."""
        if self._custom_fields is None:
            from .rendering import known_custom_fields

            self._custom_fields = known_custom_fields()
        return self._custom_fields


def policy_columns(communication, contact, address: str, now: dt.datetime, cap) -> tuple[str, list]:
    """SQL select-list (and its parameters) giving the suppression reason, consent status, quiet hours
    and the recent-send count, so the send task reads them in the same round trip as its claim."""
    channel, purpose = communication.type, communication.purpose or "transactional"
    quiet = QuietHours._meta.db_table
    since = now - dt.timedelta(hours=cap.period_hours) if cap is not None else None
    sql = f"""(SELECT reason FROM {Suppression._meta.db_table} WHERE channel = %s AND address_hash = %s LIMIT 1),
        (SELECT status FROM {ContactPreference._meta.db_table}
          WHERE contact_id = %s AND channel = %s AND purpose = %s),
        (SELECT start FROM {quiet} WHERE contact_id = %s),
        (SELECT "end" FROM {quiet} WHERE contact_id = %s),
        (SELECT timezone FROM {quiet} WHERE contact_id = %s),
        CASE WHEN %s THEN (SELECT count(*) FROM {type(communication)._meta.db_table}
          WHERE contact_id = %s AND type = %s AND purpose = %s AND sent_at >= %s) ELSE 0 END"""
    params = [channel, address_hash(channel, address), contact.pk, channel, purpose, contact.pk, contact.pk,
              contact.pk, cap is not None, contact.pk, channel, purpose, since]
    return sql, params


def policy_row(communication, contact, address: str, now: dt.datetime, cap) -> tuple:
    sql, params = policy_columns(communication, contact, address, now, cap)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}", params)
        return cursor.fetchone()


def decide(communication, contact, address: str, now: dt.datetime, caps: PolicyCache,
           row: tuple | None = None) -> Decision:
    """What to do with a claimed message right now. `row` is `policy_row`'s result when the caller
    already read it (the send task does, together with its claim); otherwise one query, no writes."""
    channel, purpose = communication.type, communication.purpose or "transactional"
    if not address:
        missing = "email address" if channel == Channel.EMAIL else "phone number"
        return Decision("cancel", f"The contact has no {missing}.")
    cap = caps.caps.get((channel, purpose))
    if row is None:
        row = policy_row(communication, contact, address, now, cap)
    suppression, consent, quiet_start, quiet_end, quiet_zone, recent = row
    # an unsubscribe blocks everything but transactional mail; bounces, complaints and manual entries block all
    if suppression is not None and not (suppression == SuppressionReason.UNSUBSCRIBE
                                        and purpose == Purpose.TRANSACTIONAL):
        return Decision("cancel", f"Suppressed: {suppression}.")
    if consent == ConsentStatus.OPTED_OUT:
        return Decision("cancel", f"The contact opted out of {purpose} {channel}.")
    if consent is None and opt_in_required(purpose):
        return Decision("cancel", f"No opt-in for {purpose} {channel}.")
    if not quiet_hours_exempt(purpose):
        start, end, zone = quiet_start, quiet_end, (quiet_zone or contact.timezone)
        if start is None and settings.COMMUNICATIONS_DEFAULT_QUIET_HOURS:
            start, end = (parse_clock(v) for v in settings.COMMUNICATIONS_DEFAULT_QUIET_HOURS)
            zone = contact.timezone
        if start is not None:
            until = quiet_until(now, start=start, end=end, zone=zone)
            if until is not None:
                return Decision("defer", "Quiet hours in the recipient's time zone.", until)
    if cap is not None and recent >= cap.max_messages:
        return Decision("cancel", f"Frequency cap: {cap.max_messages} {purpose} {channel} per "
                                  f"{cap.period_hours} h reached.")
    return Decision("send")
