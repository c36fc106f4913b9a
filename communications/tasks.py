"""Celery tasks: they take ids, have explicit names and are idempotent (every state change is claimed
in the database first). Routed to the `send` queue by contacts_project/celery.py."""
from celery import shared_task

from . import dispatch


@shared_task(name="communications.dispatch_due", ignore_result=True)
def dispatch_due() -> dict:
    """Run by beat every few seconds (CELERY_BEAT_SCHEDULE); safe to run concurrently (SKIP LOCKED)."""
    return dispatch.dispatch_due()


@shared_task(name="communications.send_messages", ignore_result=True, acks_late=True)
def send_messages(ids: list[str]) -> dict:
    """Send each id once: a row not in `queued` any more is skipped, so a redelivered task is harmless."""
    return dispatch.send_messages(ids)


# inbound mail and SMS (communications.inbound.tasks), on the `inbound` queue
from .inbound.tasks import poll_mailbox, process_message, purge_raw, sweep  # noqa: E402,F401
