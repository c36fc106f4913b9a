"""The inbound SMTP/LMTP receiver over real sockets (smtplib), the `run_inbound` process, and the size
limit answered 552 with the receiver's memory flat while a far larger message streams in."""
from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from django.db import connection

from communications.inbound import addresses, receiver
from communications.inbound.models import InboundMessage
from communications.models import Communication
from communications.tests import inbound_support as mails
from communications.tests.conftest import free_port
from communications.tests.factories import CommunicationFactory
from contacts.tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def inbound_smtp(celery_eager):
    controller = receiver.start(host="127.0.0.1", port=free_port(), protocol="smtp", max_bytes=1024 * 1024)
    yield controller
    controller.stop()


def sent_comm():
    contact = ContactFactory()
    return CommunicationFactory(contact=contact, status="sent", to_address=contact.email)


def test_a_bounce_over_smtp_is_stored_and_processed(inbound_smtp):
    comm = sent_comm()
    raw, rcpt = mails.dsn(comm)
    assert mails.smtp_deliver(inbound_smtp.port, raw, rcpt) == {}
    row = InboundMessage.objects.get()
    assert (row.source, row.envelope_from, row.envelope_to, bytes(row.raw)) == ("smtp", "", [rcpt], raw)
    assert (row.state, row.kind) == ("processed", "hard_bounce")
    assert Communication.objects.get(pk=comm.pk).status == "bounced"
    # the same message again (a sender retrying after a lost 250): accepted, stored once
    assert mails.smtp_deliver(inbound_smtp.port, raw, rcpt) == {}
    assert InboundMessage.objects.count() == 1


def test_mail_for_other_domains_is_refused(inbound_smtp):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        mails.smtp_deliver(inbound_smtp.port, b"Subject: x\r\n\r\nhi\r\n", "someone@example.org")
    assert refused.value.recipients["someone@example.org"][0] == 550
    assert not InboundMessage.objects.exists()


def test_declared_size_over_the_limit_is_refused_at_mail_from(inbound_smtp):
    with smtplib.SMTP("127.0.0.1", inbound_smtp.port, timeout=10) as client:
        client.ehlo()
        assert client.has_extn("size") and int(client.esmtp_features["size"]) == 1024 * 1024
        code, _ = client.mail("", options=[f"SIZE={2 * 1024 * 1024}"])
        assert code == 552


def test_oversized_message_is_552_and_memory_stays_flat(inbound_smtp):
    """20 MiB streamed at a 1 MiB limit: refused with 552, nothing stored, and the receiver never holds
    much more than the limit (tracemalloc sees the receiver thread of this process)."""
    line = b"x" * 998 + b"\r\n"
    chunk = line * 64  # 64 KB per write: the client side stays small too
    with smtplib.SMTP("127.0.0.1", inbound_smtp.port, timeout=60) as client:
        client.ehlo()
        client.mail("")
        client.rcpt(f"big@{addresses.domain()}")
        client.putcmd("data")
        assert client.getreply()[0] == 354
        tracemalloc.start()
        try:
            client.sock.sendall(b"Subject: big\r\n\r\n")
            for _ in range(20 * 1024 * 1024 // len(chunk)):
                client.sock.sendall(chunk)
            client.sock.sendall(b".\r\n")
            code, message = client.getreply()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert code == 552, message
    assert peak < 6 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB while 20 MiB streamed"
    assert not InboundMessage.objects.exists()


def test_lmtp_answers_once_per_recipient(celery_eager):
    controller = receiver.start(host="127.0.0.1", port=free_port(), protocol="lmtp")
    try:
        comm = sent_comm()
        raw, rcpt = mails.reply(comm)
        client = smtplib.LMTP("127.0.0.1", controller.port)
        try:
            assert client.sendmail(comm.to_address, [rcpt, f"copy@{addresses.domain()}"], raw) == {}
        finally:
            client.quit()
    finally:
        controller.stop()
    row = InboundMessage.objects.get()
    assert row.kind == "reply" and Communication.objects.get(pk=comm.pk).status == "replied"


def subprocess_env(**extra) -> dict:
    db = connection.settings_dict
    env = dict(os.environ)
    env.update({"DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
                                f"{db['NAME']}", "DB_POOL": "false", "LOG_LEVEL": "WARNING", **extra})
    if db.get("PASSWORD"):
        env["DATABASE_URL"] = env["DATABASE_URL"].replace(f"{db['USER']}@", f"{db['USER']}:{db['PASSWORD']}@")
    return env


def wait_for_port(port: int, proc: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        assert proc.poll() is None, "run_inbound exited"
        try:
            smtplib.SMTP("127.0.0.1", port, timeout=1).quit()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("run_inbound did not listen")


def test_run_inbound_command_receives_until_sigterm():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "manage.py", "run_inbound", "--port", str(port)], cwd=ROOT,
                            env=subprocess_env(INBOUND_SMTP_PORT="1"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, proc)
        comm = sent_comm()
        raw, rcpt = mails.dsn(comm)
        assert mails.smtp_deliver(port, raw, rcpt) == {}
        row = InboundMessage.objects.get()
        assert row.state == "pending"  # stored; a worker processes it (none runs in this test)
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        output = proc.stdout.read().decode()
        assert f"127.0.0.1:{port}" in output and addresses.domain() in output
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_a_message_that_cannot_be_stored_is_a_451_the_sender_retries(inbound_smtp, monkeypatch):
    from django.db import OperationalError

    def unavailable(**kwargs):
        raise OperationalError("the database is unavailable")

    monkeypatch.setattr(receiver.pipeline, "accept", unavailable)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        mails.smtp_deliver(inbound_smtp.port, b"Subject: x\r\n\r\nhi\r\n", f"x@{addresses.domain()}")
    assert refused.value.smtp_code == 451
    monkeypatch.undo()
    assert mails.smtp_deliver(inbound_smtp.port, b"Subject: x\r\n\r\nhi\r\n", f"x@{addresses.domain()}") == {}
    assert InboundMessage.objects.count() == 1
