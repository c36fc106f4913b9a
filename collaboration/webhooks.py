"""Standard Webhooks (https://www.standardwebhooks.com): signing, target URL checks and one delivery attempt.

Headers: `webhook-id` (the delivery id, the same on every retry and replay so receivers can deduplicate),
`webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">` keyed with the base64-decoded part of the subscription's `whsec_` secret.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson
import requests
from django.conf import settings

SECRET_PREFIX = "whsec_"
USER_AGENT = "contacts-webhooks/1"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def _this_server(host: str, port: int | None, scheme: str) -> bool:
    """The URL names this service: the public base URL's host and port, or one of its configured domains."""
    public = urlsplit(settings.PUBLIC_BASE_URL)
    default = {"http": 80, "https": 443}
    if host == (public.hostname or "").lower() and (port or default[scheme]) == (
            public.port or default.get(public.scheme, 80)):
        return True
    names = {h.lower().lstrip(".") for h in settings.ALLOWED_HOSTS if h not in ("*",)}
    names -= {"localhost", "testserver"}
    is_name = not _is_ip(host)
    return is_name and any(host == name or host.endswith("." + name) for name in names if not _is_ip(name))


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
        return True
    except ValueError:
        return False


def _private_addresses(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to that are not public internet ones (loopback, private, link-local…)."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    out = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            out.append(str(address))
    return out


def check_url(url: str) -> str | None:
    """Why this URL may not receive webhooks, or None when it may."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "Not a valid URL."
    if parts.scheme not in ("http", "https"):
        return "Only http and https URLs can receive webhooks."
    host = (parts.hostname or "").lower()
    if not host:
        return "The URL has no host."
    if _this_server(host, port, parts.scheme):
        return "The URL points at this server."
    if not settings.WEBHOOKS_ALLOW_PRIVATE:
        try:
            private = _private_addresses(host, port or (443 if parts.scheme == "https" else 80))
        except (socket.gaierror, UnicodeError, ValueError):
            return f"The host {host!r} does not resolve."
        if private:
            return f"The URL points at a private or loopback address ({private[0]})."
    return None


@dataclass
class AttemptResult:
    ok: bool
    response_code: int | None
    response_body: str
    error: str
    duration_ms: int


def envelope_body(event: str, payload: dict) -> bytes:
    return orjson.dumps(payload)


def post(*, url: str, secret: str, message_id: str, body: bytes) -> AttemptResult:
    """One signed POST; 2xx is success, anything else (or no answer) a failure. Redirects are not followed."""
    reason = check_url(url)  # again at send time: DNS may have changed since the subscription was made
    if reason:
        return AttemptResult(False, None, "", reason, 0)
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }
    started = time.monotonic()
    try:
        response = requests.post(url, data=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
                                 allow_redirects=False)
    except requests.RequestException as exc:
        return AttemptResult(False, None, "", f"{type(exc).__name__}: {exc}"[:500],
                             int((time.monotonic() - started) * 1000))
    return AttemptResult(200 <= response.status_code < 300, response.status_code, response.text[:1000], "",
                         int((time.monotonic() - started) * 1000))
