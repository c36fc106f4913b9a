"""The dispatcher with a REAL Celery worker (and beat) against Redis and the test database, and a
worker SIGKILLed again and again while 1,000 due messages go out: each arrives exactly once, none
reaches an opted-out or suppressed contact."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from communications import dispatch
from communications.models import Communication, CommunicationStatusEvent, ContactPreference, Suppression
from communications.policy import address_hash
from contacts.models import Contact
from contacts_project import metrics
from tests import brokers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]
ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


def subprocess_env(smtp_port: int, spool_dir, **extra) -> dict:
    from django.conf import settings

    db = connection.settings_dict
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "DB_POOL": "false",
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "SINK_SPOOL_DIR": str(spool_dir),
        "LOG_LEVEL": "WARNING",
        **extra,
    })
    if db.get("PASSWORD"):
        env["DATABASE_URL"] = env["DATABASE_URL"].replace(f"{db['USER']}@", f"{db['USER']}:{db['PASSWORD']}@")
    if not metrics.broker_is_redis():  # the test runs on RabbitMQ (each_broker): so does its worker
        env.setdefault("CELERY_BROKER_URL", settings.CELERY_BROKER_URL)
    return env


def purge_broker() -> None:
    metrics.purge_queues()


class Worker:
    def __init__(self, env: dict):
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [CELERY, "-A", "contacts_project", "worker", "-Q", "send", "-c", "2", "-P", "prefork",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"],
            cwd=ROOT, env=self.env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the worker and its pool children, no goodbye
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def broker():
    purge_broker()
    yield
    purge_broker()


@pytest.fixture(params=["redis", "rabbitmq"])
def each_broker(request, settings):
    """The exactly-once tests run on both brokers: Redis, and RabbitMQ (quorum queues, publisher confirms) where
    TEST_RABBITMQ_URL names one (skipped with that reason elsewhere)."""
    if request.param == "redis":
        purge_broker()
        yield "redis"
        purge_broker()
        return
    with brokers.use_broker(brokers.rabbitmq_url(), settings):
        yield "rabbitmq"
        assert brokers.is_quorum_queue("send")  # the test's tasks went through a quorum queue


def make_contacts(n: int, prefix: str) -> list[Contact]:
    return Contact.objects.bulk_create([Contact(first_name=f"P{i}", email=f"{prefix}{i}@example.com")
                                        for i in range(n)])


def due_messages(contacts) -> list[Communication]:
    now = timezone.now()
    return Communication.objects.bulk_create([
        Communication(contact=c, type="email", subject=f"Hello {c.first_name}", content="Hi", status="scheduled",
                      scheduled_at=now - timezone.timedelta(seconds=1)) for c in contacts])


def wait_until(predicate, timeout: float, tick=None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tick:
            tick()
        if predicate():
            return True
        time.sleep(0.3)
    return False


def test_beat_and_worker_send_due_messages(smtp_sink, broker, settings):
    """The whole chain as deployed: beat (DatabaseScheduler, synced from CELERY_BEAT_SCHEDULE) runs the
    dispatcher every second, the worker sends; a message scheduled in the future waits."""
    contacts = make_contacts(12, "beat")
    ContactPreference.objects.create(contact=contacts[0], channel="email", purpose="transactional",
                                     status="opted_out", source="test")
    messages = due_messages(contacts)
    later = Communication.objects.create(contact=contacts[1], type="email", content="later", status="scheduled",
                                         scheduled_at=timezone.now() + timezone.timedelta(hours=1))
    env = subprocess_env(smtp_sink.port, smtp_sink.spool_dir, COMMUNICATIONS_DISPATCH_INTERVAL="1")
    worker = Worker(env)
    worker.start()
    beat = subprocess.Popen([CELERY, "-A", "contacts_project", "beat", "-S",
                             "django_celery_beat.schedulers:DatabaseScheduler", "--max-interval", "1", "-l", "WARNING"],
                            cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        done = wait_until(lambda: not Communication.objects.filter(
            pk__in=[m.pk for m in messages], status__in=["scheduled", "queued", "sending"]).exists(), 60)
    finally:
        os.killpg(beat.pid, signal.SIGTERM)
        beat.wait(timeout=10)
        worker.stop()
    assert done, list(Communication.objects.values_list("status", flat=True))
    statuses = dict(Communication.objects.filter(pk__in=[m.pk for m in messages]).values_list("contact_id", "status"))
    assert statuses.pop(contacts[0].pk) == "cancelled"
    assert set(statuses.values()) == {"sent"}
    arrived = smtp_sink.handler.by_reference()
    assert sorted(arrived) == sorted(str(m.pk) for m in messages if m.contact_id != contacts[0].pk)
    assert set(arrived.values()) == {1}
    assert Communication.objects.get(pk=later.pk).status == "scheduled"
    from django_celery_beat.models import PeriodicTask

    assert PeriodicTask.objects.filter(task="communications.dispatch_due").exists()


def test_sigkilled_worker_sends_each_message_exactly_once(smtp_sink, each_broker, settings):
    settings.COMMUNICATION_CHANNELS = {"email": {"BACKEND": "communications.tests.support.SpoolCheckingEmailBackend",
                                                 "OPTIONS": {"spool": str(smtp_sink.spool_dir)}}}
    settings.COMMUNICATIONS_QUEUED_LEASE_SECONDS = 5
    settings.COMMUNICATIONS_SENDING_LEASE_SECONDS = 8
    settings.COMMUNICATIONS_SEND_CHUNK = 20
    contacts = make_contacts(1000, "kill")
    opted_out, suppressed = contacts[:40], contacts[40:80]
    ContactPreference.objects.bulk_create([
        ContactPreference(contact=c, channel="email", purpose="transactional", status="opted_out", source="test")
        for c in opted_out])
    Suppression.objects.bulk_create([
        Suppression(channel="email", address=c.email, address_hash=address_hash("email", c.email), reason="manual")
        for c in suppressed])
    random.shuffle(contacts)
    messages = due_messages(contacts)
    env = subprocess_env(smtp_sink.port, smtp_sink.spool_dir,
                         DJANGO_SETTINGS_MODULE="communications.tests.worker_settings",
                         COMMUNICATIONS_SEND_CHUNK="20")
    worker = Worker(env)
    kills = 0
    rng = random.Random(5)
    next_kill = [time.monotonic() + rng.uniform(2.0, 3.5)]
    worker.start()

    def beat_and_chaos():
        dispatch.dispatch_due()  # what beat runs: recover stale rows, claim due ones
        nonlocal kills
        if time.monotonic() >= next_kill[0] and kills < 6:
            worker.kill()
            kills += 1
            worker.start()
            next_kill[0] = time.monotonic() + rng.uniform(2.0, 3.5)

    pending = ("scheduled", "queued", "sending")
    try:
        done = wait_until(lambda: not Communication.objects.filter(status__in=pending).exists(), 150,
                          tick=beat_and_chaos)
    finally:
        worker.stop()
    counts = dict(Communication.objects.values_list("status").annotate(n=Count("id")))
    recovered = CommunicationStatusEvent.objects.filter(source="recovery").values_list("to_status", flat=True)
    print(f"kills={kills} recovered={sorted(recovered)} arrived={sum(smtp_sink.handler.by_reference().values())}")
    assert done, counts
    assert kills >= 3
    arrived = smtp_sink.handler.by_reference()
    duplicates = {ref: n for ref, n in arrived.items() if n > 1}
    assert duplicates == {}
    blocked = {c.pk for c in opted_out} | {c.pk for c in suppressed}
    blocked_refs = {str(m.pk) for m in messages if m.contact_id in blocked}
    assert not blocked_refs & set(arrived), "a message reached an opted-out or suppressed contact"
    expected = {str(m.pk) for m in messages} - blocked_refs
    assert set(arrived) == expected  # none lost
    assert counts == {"sent": 920, "cancelled": 80}
