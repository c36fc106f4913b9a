"""Read replicas against a real streaming hot standby: routing, read-your-writes, a replica stopped under load,
and replica lag in /health/ready/ and /metrics."""
from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from contacts_project import db_router
from tests import pg_servers
from tests.scaling.conftest import MARK


def _client(username: str) -> APIClient:
    user = get_user_model().objects.create_superuser(username, f"{username}@example.com", "pw-admin-123456")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    client.user = user
    return client


def _contact_queries(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if 'FROM "contacts_contact"' in q["sql"]]


def _list_emails(client) -> set[str]:
    response = client.get("/api/v1/contacts/?page_size=200")
    assert response.status_code == 200, response.content
    return {c["email"] for c in response.json()["results"]}


@pytest.fixture
def admin_api(replica):
    client = _client("admin-replica")
    pg_servers.wait_replayed(replica.primary, replica.standby)
    return client


@MARK
def test_list_reads_go_to_the_replica_and_writes_to_the_primary(replica, admin_api):
    ContactFactory(email="listed@example.com")
    pg_servers.wait_replayed(replica.primary, replica.standby)
    with CaptureQueriesContext(connections["replica1"]) as on_replica, \
            CaptureQueriesContext(connections["default"]) as on_primary:
        assert "listed@example.com" in _list_emails(admin_api)
        with connections["replica1"].cursor() as cursor:
            cursor.execute("SELECT pg_is_in_recovery()")
            assert cursor.fetchone() == (True,)  # the connection the list used is the standby's
    assert _contact_queries(on_replica), "the contact list did not read from the replica"
    assert not _contact_queries(on_primary)

    # the detail (not a heavy read), writes, and anything inside a transaction stay on the primary
    contact = Contact.objects.get(email="listed@example.com")
    with CaptureQueriesContext(connections["replica1"]) as on_replica:
        assert admin_api.get(f"/api/v1/contacts/{contact.pk}/").status_code == 200
        with db_router.replica_reads():
            Contact.objects.filter(pk=contact.pk).update(job_title="Engineer")
            with transaction.atomic():
                assert Contact.objects.get(pk=contact.pk).job_title == "Engineer"
    assert not _contact_queries(on_replica)
    with db_router.replica_reads():
        assert Contact.objects.filter(pk=contact.pk).db == "replica1"
    assert Contact.objects.filter(pk=contact.pk).db == "default"  # only when asked


@MARK
def test_a_user_reads_their_own_write_while_the_replica_is_paused(replica, admin_api, settings):
    settings.REPLICA_MAX_LAG_SECONDS = 3600  # paused is not "too far behind" here: the LSN decides
    other = _client("other-replica")
    pg_servers.wait_replayed(replica.primary, replica.standby)
    replica.standby.psql("SELECT pg_wal_replay_pause()")
    try:
        response = admin_api.post("/api/v1/contacts/", {"first_name": "Ada", "last_name": "Lovelace",
                                                         "email": "ada@example.com"}, format="json")
        assert response.status_code == 201, response.content
        # the writer sees the new contact at once (from the primary: the replica has not replayed it) ...
        with CaptureQueriesContext(connections["replica1"]) as on_replica:
            assert "ada@example.com" in _list_emails(admin_api)
        assert not _contact_queries(on_replica)
        # ... while a user who wrote nothing is still served by the (paused, stale) replica
        with CaptureQueriesContext(connections["replica1"]) as on_replica:
            assert "ada@example.com" not in _list_emails(other)
        assert _contact_queries(on_replica)
    finally:
        replica.standby.psql("SELECT pg_wal_replay_resume()")
    pg_servers.wait_replayed(replica.primary, replica.standby)
    # replayed: the writer's reads go back to the replica, and see their contact there
    with CaptureQueriesContext(connections["replica1"]) as on_replica:
        assert "ada@example.com" in _list_emails(admin_api)
    assert _contact_queries(on_replica)


@MARK
def test_a_replica_stopped_mid_load_leaves_requests_succeeding(replica, admin_api):
    ContactFactory.create_batch(30)
    pg_servers.wait_replayed(replica.primary, replica.standby)
    assert admin_api.get("/api/v1/contacts/").status_code == 200
    assert db_router.state("replica1").ok
    stopper = threading.Timer(0.3, replica.standby.stop, args=("immediate",))
    stopper.start()
    statuses = []
    deadline = time.monotonic() + 2.0
    try:
        while time.monotonic() < deadline and len(statuses) < 400:
            response = admin_api.get("/api/v1/contacts/?page_size=20")
            statuses.append(response.status_code)
            assert response.status_code == 200, response.content
            assert len(response.json()["results"]) == 20
    finally:
        stopper.join()
    assert not replica.standby.running()
    assert len(statuses) > 5
    checks = APIClient().get("/health/ready/").json()["checks"]
    assert checks["replicas"]["replicas"]["replica1"]["ok"] is False
    assert checks["replicas"]["serving"] == 0
    assert checks["replicas"]["ok"] is True  # reads fall back to the primary: still ready on this account
    # started again, the replica is used again after the retry interval
    replica.standby.start()
    pg_servers.wait_replayed(replica.primary, replica.standby)
    time.sleep(0.6)
    with CaptureQueriesContext(connections["replica1"]) as on_replica:
        assert admin_api.get("/api/v1/contacts/").status_code == 200
    assert _contact_queries(on_replica)


@MARK
def test_replica_lag_in_health_and_metrics(replica, settings):
    settings.REPLICA_MAX_LAG_SECONDS = 1
    anon = APIClient()
    checks = anon.get("/health/ready/").json()["checks"]
    assert checks["replicas"]["replicas"]["replica1"] == {"ok": True, "lag_seconds": 0.0}
    samples = {(s.name, tuple(s.labels.items())): s.value for family in text_string_to_metric_families(
        anon.get("/metrics").content.decode()) for s in family.samples}
    assert samples[("contacts_db_replica_lag_seconds", (("replica", "replica1"),))] == 0.0
    assert samples[("contacts_db_replica_serving", (("replica", "replica1"),))] == 1.0

    replica.standby.psql("SELECT pg_wal_replay_pause()")
    try:
        ContactFactory()  # WAL the standby receives but does not replay
        time.sleep(1.5)
        db_router.reset_states()
        checks = anon.get("/health/ready/").json()["checks"]
        state = checks["replicas"]["replicas"]["replica1"]
        assert state["ok"] is False and state["lag_seconds"] > 1, state
        assert "lag" in state["detail"]
        samples = {(s.name, tuple(s.labels.items())): s.value for family in text_string_to_metric_families(
            anon.get("/metrics").content.decode()) for s in family.samples}
        assert samples[("contacts_db_replica_lag_seconds", (("replica", "replica1"),))] > 1
        assert samples[("contacts_db_replica_serving", (("replica", "replica1"),))] == 0.0
        with db_router.replica_reads():  # lagging: skipped
            assert Contact.objects.all().db == "default"
    finally:
        replica.standby.psql("SELECT pg_wal_replay_resume()")


def test_without_replicas_nothing_is_routed(settings, db):
    assert settings.DATABASE_REPLICAS == [] or settings.DATABASE_ROUTERS
    settings.DATABASE_REPLICAS = []
    with db_router.replica_reads():
        assert db_router.choose_replica() is None
        assert Contact.objects.all().db == "default"


def test_lsn_order():
    assert db_router.parse_lsn("0/16B3748") < db_router.parse_lsn("0/16B3750") < db_router.parse_lsn("1/0")
    assert db_router.parse_lsn(None) is None
