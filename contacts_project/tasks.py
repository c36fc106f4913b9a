from celery import shared_task

from contacts_project import idempotency


@shared_task(name="contacts_project.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Idempotency keys are kept 24 hours."""
    return idempotency.purge_expired()
