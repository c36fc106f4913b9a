"""Addresses that identify a message: `bounce+<token>@BOUNCE_DOMAIN` (the envelope sender, so bounces
come back with it as Return-Path), `reply+<token>` (Reply-To), `unsubscribe+<token>` (the mailto: form
of List-Unsubscribe) and `log+<token>` (a staff member's BCC drop address).

The token is the id (base32) and an HMAC-SHA256 of kind and id keyed by SECRET_KEY (Django's
`salted_hmac`, the primitive under `django.core.signing`), truncated to 80 bits. A full signing.dumps
value does not fit: a local part has at most 64 octets (RFC 5321), and base32 survives relays that
lower-case local parts, which base64 does not. A forged or altered token is ignored and logged.
"""
from __future__ import annotations

import base64
import logging
import re
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from contacts_project.metrics import INBOUND_TOKENS_REJECTED

logger = logging.getLogger(__name__)

BOUNCE, REPLY, UNSUBSCRIBE, LOG = "bounce", "reply", "unsubscribe", "log"
KINDS = (BOUNCE, REPLY, UNSUBSCRIBE, LOG)
SALT = "communications.inbound.address"
MAC_BYTES = 10
_LOCAL = re.compile(r"^(bounce|reply|unsubscribe|log)\+([a-z2-7]+)-([a-z2-7]{16})$")


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def _unb32(text: str) -> bytes:
    return base64.b32decode(text.upper() + "=" * (-len(text) % 8))


def _mac(kind: str, payload: bytes) -> str:
    return _b32(salted_hmac(SALT, kind.encode() + b":" + payload, algorithm="sha256").digest()[:MAC_BYTES])


def domain() -> str:
    return settings.BOUNCE_DOMAIN.lower()


def token(kind: str, value) -> str:
    """`value` is a communication id (UUID) or a user's primary key."""
    payload = uuid.UUID(str(value)).bytes if kind != LOG else str(value).encode()
    return f"{_b32(payload)}-{_mac(kind, payload)}"


def address(kind: str, value) -> str:
    return f"{kind}+{token(kind, value)}@{domain()}"


def bounce_address(communication_id) -> str:
    return address(BOUNCE, communication_id)


def reply_address(communication_id) -> str:
    return address(REPLY, communication_id)


def unsubscribe_address(communication_id) -> str:
    return address(UNSUBSCRIBE, communication_id)


def log_address(user) -> str:
    """The BCC drop address of a staff user: mail BCC'd to it is logged on the recipients' timelines."""
    return address(LOG, getattr(user, "pk", user))


@dataclass(frozen=True)
class Parsed:
    kind: str
    value: str  # communication id (str of UUID) or user pk (str)


def parse(addr: str) -> Parsed | None:
    """The kind and id an address of ours carries; None for any other address. A token whose signature
    does not match is logged, counted and ignored (None)."""
    addr = (addr or "").strip().strip("<>").lower()
    local, _, host = addr.rpartition("@")
    if not local or host != domain():
        return None
    match = _LOCAL.match(local)
    if match is None:
        if local.split("+", 1)[0] in KINDS:
            reject(addr, "malformed token")
        return None
    kind, encoded, mac = match.groups()
    try:
        payload = _unb32(encoded)
    except (ValueError, TypeError):
        reject(addr, "malformed token")
        return None
    if not constant_time_compare(mac, _mac(kind, payload)):
        reject(addr, "bad signature")
        return None
    if kind == LOG:
        try:
            return Parsed(kind, payload.decode("ascii"))
        except UnicodeDecodeError:
            reject(addr, "malformed token")
            return None
    if len(payload) != 16:
        reject(addr, "malformed token")
        return None
    return Parsed(kind, str(uuid.UUID(bytes=payload)))


def reject(addr: str, why: str) -> None:
    INBOUND_TOKENS_REJECTED.labels(why).inc()
    logger.warning("inbound token rejected: %s", why, extra={"address": addr[:320]})


def outgoing_headers(communication_id, *, list_unsubscribe: str | None) -> dict[str, str]:
    """Headers added to an outgoing email: Reply-To (when replies are captured) and the mailto: form
    beside the HTTPS one-click URL in List-Unsubscribe."""
    headers: dict[str, str] = {}
    if settings.INBOUND_CAPTURE_REPLIES:
        headers["Reply-To"] = reply_address(communication_id)
    if list_unsubscribe:
        headers["List-Unsubscribe"] = f"{list_unsubscribe}, <mailto:{unsubscribe_address(communication_id)}>"
    return headers
