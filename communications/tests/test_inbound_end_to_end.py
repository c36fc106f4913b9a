"""End to end with real peers: a campaign of 100 goes out through a REAL Celery worker to the local SMTP
sink; bounces, complaints, replies and auto-replies come back over SMTP into the receiver and the same
worker processes them from the inbound queue. Statuses, suppressions, opt-outs and timelines come out
exactly, a replay of everything changes nothing, and the next campaign skips the suppressed."""
from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections import Counter

import pytest
from django.utils import timezone

from communications import dispatch
from communications.inbound import receiver
from communications.inbound.models import InboundMessage
from communications.models import Communication, ContactPreference, Suppression
from communications.tests import inbound_support as mails
from communications.tests.conftest import free_port
from communications.tests.test_worker import CELERY, ROOT, purge_broker, subprocess_env, wait_until
from contacts.models import Contact

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


def campaign(contacts, campaign_id) -> list[Communication]:
    now = timezone.now()
    return Communication.objects.bulk_create([
        Communication(contact=c, type="email", purpose="marketing", subject=f"Offer for {c.first_name}",
                      content="Our offer", status="scheduled", scheduled_at=now - timezone.timedelta(seconds=1),
                      campaign_id=campaign_id) for c in contacts])


def settle(ids, timeout=90) -> bool:
    return wait_until(lambda: not Communication.objects.filter(
        pk__in=ids, status__in=["scheduled", "queued", "sending"]).exists(), timeout, tick=dispatch.claim_due)


def test_campaign_bounces_complaints_replies_come_back_exactly(smtp_sink):
    purge_broker()
    contacts = Contact.objects.bulk_create([Contact(first_name=f"R{i}", email=f"r{i}@example.com")
                                            for i in range(100)])
    ContactPreference.objects.bulk_create([
        ContactPreference(contact=c, channel="email", purpose="marketing", status="opted_in", source="signup_form")
        for c in contacts])
    first = campaign(contacts, uuid.uuid4())
    env = subprocess_env(smtp_sink.port, smtp_sink.spool_dir)
    worker = subprocess.Popen(
        [CELERY, "-A", "contacts_project", "worker", "-Q", "send,inbound", "-c", "2", "-P", "prefork",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    inbound = receiver.start(host="127.0.0.1", port=free_port(), protocol="smtp")
    try:
        assert settle([m.pk for m in first])
        sent = {m.contact_id: m for m in Communication.objects.filter(pk__in=[m.pk for m in first])}
        assert Counter(m.status for m in sent.values()) == {"sent": 100}
        envelopes = {str(e.mail_from) for e in smtp_sink.handler.envelopes}
        assert len(envelopes) == 100 and all(e.startswith("bounce+") for e in envelopes)  # one VERP each

        by_index = [sent[c.pk] for c in contacts]
        hard, soft, complain = by_index[0:10], by_index[10:15], by_index[15:18]
        replies, autos = by_index[18:23], by_index[23:25]
        messages = []
        messages += [mails.dsn(m, status="5.1.1") for m in hard]
        messages += [mails.dsn(m, status="4.2.2", action="delayed", nonce=f"-{n}") for m in soft for n in range(3)]
        messages += [mails.arf(m) for m in complain]
        messages += [mails.reply(m, body=f"Reply from {m.contact.first_name}") for m in replies]
        messages += [mails.auto_reply(m) for m in autos]
        for raw, rcpt in messages:
            assert mails.smtp_deliver(inbound.port, raw, rcpt) == {}
        assert wait_until(lambda: InboundMessage.objects.filter(state="processed").count() == 35, 90)

        def state():
            return (Counter(Communication.objects.filter(campaign_id=first[0].campaign_id)
                            .values_list("status", flat=True)),
                    Counter(Suppression.objects.values_list("reason", flat=True)),
                    sorted(ContactPreference.objects.filter(status="opted_out").values_list("contact_id", flat=True)),
                    sorted(Communication.objects.filter(direction="inbound").values_list(
                        "contact_id", "in_reply_to_id", "content")),
                    Counter(InboundMessage.objects.values_list("kind", flat=True)))

        statuses, suppressions, opted_out, timeline, kinds = state()
        assert statuses == {"sent": 85, "bounced": 10, "replied": 5}
        assert {m.pk for m in hard} == set(Communication.objects.filter(status="bounced").values_list("pk", flat=True))
        assert suppressions == {"hard_bounce": 10, "soft_bounce": 5, "complaint": 3}
        assert set(Suppression.objects.filter(reason="soft_bounce").values_list("address", flat=True)) == \
            {m.to_address for m in soft}
        assert opted_out == sorted(m.contact_id for m in complain)
        assert timeline == sorted((m.contact_id, m.pk, f"Reply from {m.contact.first_name}") for m in replies)
        assert kinds == {"hard_bounce": 10, "soft_bounce": 15, "complaint": 3, "reply": 5, "auto_reply": 2}
        assert not Communication.objects.filter(direction="inbound", contact__in=[m.contact_id for m in autos]).exists()

        # everything again (a relay redelivering its queue): stored once, nothing changes
        for raw, rcpt in messages:
            assert mails.smtp_deliver(inbound.port, raw, rcpt) == {}
        assert InboundMessage.objects.count() == 35
        assert state() == (statuses, suppressions, opted_out, timeline, kinds)

        # the next campaign skips every suppressed address
        before = len(smtp_sink.messages)
        second = campaign(contacts, uuid.uuid4())
        assert settle([m.pk for m in second])
        outcome = dict(Communication.objects.filter(pk__in=[m.pk for m in second]).values_list("contact_id", "status"))
        skipped = {m.contact_id for m in hard + soft + complain}
        assert {cid for cid, status in outcome.items() if status == "cancelled"} == skipped
        assert Counter(outcome.values()) == {"sent": 82, "cancelled": 18}
        delivered = {str(m["To"]) for m in smtp_sink.messages[before:]}
        assert len(delivered) == 82 and not delivered & {m.to_address for m in hard + soft + complain}
    finally:
        inbound.stop()
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        purge_broker()
