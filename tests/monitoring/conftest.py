"""Fixtures for the monitoring tests: a real Celery worker (in a thread) on the real Redis broker."""
import pytest
from celery.contrib.testing.worker import start_worker

from contacts_project import metrics
from contacts_project.celery import app
from contacts_project.health import BEAT_KEY, WORKER_KEY


@pytest.fixture(autouse=True)
def _no_request_series_from_earlier_tests():
    """Per-route request histograms pile up over a session (the fuzz test adds hundreds of route/method/status
    series), and every /metrics scrape renders and parses them all: seconds per scrape late in a run. The
    tests here assert differences between scrapes, so each starts without them."""
    metrics.REQUEST_LATENCY.clear()
    metrics.DB_QUERIES.clear()


@pytest.fixture
def broker():
    client = metrics.broker_redis()
    client.delete(WORKER_KEY, BEAT_KEY)
    yield client
    client.delete(WORKER_KEY, BEAT_KEY)


@pytest.fixture
def celery_worker(broker):
    """A real worker consuming the default queue from the Redis broker, executing tasks in a thread."""
    from tests.monitoring import tasks  # noqa: F401 - registers the test tasks

    # explicit queues: a worker started earlier in the session with queues=[...] narrows the app's queue set
    with start_worker(app, queues=["default", "send", "bulk"], pool="solo", concurrency=1,
                      perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10) as worker:
        yield worker
