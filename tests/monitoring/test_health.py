"""/health/ and /health/ready/ against the real PostgreSQL, Redis, a real worker and a real beat process."""
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from communications.models import Communication
from contacts.tests.factories import ContactFactory
from contacts_project import health
from contacts_project.health import BEAT_KEY, WORKER_KEY, record_heartbeat

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_liveness_does_no_io(anon):
    # no django_db mark: any database access here would raise
    response = anon.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_is_503_and_names_the_missing_heartbeats(anon, broker):
    response = anon.get("/health/ready/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    checks = body["checks"]
    assert checks["database"]["ok"] and checks["cache"]["ok"] and checks["broker"]["ok"]
    assert checks["dispatcher"]["ok"]
    assert checks["worker"] == {"ok": False, "detail": "no worker heartbeat recorded", "ms": checks["worker"]["ms"]}
    assert checks["beat"]["ok"] is False


@pytest.mark.django_db
def test_ready_is_200_when_everything_answers(anon, broker):
    record_heartbeat(WORKER_KEY)
    record_heartbeat(BEAT_KEY)
    response = anon.get("/health/ready/")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_stale_heartbeat_fails_the_check(anon, broker, settings):
    broker.set(WORKER_KEY, f"{time.time() - 600:.3f}")
    record_heartbeat(BEAT_KEY)
    response = anon.get("/health/ready/")
    assert response.status_code == 503
    worker = response.json()["checks"]["worker"]
    assert worker["ok"] is False and worker["age_seconds"] >= 599
    assert response.json()["checks"]["beat"]["ok"] is True


@pytest.mark.django_db
def test_dispatcher_lag_counts_only_due_scheduled_messages(anon, broker, settings):
    record_heartbeat(WORKER_KEY)
    record_heartbeat(BEAT_KEY)
    contact = ContactFactory()
    now = timezone.now()
    # not due, or not waiting: none of these is lag
    Communication.objects.create(contact=contact, type="email", status="scheduled",
                                 scheduled_at=now + timedelta(hours=1))
    Communication.objects.create(contact=contact, type="email", status="queued",
                                 scheduled_at=now - timedelta(hours=1))
    assert anon.get("/health/ready/").json()["checks"]["dispatcher"]["lag_seconds"] < 1
    Communication.objects.create(contact=contact, type="email", status="scheduled",
                                 scheduled_at=now - timedelta(seconds=settings.HEALTH_DISPATCH_LAG_MAX + 60))
    response = anon.get("/health/ready/")
    assert response.status_code == 503
    dispatcher = response.json()["checks"]["dispatcher"]
    assert dispatcher["ok"] is False and dispatcher["lag_seconds"] >= settings.HEALTH_DISPATCH_LAG_MAX + 59


@pytest.mark.django_db
def test_late_messages_behind_a_busy_send_queue_are_a_backlog_not_a_stalled_dispatcher(anon, broker, settings):
    """The dispatcher keeps a backlog `scheduled` (in-flight cap): while sends wait in the queue, the oldest
    due message may be older than the limit without anything being wrong with the dispatcher."""
    record_heartbeat(WORKER_KEY)
    record_heartbeat(BEAT_KEY)
    Communication.objects.create(contact=ContactFactory(), type="email", status="scheduled",
                                 scheduled_at=timezone.now() - timedelta(seconds=settings.HEALTH_DISPATCH_LAG_MAX + 60))
    broker.rpush("send", "a send task")
    response = anon.get("/health/ready/")
    assert response.status_code == 200
    dispatcher = response.json()["checks"]["dispatcher"]
    assert dispatcher["ok"] is True and dispatcher["sending_backlog"] is True
    assert dispatcher["lag_seconds"] >= settings.HEALTH_DISPATCH_LAG_MAX + 59
    broker.delete("send")  # nothing waiting to be sent while messages are late: the dispatcher is not running
    assert anon.get("/health/ready/").status_code == 503


@pytest.mark.django_db
def test_broker_outage_is_503_not_500(anon, broker, settings):
    record_heartbeat(WORKER_KEY)
    record_heartbeat(BEAT_KEY)
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = anon.get("/health/ready/")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"]["ok"] is False and "ConnectionError" in checks["broker"]["detail"]
    assert checks["database"]["ok"] is True


@pytest.mark.django_db
def test_a_failing_check_is_reported_not_raised(anon, broker, monkeypatch):
    def down():
        raise OSError("connection refused")

    monkeypatch.setitem(health.CHECKS, "database", down)
    response = anon.get("/health/ready/")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "detail": "OSError: connection refused",
                                                     "ms": response.json()["checks"]["database"]["ms"]}


@pytest.mark.django_db(transaction=True)
def test_real_beat_and_worker_heartbeats_make_ready_pass(anon, broker, celery_worker, tmp_path):
    """A real `celery beat` process publishes the heartbeat task; the real worker runs it."""
    env = dict(os.environ, HEALTH_HEARTBEAT_INTERVAL="1", PYTHONUNBUFFERED="1")
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "contacts_project", "beat", "--loglevel", "WARNING",
         "--scheduler", "celery.beat.PersistentScheduler", "--schedule", str(tmp_path / "beat-schedule"),
         "--pidfile", str(tmp_path / "beat.pid")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: broker.get(BEAT_KEY) is not None, 60), "beat never recorded its heartbeat"
        assert wait_for(lambda: broker.get(WORKER_KEY) is not None, 30), "the worker never ran the heartbeat"
    finally:
        beat.terminate()
        output = beat.communicate(timeout=20)[0].decode(errors="replace")
    response = anon.get("/health/ready/")
    assert response.status_code == 200, (response.json(), output[-2000:])
    checks = response.json()["checks"]
    assert checks["worker"]["age_seconds"] < 30 and checks["beat"]["age_seconds"] < 30
