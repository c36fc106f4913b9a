"""Signed tracking links: open pixel, click redirects and RFC 8058 one-click unsubscribe.

Tokens are django.core.signing values (HMAC with SECRET_KEY, a salt per kind); a tampered or foreign
token is a 404, so the redirect cannot be used as an open redirect.
"""
from __future__ import annotations

import html
import re

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT_OPEN = "communications.tracking.open"
SALT_CLICK = "communications.tracking.click"
SALT_UNSUBSCRIBE = "communications.tracking.unsubscribe"

_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)


def _absolute(path: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def open_url(communication_id) -> str:
    token = signing.dumps({"c": str(communication_id)}, salt=SALT_OPEN)
    return _absolute(reverse("tracking-open", args=[token]))


def click_url(communication_id, target: str) -> str:
    token = signing.dumps({"c": str(communication_id), "u": target}, salt=SALT_CLICK, compress=True)
    return _absolute(reverse("tracking-click", args=[token]))


def unsubscribe_url(communication_id) -> str:
    token = signing.dumps({"c": str(communication_id)}, salt=SALT_UNSUBSCRIBE)
    return _absolute(reverse("tracking-unsubscribe", args=[token]))


def load(token: str, salt: str) -> dict | None:
    try:
        data = signing.loads(token, salt=salt)
    except signing.BadSignature:
        return None
    return data if isinstance(data, dict) and "c" in data else None


def rewrite_html(body: str, communication_id) -> str:
    """Links become signed click redirects and an open pixel is added before </body>."""
    if not body:
        return body

    def replace(match):
        target = html.unescape(match.group(3))
        return f"{match.group(1)}{match.group(2)}{html.escape(click_url(communication_id, target))}{match.group(2)}"

    body = _HREF.sub(replace, body)
    pixel = f'<img src="{html.escape(open_url(communication_id))}" width="1" height="1" alt="" style="display:none">'
    index = body.lower().rfind("</body>")
    return body[:index] + pixel + body[index:] if index >= 0 else body + pixel


def list_unsubscribe_headers(communication_id) -> dict[str, str]:
    """RFC 8058: an HTTPS URI the mailbox provider POSTs `List-Unsubscribe=One-Click` to."""
    return {"List-Unsubscribe": f"<{unsubscribe_url(communication_id)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
