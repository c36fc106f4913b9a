"""Channel backends: one general interface for every way a message leaves the system.

A backend takes an `OutboundMessage` and returns a `SendResult`, or raises `TransientSendError`
(retry later with backoff) or `PermanentSendError` (give up: `failed` with the reason). Each channel's
backend is named in settings (`COMMUNICATION_CHANNELS`); staff notifications reuse the same interface.
"""
from __future__ import annotations

import dataclasses
import enum
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string


class TransientSendError(Exception):
    """The provider may accept the message later (timeouts, 4xx SMTP replies, HTTP 429/5xx)."""


class PermanentSendError(Exception):
    """The provider will never accept this message (bad address, rejected content)."""


class Handover(enum.Enum):
    """What a backend knows about a message whose send was interrupted (lease expired)."""

    HANDED_OVER = "handed_over"
    NOT_HANDED_OVER = "not_handed_over"
    UNKNOWN = "unknown"


@dataclasses.dataclass
class OutboundMessage:
    channel: str
    to: str
    text: str
    subject: str = ""
    html: str = ""
    from_address: str = ""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    reference: str = ""  # our id for the message (communication id); backends pass it to the provider
    envelope_sender: str = ""  # email: the SMTP MAIL FROM (Return-Path), when it differs from From


@dataclasses.dataclass
class SendResult:
    provider_message_id: str = ""


class ChannelBackend:
    """Base class. Subclasses implement `send`; `open`/`close` let a batch reuse one connection."""

    channel = ""

    def __init__(self, **options: Any):
        self.options = options

    def open(self) -> None:  # pragma: no cover - optional
        pass

    def close(self) -> None:  # pragma: no cover - optional
        pass

    def send(self, message: OutboundMessage) -> SendResult:
        raise NotImplementedError

    def check_handover(self, reference: str) -> Handover:
        """Was the message with this reference handed to the provider? Most cannot say (UNKNOWN);
        then a stale `sending` row is failed rather than risk sending it twice (at-most-once)."""
        return Handover.UNKNOWN

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()


def channel_config(channel: str) -> dict:
    configured = getattr(settings, "COMMUNICATION_CHANNELS", {})
    if channel in configured:
        return configured[channel]
    if channel == "sms":
        from .sms import sms_config_from_url

        return sms_config_from_url(settings.SMS_URL)
    raise KeyError(f"No backend configured for channel {channel!r}.")


def get_backend(channel: str) -> ChannelBackend:
    config = channel_config(channel)
    backend_cls = import_string(config["BACKEND"])
    return backend_cls(**config.get("OPTIONS", {}))
