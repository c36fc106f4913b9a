"""SMS backends: console and file for development, and a Twilio-style REST adapter.

Configured by `SMS_URL` (see `sms_config_from_url`): `console://`, `file:///var/spool/sms.jsonl`,
`twilio://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com?from=%2B15550001111` (`twilio+http://` for a local test server).
"""
from __future__ import annotations

import json
import math
import sys
import threading
from urllib.parse import parse_qs, unquote, urlsplit

import requests

from . import ChannelBackend, OutboundMessage, PermanentSendError, SendResult, TransientSendError

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


def sms_segments(text: str) -> tuple[int, str]:
    """(segments, encoding) the text needs: GSM-7 160/153 characters, otherwise UCS-2 70/67 (UTF-16 units)."""
    if not text:
        return 0, "gsm7"
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        return (1 if units <= 160 else math.ceil(units / 153)), "gsm7"
    units = len(text.encode("utf-16-le")) // 2
    return (1 if units <= 70 else math.ceil(units / 67)), "ucs2"


class ConsoleSMSBackend(ChannelBackend):
    channel = "sms"

    def __init__(self, stream=None, **options):
        super().__init__(**options)
        self.stream = stream or sys.stdout

    def send(self, message: OutboundMessage) -> SendResult:
        self.stream.write(f"SMS to {message.to}: {message.text}\n")
        self.stream.flush()
        return SendResult(provider_message_id=f"console-{message.reference}")


class FileSMSBackend(ChannelBackend):
    """Appends one JSON line per message; can tell whether a message was handed over (it is in the file)."""

    channel = "sms"
    _lock = threading.Lock()

    def __init__(self, path: str = "sms.jsonl", **options):
        super().__init__(**options)
        self.path = path

    def send(self, message: OutboundMessage) -> SendResult:
        line = json.dumps({"to": message.to, "text": message.text, "reference": message.reference,
                           "from": message.from_address})
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        return SendResult(provider_message_id=f"file-{message.reference}")

    def check_handover(self, reference: str):
        from . import Handover

        try:
            with open(self.path, encoding="utf-8") as handle:
                found = any(json.loads(line).get("reference") == reference for line in handle if line.strip())
        except FileNotFoundError:
            found = False
        return Handover.HANDED_OVER if found else Handover.NOT_HANDED_OVER


class TwilioSMSBackend(ChannelBackend):
    """Twilio's Messages API (POST form data, basic auth with the account SID and token, JSON answer
    with `sid`). 429 and 5xx are transient; other 4xx are permanent."""

    channel = "sms"

    def __init__(self, account_sid: str = "", auth_token: str = "", from_number: str = "",
                 base_url: str = "https://api.twilio.com", status_callback: str = "", timeout: float = 10.0,
                 **options):
        super().__init__(**options)
        self.account_sid, self.auth_token, self.from_number = account_sid, auth_token, from_number
        self.base_url = base_url.rstrip("/")
        self.status_callback = status_callback
        self.timeout = timeout
        self.session: requests.Session | None = None

    def open(self) -> None:
        if self.session is None:
            self.session = requests.Session()
            self.session.auth = (self.account_sid, self.auth_token)

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    def send(self, message: OutboundMessage) -> SendResult:
        self.open()
        url = f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        data = {"To": message.to, "From": message.from_address or self.from_number, "Body": message.text}
        if self.status_callback:
            data["StatusCallback"] = self.status_callback
        try:
            response = self.session.post(url, data=data, timeout=self.timeout)
        except requests.RequestException as exc:
            raise TransientSendError(f"SMS provider unreachable: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientSendError(f"SMS provider answered {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            raise PermanentSendError(f"SMS provider refused the message ({response.status_code}): "
                                     f"{response.text[:200]}")
        try:
            sid = response.json()["sid"]
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentSendError(f"SMS provider gave no message id: {response.text[:200]}") from exc
        return SendResult(provider_message_id=str(sid))


def sms_config_from_url(url: str) -> dict:
    """The COMMUNICATION_CHANNELS entry for an SMS_URL."""
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    scheme = parts.scheme
    if scheme == "console":
        return {"BACKEND": "communications.channels.sms.ConsoleSMSBackend", "OPTIONS": {}}
    if scheme == "file":
        return {"BACKEND": "communications.channels.sms.FileSMSBackend", "OPTIONS": {"path": unquote(parts.path)}}
    if scheme in ("twilio", "twilio+http", "twilio+https"):
        transport = "http" if scheme == "twilio+http" else "https"
        host = parts.hostname or "api.twilio.com"
        netloc = f"{host}:{parts.port}" if parts.port else host
        options = {"account_sid": unquote(parts.username or ""), "auth_token": unquote(parts.password or ""),
                   "from_number": query.get("from", ""), "base_url": f"{transport}://{netloc}",
                   "status_callback": query.get("status_callback", "")}
        if "timeout" in query:
            options["timeout"] = float(query["timeout"])
        return {"BACKEND": "communications.channels.sms.TwilioSMSBackend", "OPTIONS": options}
    raise ValueError(f"Unknown SMS_URL scheme {scheme!r} (console, file, twilio, twilio+http).")
