"""The mailbox poller: for installations that collect bounces and replies in an existing mailbox. A beat
task fetches new messages from INBOUND_IMAP_URL with imap-tools and hands each raw message to the inbound
pipeline (stored once: a second poll of the same message is a no-op), then marks it seen, deletes it or
moves it (INBOUND_IMAP_AFTER), only once it is stored. One poll runs at a time (a PostgreSQL advisory lock).

    INBOUND_IMAP_URL = imaps://user:password@imap.example.com/INBOX      (TLS, port 993)
                       imap+starttls://user:password@host:143/Bounces    (STARTTLS)
                       imap://user:password@127.0.0.1:1143/INBOX         (plain; local servers only)

Where the relay rewrites the Return-Path (so the VERP token is lost), bounces are still matched by the
original message's headers (Message-ID, X-Communication-ID) that notices attach or quote.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db import connection

from contacts_project.metrics import INBOUND_PROBLEMS

from . import pipeline
from .models import InboundSource

logger = logging.getLogger(__name__)
LOCK_KEY = 0x1B0C_0001  # pg advisory lock id of the poller


@dataclass
class MailboxConfig:
    scheme: str
    host: str
    port: int
    username: str
    password: str
    folder: str


def parse_url(url: str) -> MailboxConfig:
    parts = urlsplit(url)
    defaults = {"imaps": 993, "imap": 143, "imap+starttls": 143}
    if parts.scheme not in defaults:
        raise ValueError(f"INBOUND_IMAP_URL scheme is imaps, imap+starttls or imap, not {parts.scheme!r}")
    return MailboxConfig(scheme=parts.scheme, host=parts.hostname or "", port=parts.port or defaults[parts.scheme],
                         username=unquote(parts.username or ""), password=unquote(parts.password or ""),
                         folder=unquote(parts.path.lstrip("/")) or "INBOX")


def _open(config: MailboxConfig):
    from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted

    cls = {"imaps": MailBox, "imap": MailBoxUnencrypted, "imap+starttls": MailBoxStartTls}[config.scheme]
    return cls(config.host, config.port, timeout=30).login(config.username, config.password,
                                                           initial_folder=config.folder)


def _fetch_raw(box, uid: str) -> bytes | None:
    """The message exactly as stored (BODY.PEEK[] leaves \\Seen alone until we set it)."""
    status, data = box.client.uid("FETCH", uid, "(BODY.PEEK[])")
    if status != "OK":
        return None
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and re.search(rb"BODY\[\]", item[0]):
            return item[1]
    return None


def poll(*, url: str | None = None, limit: int | None = None) -> dict:
    url = url if url is not None else settings.INBOUND_IMAP_URL
    if not url:
        return {"skipped": "INBOUND_IMAP_URL is not set"}
    config = parse_url(url)
    limit = limit or settings.INBOUND_IMAP_BATCH
    after = settings.INBOUND_IMAP_AFTER
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        if not cursor.fetchone()[0]:
            return {"skipped": "another poll is running"}
    counts = {"fetched": 0, "stored": 0, "duplicates": 0, "errors": 0}
    try:
        with _open(config) as box:
            criteria = "UNSEEN" if after == "seen" else "ALL"
            for uid in box.uids(criteria)[:limit]:
                raw = _fetch_raw(box, uid)
                if raw is None:
                    counts["errors"] += 1
                    continue
                counts["fetched"] += 1
                try:
                    _, created = pipeline.accept(raw=raw, source=InboundSource.IMAP)
                except Exception:  # noqa: BLE001 - leave it in the mailbox for the next poll
                    logger.exception("message from the mailbox not stored", extra={"uid": uid})
                    INBOUND_PROBLEMS.labels("store_error").inc()
                    counts["errors"] += 1
                    continue
                counts["stored" if created else "duplicates"] += 1
                if after == "delete":
                    box.delete([uid])
                elif after.startswith("move:"):
                    box.move([uid], after.split(":", 1)[1])
                else:
                    box.flag([uid], "\\Seen", True)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
    return counts
