"""The IMAP poller against a real Dovecot (Debian's dovecot-imapd), started once per session in a
temporary directory on a free loopback port with a passwd-file user, as the embedded PostgreSQL is."""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from django.conf import settings
from imap_tools import MailBoxUnencrypted

from communications.inbound import mailbox, pipeline
from communications.inbound.models import InboundMessage
from communications.models import Communication
from communications.tests import inbound_support as mails
from communications.tests.conftest import free_port
from communications.tests.factories import CommunicationFactory
from contacts.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
USER, PASSWORD = "bounces", "s3cret-pw"
CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


@pytest.fixture(scope="session")
def dovecot():
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
    if binary is None:
        pytest.skip("Dovecot is not installed: the IMAP poller tests need a real IMAP server "
                    "(apt-get install -y dovecot-imapd; .ci/run installs it when missing)")
    root = Path(tempfile.mkdtemp(prefix="inbound-dovecot-"))
    root.chmod(0o755)
    if os.geteuid() == 0:  # Dovecot runs its processes as its own system users
        internal, login = "dovecot", "dovenull"
        mail_user = pwd.getpwnam("dovenull")
    else:
        internal = login = pwd.getpwuid(os.getuid()).pw_name
        mail_user = pwd.getpwuid(os.getuid())
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir()
    for sub in ("mail", "home"):
        os.chown(root / sub, mail_user.pw_uid, mail_user.pw_gid)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    (root / "passwd").chmod(0o644)
    port = free_port()
    internal_group = pwd.getpwnam(internal).pw_gid
    import grp

    (root / "dovecot.conf").write_text(CONFIG.format(
        root=root, port=port, internal=internal, internal_group=grp.getgrgid(internal_group).gr_name, login=login,
        uid=mail_user.pw_uid, gid=mail_user.pw_gid))
    proc = subprocess.Popen([binary, "-F", "-c", str(root / "dovecot.conf")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = proc.stdout.read().decode(errors="replace")
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            pytest.skip(f"Dovecot could not start here: {output[-500:]} {log[-500:]}")
        try:
            with MailBoxUnencrypted("127.0.0.1", port, timeout=2).login(USER, PASSWORD):
                break
        except Exception:  # noqa: BLE001 - not listening yet
            time.sleep(0.2)
    else:
        proc.terminate()
        pytest.skip("Dovecot did not answer within 20 s")
    yield {"port": port, "url": f"imap://{USER}:{PASSWORD}@127.0.0.1:{port}/INBOX", "root": root}
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def box(dovecot):
    with MailBoxUnencrypted("127.0.0.1", dovecot["port"]).login(USER, PASSWORD) as client:
        for folder in client.folder.list():
            if folder.name != "INBOX":
                client.folder.delete(folder.name)
        client.folder.set("INBOX")
        uids = client.uids("ALL")
        if uids:
            client.delete(uids)
        yield client


def uids(box, criteria: str, folder: str = "INBOX") -> list[str]:
    """What another session (the poller) did, seen afresh: select the folder again."""
    box.folder.set(folder)
    return box.uids(criteria)


def sent_comm():
    contact = ContactFactory()
    return CommunicationFactory(contact=contact, status="sent", to_address=contact.email)


def process_all():
    for row in InboundMessage.objects.filter(state="pending"):
        pipeline.process(row.pk)


def test_poller_fetches_stores_once_and_marks_seen(dovecot, box, settings):
    settings.INBOUND_IMAP_URL, settings.INBOUND_IMAP_AFTER = dovecot["url"], "seen"
    bounced, replied = sent_comm(), sent_comm()
    bounce, _ = mails.dsn(bounced, verp=False)  # a shared mailbox: the relay rewrote the Return-Path
    reply, _ = mails.reply(replied)
    box.append(bounce, "INBOX")
    box.append(reply, "INBOX")
    from communications.inbound.tasks import poll_mailbox

    assert poll_mailbox() == {"fetched": 2, "stored": 2, "duplicates": 0, "errors": 0}  # what beat runs
    process_all()
    stored = {row.kind: row for row in InboundMessage.objects.all()}
    assert set(stored) == {"hard_bounce", "reply"} and {r.source for r in stored.values()} == {"imap"}
    assert bytes(stored["hard_bounce"].raw).replace(b"\r\n", b"\n") == bounce.replace(b"\r\n", b"\n")
    assert Communication.objects.get(pk=bounced.pk).status == "bounced"
    assert Communication.objects.get(pk=replied.pk).status == "replied"
    assert len(uids(box, "SEEN")) == 2 and uids(box, "UNSEEN") == []
    assert mailbox.poll() == {"fetched": 0, "stored": 0, "duplicates": 0, "errors": 0}
    # the same message delivered to the mailbox again is stored once
    box.append(reply, "INBOX")
    assert mailbox.poll() == {"fetched": 1, "stored": 0, "duplicates": 1, "errors": 0}
    assert InboundMessage.objects.count() == 2


def test_poller_moves_or_deletes_after_storing(dovecot, box, settings):
    settings.INBOUND_IMAP_URL = dovecot["url"]
    box.folder.create("Processed")
    settings.INBOUND_IMAP_AFTER = "move:Processed"
    box.append(mails.reply(sent_comm())[0], "INBOX")
    assert mailbox.poll()["stored"] == 1
    assert uids(box, "ALL") == [] and len(uids(box, "ALL", "Processed")) == 1
    settings.INBOUND_IMAP_AFTER = "delete"
    box.append(mails.reply(sent_comm())[0], "INBOX")
    assert mailbox.poll()["stored"] == 1
    assert uids(box, "ALL") == []


def test_poller_without_a_mailbox_does_nothing(settings):
    settings.INBOUND_IMAP_URL = ""
    assert mailbox.poll() == {"skipped": "INBOUND_IMAP_URL is not set"}
    assert "communications-inbound-poll-mailbox" in settings.CELERY_BEAT_SCHEDULE


def test_mailbox_url_forms():
    config = mailbox.parse_url("imaps://me%40example.com:p%40ss@imap.example.com/Bounces")
    assert (config.scheme, config.host, config.port, config.username, config.password, config.folder) == \
        ("imaps", "imap.example.com", 993, "me@example.com", "p@ss", "Bounces")
    assert mailbox.parse_url("imap+starttls://u:p@h").port == 143
    with pytest.raises(ValueError):
        mailbox.parse_url("pop3://u:p@h")
    assert settings.INBOUND_IMAP_AFTER == "seen"
