"""Planning jobs: segment refreshes, list membership jobs, task reminders. Tasks take ids and are idempotent."""
from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.db.models import F, Q
from django.utils import timezone

from contacts_project.errors import InvalidInput
from contacts_project.events import EventType, emit

from . import services
from .models import ListJob, Segment

logger = logging.getLogger(__name__)


@shared_task(name="planning.refresh_segment", acks_late=True)
def refresh_segment(segment_id: str) -> dict | None:
    """Re-materialize one segment (a refresh is a diff, so running it twice changes nothing more)."""
    if not Segment.objects.filter(pk=segment_id, materialized=True).exists():
        return None
    return services.segment_refresh(segment_id=segment_id)


@shared_task(name="planning.refresh_due_segments")
def refresh_due_segments() -> int:
    """Beat: enqueue refreshes of materialized segments whose interval has passed."""
    now = timezone.now()
    due = Segment.objects.filter(materialized=True).filter(
        Q(refreshed_at__isnull=True)
        | Q(refreshed_at__lte=now - F("refresh_interval_minutes") * dt.timedelta(minutes=1)))
    ids = [str(pk) for pk in due.values_list("pk", flat=True)]
    for segment_id in ids:
        refresh_segment.delay(segment_id)
    return len(ids)


@shared_task(name="planning.run_list_job", acks_late=True)
def run_list_job(job_id: str) -> None:
    """A list membership change too large for a request. Claimed by a conditional UPDATE (a duplicate
    delivery finds the job already taken); the change itself is idempotent (ON CONFLICT / DELETE)."""
    if not ListJob.objects.filter(pk=job_id, status="pending").update(status="running"):
        return
    job = ListJob.objects.select_related("actor").get(pk=job_id)
    try:
        result = services.list_change_members(list_id=job.contact_list_id, add=job.add,
                                               contact_ids=job.params.get("contact_ids"),
                                               filter_params=job.params.get("filter"), actor=job.actor)
    except InvalidInput as exc:
        ListJob.objects.filter(pk=job_id).update(status="failed", finished_at=timezone.now(), error={
            "detail": exc.detail, "errors": [e.as_dict() for e in exc.errors]})
        return
    ListJob.objects.filter(pk=job_id).update(status="done", result=result, finished_at=timezone.now())


@shared_task(name="planning.send_task_reminders")
def send_task_reminders() -> int:
    """Beat: claim tasks that fell due and notify their assignees once."""
    claimed = services.tasks_claim_due_reminders()
    for task_id in claimed:
        emit(EventType.TASK_DUE, {"task_id": str(task_id)})
    return len(claimed)


@shared_task(name="planning.reschedule_recurring_followups")
def reschedule_recurring_followups() -> int:
    return services.recurring_followups_reschedule()


@shared_task(name="planning.campaign_tick", expires=10)
def campaign_tick() -> dict:
    """Beat, every few seconds: start due campaigns, fan out the next batches, finish done ones."""
    from . import campaigns

    return campaigns.campaign_tick()
