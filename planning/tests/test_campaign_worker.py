"""A campaign through a REAL Celery worker (SIGKILLed mid-campaign) and a real SMTP server: every
consenting recipient gets the message exactly once, opted-out ones are skipped and counted; pause stops
the sending within seconds."""
from __future__ import annotations

import random
import time

import pytest

from communications import dispatch
from communications.models import Communication, ContactPreference
from communications.tests.factories import MessageTemplateFactory
from communications.tests.test_worker import Worker, subprocess_env, wait_until
from contacts.models import Contact
from planning import campaigns
from planning.models import Campaign, ContactList, ListMembership

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


def audience(n: int, opted_out: int):
    contacts = Contact.objects.bulk_create([Contact(first_name=f"R{i}", email=f"recipient{i}@example.com")
                                            for i in range(n)])
    contact_list = ContactList.objects.create(name="Everyone")
    ListMembership.objects.bulk_create([ListMembership(contact_list=contact_list, contact=c) for c in contacts])
    ContactPreference.objects.bulk_create([
        ContactPreference(contact=c, channel="email", purpose="newsletter",
                          status="opted_out" if i < opted_out else "opted_in", source="test")
        for i, c in enumerate(contacts)])
    return contact_list, contacts


def start_campaign(contact_list, **extra) -> Campaign:
    template = MessageTemplateFactory(purpose="newsletter", subject="News for {{ contact.first_name }}")
    campaign = campaigns.campaign_create(data={"name": "News", "purpose": "newsletter",
                                               "message_template": str(template.pk),
                                               "include_lists": [str(contact_list.pk)], **extra})
    return campaigns.campaign_schedule(campaign_id=campaign.pk)


def test_campaign_reaches_each_recipient_once_with_the_worker_killed(smtp_sink, each_broker, settings):
    settings.COMMUNICATION_CHANNELS = {"email": {"BACKEND": "communications.tests.support.SpoolCheckingEmailBackend",
                                                 "OPTIONS": {"spool": str(smtp_sink.spool_dir)}}}
    settings.COMMUNICATIONS_QUEUED_LEASE_SECONDS = 5
    settings.COMMUNICATIONS_SENDING_LEASE_SECONDS = 8
    contact_list, contacts = audience(1500, opted_out=100)
    campaign = start_campaign(contact_list)
    worker = Worker(subprocess_env(smtp_sink.port, smtp_sink.spool_dir,
                                   DJANGO_SETTINGS_MODULE="communications.tests.worker_settings",
                                   COMMUNICATIONS_SEND_CHUNK="25"))
    rng = random.Random(7)
    kills, next_kill = 0, [time.monotonic() + rng.uniform(2.0, 4.0)]
    worker.start()

    def beat_and_chaos():
        nonlocal kills
        campaigns.campaign_tick()   # what beat runs: start, fan out, finish
        dispatch.dispatch_due()     # and the dispatcher
        if time.monotonic() >= next_kill[0] and kills < 4 and Communication.objects.filter(status="sent").exists():
            worker.kill()
            kills += 1
            worker.start()
            next_kill[0] = time.monotonic() + rng.uniform(2.0, 4.0)

    try:
        finished = wait_until(lambda: Campaign.objects.get(pk=campaign.pk).status.startswith("completed"), 240,
                              tick=beat_and_chaos)
    finally:
        worker.stop()
    stats = campaigns.campaign_stats(campaign_id=campaign.pk)
    assert finished, stats
    assert kills >= 2
    arrived = smtp_sink.handler.by_reference()
    assert {ref: n for ref, n in arrived.items() if n > 1} == {}, "a recipient got the campaign twice"
    sent_to = {m["To"] for m in smtp_sink.messages}
    assert sent_to == {c.email for c in contacts[100:]}, "a recipient was missed or an opted-out one reached"
    assert stats["status"] == "completed"
    assert (stats["recipients"], stats["sent"], stats["skipped_by_reason"]) == (1500, 1400, {"no_consent": 100})


def test_pause_stops_sending_within_five_seconds(smtp_sink, broker, settings):
    contact_list, _ = audience(400, opted_out=0)
    campaign = start_campaign(contact_list, throttle_per_minute=3000)  # 100 per 2-second tick
    worker = Worker(subprocess_env(smtp_sink.port, smtp_sink.spool_dir))
    worker.start()
    try:
        assert wait_until(lambda: len(smtp_sink.messages) >= 50, 60,
                          tick=lambda: (campaigns.campaign_tick(), dispatch.dispatch_due()))
        campaigns.campaign_pause(campaign_id=campaign.pk)
        paused_at = time.monotonic()
        time.sleep(5)
        count_after_five = len(smtp_sink.messages)
        for _ in range(5):  # beat keeps running while paused
            campaigns.campaign_tick()
            dispatch.dispatch_due()
            time.sleep(0.5)
        assert len(smtp_sink.messages) == count_after_five, "messages still went out after the pause settled"
        assert time.monotonic() - paused_at < 12
        assert count_after_five < 400
        campaigns.campaign_resume(campaign_id=campaign.pk)
        assert wait_until(lambda: Campaign.objects.get(pk=campaign.pk).status == "completed", 120,
                          tick=lambda: (campaigns.campaign_tick(), dispatch.dispatch_due()))
    finally:
        worker.stop()
    assert len(smtp_sink.messages) == 400
    assert len(set(smtp_sink.handler.by_reference())) == 400
