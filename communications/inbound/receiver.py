"""The `inbound` process: an SMTP (or LMTP) receiver on aiosmtpd for installations that point BOUNCE_DOMAIN's
MX, or a relay, at the platform. It accepts mail for BOUNCE_DOMAIN (and INBOUND_DOMAINS) only, hands the
raw bytes to the pipeline (stored once, processed by Celery) and answers 250 only once they are stored.

Messages over INBOUND_MAX_MESSAGE_BYTES are answered 552: aiosmtpd stops keeping the data once the limit
is passed (it reads on to the end of DATA and discards it), so memory stays flat whatever is sent.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP
from django.conf import settings
from django.db import close_old_connections

from contacts_project.metrics import INBOUND_PROBLEMS

from . import classify, pipeline
from .models import InboundSource

logger = logging.getLogger(__name__)
logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO


class InboundHandler:
    def __init__(self, *, lmtp: bool = False, workers: int = 4):
        self.lmtp = lmtp
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inbound-store")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd hook
        if not classify.ours(address):
            return "550 5.7.1 Relaying denied: this server only accepts mail for its own domain"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        raw = envelope.original_content
        if isinstance(raw, str):  # pragma: no cover - decode_data is off
            raw = raw.encode("utf-8", errors="surrogateescape")
        loop = asyncio.get_running_loop()
        try:
            row, created = await loop.run_in_executor(self.executor, self.store, raw, envelope.mail_from or "",
                                                      list(envelope.rcpt_tos))
        except Exception:  # noqa: BLE001 - the sender retries a 4xx; nothing was stored
            logger.exception("inbound message not stored")
            INBOUND_PROBLEMS.labels("store_error").inc()
            reply = "451 4.3.0 Temporary failure storing the message; try again later"
        else:
            reply = f"250 2.0.0 OK {row.pk}" + ("" if created else " (already received)")
        if self.lmtp:  # LMTP answers once per recipient
            return "\r\n".join([reply] * len(envelope.rcpt_tos))
        return reply

    @staticmethod
    def store(raw: bytes, mail_from: str, rcpt_tos: list[str]):
        close_old_connections()
        mail_from = "" if mail_from.strip() in ("<>", "") else mail_from  # the null sender of bounces
        try:
            return pipeline.accept(raw=raw, source=InboundSource.SMTP, envelope_from=mail_from, envelope_to=rcpt_tos)
        finally:
            close_old_connections()


class _Counting:
    """Counts and logs the receiver's own refusals (552 too large, 500 line too long)."""

    async def push(self, status: str):
        if status.startswith(("552", "500 Line")):
            reason = "too_large" if status.startswith("552") else "line_too_long"
            INBOUND_PROBLEMS.labels(reason).inc()
            logger.warning("inbound message refused: %s", status,
                           extra={"peer": str(getattr(self, "session", None) and self.session.peer)})
        return await super().push(status)


class CountingSMTP(_Counting, SMTP):
    pass


class CountingLMTP(_Counting, LMTP):
    pass


class InboundController(Controller):
    def __init__(self, handler: InboundHandler, *, hostname: str, port: int, max_bytes: int):
        super().__init__(handler, hostname=hostname, port=port, ready_timeout=10)
        self.max_bytes = max_bytes

    def factory(self):
        cls = CountingLMTP if self.handler.lmtp else CountingSMTP
        return cls(self.handler, data_size_limit=self.max_bytes, decode_data=False,
                   hostname=settings.BOUNCE_DOMAIN, ident="contacts inbound", enable_SMTPUTF8=True)


def start(*, host: str | None = None, port: int | None = None, protocol: str | None = None,
          max_bytes: int | None = None) -> InboundController:
    """Start the receiver in a thread of this process; `.stop()` ends it."""
    protocol = (protocol or settings.INBOUND_SMTP_PROTOCOL).lower()
    if protocol not in ("smtp", "lmtp"):
        raise ValueError(f"INBOUND_SMTP_PROTOCOL is smtp or lmtp, not {protocol!r}")
    handler = InboundHandler(lmtp=protocol == "lmtp")
    controller = InboundController(handler, hostname=host or settings.INBOUND_SMTP_HOST,
                                   port=settings.INBOUND_SMTP_PORT if port is None else port,
                                   max_bytes=max_bytes or settings.INBOUND_MAX_MESSAGE_BYTES)
    controller.start()
    return controller
