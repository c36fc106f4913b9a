"""Celery tasks of data quality: they take ids, have explicit names and are idempotent.

Their names keep the `contacts.` prefix they were scheduled and queued under before this app existed
(beat entries and messages already in the queue name them)."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="contacts.import_run", acks_late=True)
def import_run_task(job_id: str) -> dict:
    from .imports.service import import_run

    job = import_run(job_id=job_id)
    return {"id": str(job.pk), "status": job.status}


@shared_task(name="contacts.import_undo", acks_late=True)
def import_undo_task(job_id: str, actor_id: int | None = None) -> dict:
    from django.contrib.auth import get_user_model

    from .imports.service import import_undo

    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    job = import_undo(job_id=job_id, actor=actor)
    return {"id": str(job.pk), "status": job.status}


@shared_task(name="contacts.duplicates_refresh")
def duplicates_refresh_task() -> dict:
    from .duplicates import refresh_queue

    return refresh_queue()


@shared_task(name="contacts.retention_purge")
def retention_purge_task() -> dict:
    from .privacy import retention_purge

    return retention_purge()
