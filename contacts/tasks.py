"""Celery tasks of the contacts app: they take ids, have explicit names and are idempotent."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="contacts.rollup_compact")
def rollup_compact_task() -> dict:
    from .services import contact_rollup_compact

    return contact_rollup_compact()
