"""PgBouncer in transaction mode (a real one, Debian's package) in front of the test PostgreSQL: what breaks
behind it (prepared statements, session state) and the settings that avoid it. `make test` also runs a part of
the suite with DATABASE_URL on a PgBouncer (TEST_PGBOUNCER=1, docs/scaling.md)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connections

from tests import pg_servers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def pgbouncer(django_db_setup, django_db_blocker):
    """One server connection shared by every client: whatever a client leaves in the session, the next finds."""
    reason = pg_servers.pgbouncer_unavailable()
    if reason:
        pytest.skip(reason)
    from django.conf import settings

    if settings.DATABASE_POOLER == "pgbouncer":
        pytest.skip("the database is already behind a PgBouncer here: these run in the direct part of `make test`")
    with django_db_blocker.unblock():
        target = dict(connections["default"].settings_dict)
    bouncer = pg_servers.start_pgbouncer(target.get("HOST") or "127.0.0.1", int(target.get("PORT") or 5432),
                                         pool_size=1)
    yield f"host=127.0.0.1 port={bouncer.port} user={target.get('USER') or 'postgres'} dbname={target['NAME']}"
    bouncer.stop()


def test_prepared_statements_collide_behind_transaction_pooling_unless_switched_off(pgbouncer):
    first, second = (psycopg.connect(pgbouncer, autocommit=True, prepare_threshold=0) for _ in range(2))
    try:
        first.execute("SELECT %s::int", [1]).fetchone()
        with pytest.raises(psycopg.errors.DuplicatePreparedStatement):  # both named theirs _pg3_0, on one server
            second.execute("SELECT %s::int", [2]).fetchone()
    finally:
        first.close()
        second.close()
    # what DATABASE_POOLER=pgbouncer configures: no prepared statements
    clients = [psycopg.connect(pgbouncer, autocommit=True, prepare_threshold=None) for _ in range(2)]
    try:
        for n in range(20):
            assert clients[n % 2].execute("SELECT %s::int", [n]).fetchone() == (n,)
    finally:
        for client in clients:
            client.close()


def test_transaction_level_settings_and_locks_stay_in_their_transaction(pgbouncer):
    """set_config(..., true) and pg_advisory_xact_lock end with the transaction, so they work behind the pooler;
    a session-level SET would reach whichever client gets the server next."""
    first, second = (psycopg.connect(pgbouncer, prepare_threshold=None) for _ in range(2))
    try:
        with first.transaction():
            first.execute("SELECT set_config('application_name', 'leaked', false)")  # session-level
        with second.transaction():
            assert second.execute("SELECT current_setting('application_name')").fetchone() == ("leaked",)
        with first.transaction():
            first.execute("SELECT set_config('pghistory.context_id', 'ctx', true), pg_advisory_xact_lock(42)")
        with second.transaction():
            assert second.execute("SELECT current_setting('pghistory.context_id', true)").fetchone() in [("",),
                                                                                                       (None,)]
            assert second.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone() == (0,)
    finally:
        first.close()
        second.close()


def test_the_pooler_setting_switches_off_prepared_statements_and_server_side_cursors():
    code = ("import json; from django.conf import settings as s; "
            "print(json.dumps({a: [d.get('OPTIONS', {}).get('prepare_threshold', 'unset'), "
            "d.get('DISABLE_SERVER_SIDE_CURSORS', False)] for a, d in s.DATABASES.items()}))")
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="contacts_project.settings", DATABASE_POOLER="pgbouncer",
               DATABASE_REPLICA_URLS="postgres://postgres@127.0.0.1:6432/contacts")
    out = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == {"default": [None, True], "replica1": [None, True]}
    env.pop("DATABASE_POOLER")
    out = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == {"default": ["unset", False], "replica1": ["unset", False]}


@pytest.mark.django_db
def test_behind_pgbouncer_the_test_connection_has_the_pooler_settings(settings):
    if settings.DATABASE_POOLER != "pgbouncer":
        pytest.skip("runs in the TEST_PGBOUNCER=1 part of `make test`")
    connection = connections["default"]
    assert connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert connection.settings_dict["OPTIONS"]["prepare_threshold"] is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert connection.connection.prepare_threshold is None
