#!/usr/bin/env python3
"""Sending benchmark: emails/s handed to a local SMTP sink, and due-at-T to handed-over p95.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/sending.py --messages 10000 --probes 100 --workers 2

It starts an SMTP sink (aiosmtpd, in this process) and `--workers` Celery worker processes
(`-Q send -c 1` each, i.e. one process per core). It writes `--messages` backlog messages that are all due
now, plus `--probes` messages due at times spread over the expected run. The dispatcher runs every
`--interval` seconds, as beat would. The script measures:

* `emails_per_second`: backlog messages that arrived at the sink / (last arrival - first arrival);
* `handover_p95_seconds`: p95 of (arrival at the sink - scheduled_at) over the probes, that is, how late a
  message due at T is handed over while the backlog is being sent.

Rows are written with a run-specific address prefix and deleted afterwards. `run()` returns the figures, so
bench/run.py can call it; the CLI prints them as JSON. Use a database of its own (the bench database).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contacts_project.settings")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _ArrivalSink:
    """Notes the arrival time of each message by its X-Communication-ID (headers only, no full parse)."""

    def __init__(self):
        self.arrivals: dict[str, float] = {}
        self.duplicates = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        now = time.time()
        head = envelope.content.split(b"\r\n\r\n", 1)[0]
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"x-communication-id:"):
                ref = line.split(b":", 1)[1].strip().decode()
                with self.lock:
                    if ref in self.arrivals:
                        self.duplicates += 1
                    else:
                        self.arrivals[ref] = now
                break
        return "250 OK"


def _percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def run(*, messages: int = 10000, probes: int = 100, workers: int = 2, interval: float = 2.0,
        timeout: float = 600.0) -> dict:
    import django

    django.setup()
    from aiosmtpd.controller import Controller
    from django.conf import settings
    from django.utils import timezone

    from communications import dispatch
    from communications.models import Communication
    from contacts.models import Contact
    from contacts_project.celery import app

    sink = _ArrivalSink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    tag = uuid.uuid4().hex[:8]
    env = dict(os.environ, EMAIL_URL=f"smtp://127.0.0.1:{port}",
               EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", LOG_LEVEL="WARNING")
    procs = [subprocess.Popen([str(Path(sys.executable).with_name("celery")), "-A", "contacts_project", "worker",
                               "-Q", "send", "-c", "1", "-n", f"bench-send-{i}-{tag}@%h", "--without-gossip",
                               "--without-mingle", "-l", "WARNING"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(workers)]
    contacts: list = []
    try:
        total = messages + probes
        contacts = Contact.objects.bulk_create(
            [Contact(first_name="Bench", last_name=str(i), email=f"bench-send-{tag}-{i}@example.invalid")
             for i in range(total)], batch_size=2000)
        rows = Communication.objects.bulk_create(
            [Communication(contact=c, type="email", subject="Benchmark", content="Hello from the benchmark.",
                           status="draft") for c in contacts], batch_size=2000)
        backlog, probe_rows = rows[:messages], rows[messages:]
        deadline = time.time() + 60
        while time.time() < deadline and len(app.control.ping(timeout=1.0) or []) < workers:
            time.sleep(0.5)
        # probes are due at moments spread over the time the backlog should take at ~300/s
        start = timezone.now()
        spread = max(messages / 300.0, 5.0)
        Communication.objects.filter(pk__in=[r.pk for r in backlog]).update(status="scheduled", scheduled_at=start)
        due: dict[str, float] = {}
        for index, row in enumerate(probe_rows):
            when = start + timezone.timedelta(seconds=spread * (index + 1) / (probes + 1))
            Communication.objects.filter(pk=row.pk).update(status="scheduled", scheduled_at=when)
            due[str(row.pk)] = when.timestamp()
        expected = {str(r.pk) for r in rows}
        stop_at = time.time() + timeout
        while time.time() < stop_at:
            dispatch.dispatch_due()
            with sink.lock:
                if expected <= set(sink.arrivals):
                    break
            time.sleep(interval)
        with sink.lock:
            arrivals = dict(sink.arrivals)
        backlog_times = [arrivals[str(r.pk)] for r in backlog if str(r.pk) in arrivals]
        elapsed = (max(backlog_times) - min(backlog_times)) if len(backlog_times) > 1 else None
        delays = [arrivals[ref] - when for ref, when in due.items() if ref in arrivals]
        return {
            "messages": messages, "workers": workers, "arrived": len(backlog_times),
            "emails_per_second": round(len(backlog_times) / elapsed, 1) if elapsed else None,
            "probes": probes, "probes_arrived": len(delays),
            "handover_p50_seconds": _round(_percentile(delays, 50)),
            "handover_p95_seconds": _round(_percentile(delays, 95)),
            "duplicates": sink.duplicates, "lost": len(expected - set(arrivals)),
            "dispatch_interval": interval, "dispatch_batch": settings.COMMUNICATIONS_DISPATCH_BATCH,
        }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        controller.stop()
        if contacts:
            Contact.objects.filter(email__startswith=f"bench-send-{tag}-").delete()


def _round(value):
    return None if value is None else round(value, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--interval", type=float, default=2.0, help="dispatcher period in seconds (beat's)")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    print(json.dumps(run(messages=args.messages, probes=args.probes, workers=args.workers, interval=args.interval,
                         timeout=args.timeout), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
