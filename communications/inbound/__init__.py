"""Inbound mail and SMS: what comes back after sending.

Signed addresses on outgoing mail (`addresses`), one idempotent pipeline for every received message
(`pipeline`, run by Celery), its classification (`classify`: DSN, ARF, auto-reply, flufl.bounce, replies),
the SMTP/LMTP receiver (`receiver`), the IMAP poller (`mailbox`) and the SMS provider callbacks (`sms`).
"""
