#!/usr/bin/env python3
"""Inbound benchmark: messages through the SMTP receiver until processed by the pipeline.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/inbound_bench.py --messages 1000 --workers 2

It starts the receiver (`manage.py run_inbound`, its own process on a free port) and `--workers` Celery
worker processes (`-Q inbound -c 1` each), writes `--messages` sent emails to as many contacts, and sends one
RFC 3464 hard bounce per message to its VERP address over `--connections` SMTP connections. Each bounce
moves its message to `bounced`, adds a suppression and a delivery event. The script reports:

* `receive_seconds`: first SMTP transaction to the last 250 (stored, not yet processed);
* `processed_seconds`: first SMTP transaction to the last message processed;
* `messages_per_second`: messages / processed_seconds;
* `receiver_peak_rss_mib`: the receiver's peak resident memory (VmHWM).

Rows are written with a run-specific address prefix and deleted afterwards. Use a database of its own.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import smtplib
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


def _wait_smtp(port: int, proc: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("run_inbound exited")
        try:
            smtplib.SMTP("127.0.0.1", port, timeout=1).quit()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the receiver did not listen")


def _peak_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def run(*, messages: int = 1000, workers: int = 2, connections: int = 4) -> dict:
    import django

    django.setup()
    from django.utils import timezone

    from communications.inbound import addresses
    from communications.inbound.models import InboundMessage
    from communications.models import Communication, Suppression
    from contacts.models import Contact

    prefix = f"inb{uuid.uuid4().hex[:8]}"
    contacts = Contact.objects.bulk_create([Contact(first_name="Bench", email=f"{prefix}-{i}@example.com")
                                            for i in range(messages)])
    now = timezone.now()
    comms = Communication.objects.bulk_create([
        Communication(contact=c, type="email", subject="Bench", content="x", status="sent", sent_at=now,
                      to_address=c.email) for c in contacts])
    payloads = []
    for comm in comms:
        rcpt = addresses.bounce_address(comm.pk)
        raw = (f"From: MAILER-DAEMON@mx.example.net\r\nTo: {rcpt}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
               f"Message-ID: <bench-{comm.pk}@mx.example.net>\r\nMIME-Version: 1.0\r\n"
               f'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
               f"--b\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n\r\n"
               f"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
               f"Final-Recipient: rfc822; {comm.to_address}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
               f"--b--\r\n").encode()
        payloads.append((raw, rcpt))

    env = dict(os.environ, LOG_LEVEL="WARNING", DB_POOL="false")
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, "manage.py", "run_inbound", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, start_new_session=True)]
    celery = str(Path(sys.executable).with_name("celery"))
    for n in range(workers):
        procs.append(subprocess.Popen([celery, "-A", "contacts_project", "worker", "-Q", "inbound", "-c", "1",
                                       "-n", f"inbound-bench-{n}@%h", "--without-gossip", "--without-mingle",
                                       "--without-heartbeat", "-l", "WARNING"], cwd=ROOT, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
    ids = [c.pk for c in comms]
    try:
        _wait_smtp(port, procs[0])
        time.sleep(2)  # workers connect to the broker

        def send(chunk):
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
                for raw, rcpt in chunk:
                    client.sendmail("", [rcpt], raw)

        chunks = [payloads[i::connections] for i in range(connections)]
        started = time.monotonic()
        threads = [threading.Thread(target=send, args=(chunk,)) for chunk in chunks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        received = time.monotonic() - started
        while Communication.objects.filter(pk__in=ids, status="bounced").count() < messages:
            if time.monotonic() - started > 600:
                raise SystemExit("not processed within 600 s")
            time.sleep(0.2)
        processed = time.monotonic() - started
        peak = _peak_rss_mib(procs[0].pid)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        InboundMessage.objects.filter(message_id__startswith="<bench-").delete()
        Suppression.objects.filter(address__startswith=prefix).delete()
        Contact.objects.filter(email__startswith=prefix).delete()
    return {"messages": messages, "workers": workers, "receive_seconds": round(received, 2),
            "processed_seconds": round(processed, 2), "messages_per_second": round(messages / processed, 1),
            "receiver_peak_rss_mib": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    print(json.dumps(run(messages=args.messages, workers=args.workers, connections=args.connections), indent=2))


if __name__ == "__main__":
    main()
