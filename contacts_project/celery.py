"""The Celery app: tasks take IDs, have explicit names, and are idempotent."""
import os

from celery import Celery
from celery.signals import before_task_publish, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contacts_project.settings")

SEND_QUEUE = "send"  # the dispatcher reads its length to cap the messages in flight

app = Celery("contacts_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_routes = {
    "communications.inbound.*": {"queue": "inbound"},  # received mail and SMS: never behind a campaign's sends
    "communications.*": {"queue": SEND_QUEUE},
    "contacts.bulk.*": {"queue": "bulk"},
    "planning.*": {"queue": "bulk"},
}
app.autodiscover_tasks()


@before_task_publish.connect
def carry_request_id(headers=None, **kwargs):
    """Carry the request id of the web request that started a task into the task's logs."""
    from contacts_project.logging import current_request_id

    request_id = current_request_id()
    if headers is not None and request_id:
        headers.setdefault("request_id", request_id)


@task_prerun.connect
def adopt_request_id(task=None, **kwargs):
    from contacts_project.logging import set_request_id, set_task

    set_request_id(getattr(task.request, "request_id", None) if task else None)
    set_task(getattr(task.request, "id", None) if task else None, getattr(task, "name", None))


# --- Monitoring: heartbeats for /health/ready/, task outcome counters, worker metrics ---------
from celery.signals import beat_init, task_failure, task_retry, task_success, worker_ready  # noqa: E402

# the heartbeat task itself is scheduled in settings.CELERY_BEAT_SCHEDULE ("health-heartbeat")
_in_beat = False


@beat_init.connect
def mark_beat_process(**kwargs):
    global _in_beat
    _in_beat = True


@before_task_publish.connect
def beat_heartbeat(sender=None, **kwargs):
    """Beat publishing the heartbeat task is beat's proof of life (this runs in beat's own process)."""
    if _in_beat and sender == "contacts_project.heartbeat":
        from contacts_project.health import BEAT_KEY, record_heartbeat

        try:
            record_heartbeat(BEAT_KEY)
        except Exception:  # noqa: BLE001 - never stop beat from publishing
            pass


@worker_ready.connect
def worker_started(sender=None, **kwargs):
    from contacts_project.health import WORKER_KEY, record_heartbeat

    record_heartbeat(WORKER_KEY)
    port = os.environ.get("WORKER_METRICS_PORT")
    if port:  # a worker on a host of its own serves its task counters itself
        from prometheus_client import start_http_server

        from contacts_project.metrics import registry

        start_http_server(int(port), registry=registry())


def _count(task, outcome: str) -> None:
    from contacts_project.metrics import TASKS

    TASKS.labels(getattr(task, "name", None) or str(task), outcome).inc()


@task_success.connect
def count_success(sender=None, **kwargs):
    _count(sender, "succeeded")


@task_failure.connect
def count_failure(sender=None, **kwargs):
    _count(sender, "failed")


@task_retry.connect
def count_retry(sender=None, **kwargs):
    _count(sender, "retried")
