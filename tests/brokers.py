"""The Celery broker of a test: Redis (the default) or RabbitMQ (TEST_RABBITMQ_URL), for the tests that must hold
on both (exactly-once sending, campaigns). On RabbitMQ the queues are quorum queues with publisher confirms, as
settings.py configures for an amqp:// CELERY_BROKER_URL.

A RabbitMQ is shared by everything on its host (the queues have fixed names), so the tests that use it take a
file lock: pytest-xdist workers, and other checkouts on the machine, take turns.
"""
from __future__ import annotations

import contextlib
import fcntl
import os

import pytest

from contacts_project import metrics

AMQP_CONF = {"task_default_queue_type": "quorum", "task_create_missing_queue_type": "quorum",
             "broker_transport_options": {"confirm_publish": True}}
LOCK_PATH = "/tmp/contacts-test-rabbitmq.lock"


def rabbitmq_url() -> str:
    url = os.environ.get("TEST_RABBITMQ_URL", "")
    if not url:
        pytest.skip("RabbitMQ: set TEST_RABBITMQ_URL (amqp://user:pass@host:5672//) to run this on RabbitMQ too")
    return url


def _reset(app) -> None:
    """Forget connections, producers and declared queues, so the next publish uses the current configuration."""
    app._pool = None  # kombu keeps each broker's pool in its registry: dropped here, not closed
    app.__dict__.pop("amqp", None)


def is_quorum_queue(name: str) -> bool:
    """Whether RabbitMQ holds `name` as a quorum queue: declaring it again as a classic queue is refused."""
    from amqp.exceptions import PreconditionFailed

    from contacts_project.celery import app

    with app.connection_for_write() as conn:
        channel = conn.channel()
        try:
            channel.queue_declare(queue=name, durable=True, passive=False, arguments={"x-queue-type": "classic"})
        except PreconditionFailed:
            return True
        channel.queue_delete(name)  # it was not there (or classic): leave nothing behind
        return False


@contextlib.contextmanager
def use_broker(url: str, settings):
    """This process's Celery app (and settings.CELERY_BROKER_URL, which workers started by the test inherit
    through `subprocess_env`) on the broker at `url`."""
    from contacts_project.celery import app

    keys = ("broker_url", *AMQP_CONF)
    saved = {key: app.conf[key] for key in keys}
    with open(LOCK_PATH, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        app.conf.update(broker_url=url, **AMQP_CONF)
        settings.CELERY_BROKER_URL = url
        _reset(app)
        try:
            metrics.purge_queues()
            yield
        finally:
            try:
                metrics.purge_queues()
            finally:
                app.conf.update(saved)
                _reset(app)
                fcntl.flock(lock, fcntl.LOCK_UN)
