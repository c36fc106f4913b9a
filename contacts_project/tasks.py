from celery import shared_task

from contacts_project import idempotency
from contacts_project.health import WORKER_KEY, record_heartbeat


@shared_task(name="contacts_project.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Idempotency keys are kept 24 hours."""
    return idempotency.purge_expired()


@shared_task(name="contacts_project.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Run by a worker every 15 s: proves a worker is consuming (read by /health/ready/ and beat's check)."""
    record_heartbeat(WORKER_KEY)
