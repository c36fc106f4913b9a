#!/usr/bin/env python3
"""Where a request's time goes: the platform's WSGI application called in-process under pyinstrument.

    DATABASE_URL=…/<name>_bench REDIS_URL=… .venv/bin/python bench/profile_requests.py [--only detail-cold,create]

Run it against a benchmark database kept by `bench/run.py --keep-db`. Each path is called `--requests` times
after a warm-up, with the production settings the benchmark uses (DEBUG off, no access log); the profile is
printed as pyinstrument's call tree, and the mean wall time and SQL statements per request beside it. The
WSGI call is what gunicorn makes, so HTTP parsing and the socket are left out (they cost the bare app the
same). See docs/performance.md for the breakdown this produced.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contacts_project.settings")
os.environ.update(DEBUG="0", ACCESS_LOG="0", LOG_LEVEL="WARNING", BENCH_COUNT_QUERIES="1",
                  THROTTLE_USER="100000000/min", CACHE_KEY_PREFIX=f"profile{os.getpid()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--only", default="", help="comma-separated paths: " + ", ".join(PATHS))
    parser.add_argument("--interval", type=float, default=0.0002, help="pyinstrument's sampling interval (s)")
    parser.add_argument("--no-profile", action="store_true", help="timings only")
    args = parser.parse_args()

    import django

    django.setup()
    import orjson
    from django.core.wsgi import get_wsgi_application
    from django.db import connection
    from pyinstrument import Profiler

    app = get_wsgi_application()
    with connection.cursor() as cursor:
        cursor.execute("SELECT t.key FROM authtoken_token t JOIN auth_user u ON u.id = t.user_id "
                       "WHERE u.username = 'bench-admin'")
        token = cursor.fetchone()[0]
        cursor.execute("SELECT id::text, email, first_name, last_name, status FROM contacts_contact "
                       "WHERE status IN ('active', 'inactive') ORDER BY id LIMIT 20000")
        rows = cursor.fetchall()
    connection.close()
    status = {row[0]: row[4] for row in rows}

    def call(method: str, path: str, body=None) -> tuple[int, bytes, str]:
        payload = orjson.dumps(body) if body is not None else b""
        query = ""
        if "?" in path:
            path, query = path.split("?", 1)
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
                   "SERVER_PORT": "8000", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
                   "wsgi.input": io.BytesIO(payload), "CONTENT_LENGTH": str(len(payload)),
                   "CONTENT_TYPE": "application/json", "HTTP_ACCEPT": "application/json",
                   "HTTP_AUTHORIZATION": f"Token {token}", "HTTP_HOST": "127.0.0.1:8000", "wsgi.errors": sys.stderr,
                   "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.multithread": True, "wsgi.multiprocess": True}
        seen = {}

        def start_response(code, headers, exc_info=None):
            seen["status"], seen["headers"] = int(code.split()[0]), dict(headers)

        response = app(environ, start_response)
        data = b"".join(response)
        response.close()
        return seen["status"], data, seen["headers"].get("X-Query-Count", "?")

    counter = iter(range(10**9))

    def cold(n):  # a contact not read before (ids walk through the table)
        return "GET", f"/api/v1/contacts/{rows[n % len(rows)][0]}/", None

    def toggle(n):
        cid = rows[(7 * n) % len(rows)][0]
        status[cid] = "inactive" if status[cid] == "active" else "active"
        return "POST", f"/api/v1/contacts/{cid}/status/", {"status": status[cid], "reason": "profile"}

    paths = {
        "detail-cached": lambda n: ("GET", f"/api/v1/contacts/{rows[n % 50][0]}/", None),
        "detail-cold": cold,
        "list": lambda n: ("GET", "/api/v1/contacts/", None),
        "search": lambda n: ("GET", f"/api/v1/contacts/?search={LAST_NAMES[n % len(LAST_NAMES)]}", None),
        "create": lambda n: ("POST", "/api/v1/contacts/", {
            "first_name": "Profile", "last_name": f"Create{n}", "email": f"p-{os.getpid()}-{n}@profile.example.com",
            "phone": f"+1415{n % 10_000_000:07d}", "type": "lead", "job_title": "Buyer", "tags": ["bench"]}),
        "patch": lambda n: ("PATCH", f"/api/v1/contacts/{rows[n % len(rows)][0]}/", {"job_title": f"Title {n}"}),
        "put": lambda n: ("PUT", f"/api/v1/contacts/{rows[n % len(rows)][0]}/", {
            "first_name": rows[n % len(rows)][2], "last_name": rows[n % len(rows)][3], "email": rows[n % len(rows)][1],
            "phone": "+14155550100", "job_title": f"Replaced {n}", "type": "customer", "tags": ["bench", "put"],
            "priority": 1}),
        "status": toggle,
    }
    chosen = [p.strip() for p in args.only.split(",") if p.strip()] or list(PATHS)
    offset = 0
    for name in chosen:
        make = paths[name]
        if name == "detail-cold":
            offset = 1000  # past the warm-ups of the other paths
        for _ in range(30 if name != "detail-cold" else 0):
            code, data, _ = call(*make(next(counter) + offset))
            if code >= 400:
                raise SystemExit(f"{name}: {code} {data[:300]!r}")
        profiler = None if args.no_profile else Profiler(interval=args.interval)
        queries = []
        started = time.perf_counter()
        if profiler:
            profiler.start()
        for _ in range(args.requests):
            code, data, qcount = call(*make(next(counter) + offset))
            queries.append(qcount)
            if code >= 400:
                raise SystemExit(f"{name}: {code} {data[:300]!r}")
        if profiler:
            profiler.stop()
        elapsed = time.perf_counter() - started
        print(f"\n=== {name}: {elapsed / args.requests * 1000:.2f} ms per request (mean of {args.requests}, "
              f"profiler {'on' if profiler else 'off'}), SQL {max(set(queries), key=queries.count)} per request")
        if profiler:
            print(profiler.output_text(unicode=True, color=False, show_all=False, short_mode=True))
    return 0


PATHS = ("detail-cached", "detail-cold", "list", "search", "create", "patch", "put", "status")
LAST_NAMES = ("smith", "garcia", "rodriguez", "kowalski", "nguyen", "dubois", "mendez", "johnson", "martinez",
              "taylor")

if __name__ == "__main__":
    sys.exit(main())
