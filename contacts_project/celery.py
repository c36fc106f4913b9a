"""The Celery app: tasks take IDs, have explicit names, and are idempotent."""
import os

from celery import Celery
from celery.signals import before_task_publish, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contacts_project.settings")

app = Celery("contacts_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_routes = {
    "communications.*": {"queue": "send"},
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
    from contacts_project.logging import set_request_id

    set_request_id(getattr(task.request, "request_id", None) if task else None)
