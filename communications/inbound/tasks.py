"""Celery tasks of the inbound pipeline: on the `inbound` queue (contacts_project/celery.py), ids only,
idempotent (a row is processed once: FOR UPDATE SKIP LOCKED while pending)."""
from celery import shared_task
from django.db import OperationalError

from . import pipeline


@shared_task(name="communications.inbound.process", ignore_result=True, acks_late=True,
             autoretry_for=(OperationalError,), retry_backoff=True, max_retries=10)
def process_message(inbound_id: str) -> str:
    return pipeline.process(inbound_id)


@shared_task(name="communications.inbound.sweep", ignore_result=True)
def sweep() -> int:
    """Beat: pending rows whose task was lost are enqueued again."""
    return pipeline.sweep()


@shared_task(name="communications.inbound.purge_raw", ignore_result=True)
def purge_raw() -> int:
    """Beat, hourly: raw messages older than INBOUND_RAW_RETENTION_DAYS are emptied."""
    return pipeline.purge_raw()


@shared_task(name="communications.inbound.poll_mailbox", ignore_result=True)
def poll_mailbox() -> dict:
    """Beat: fetch new messages from INBOUND_IMAP_URL (nothing when it is unset)."""
    from . import mailbox

    return mailbox.poll()
