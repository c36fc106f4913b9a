import datetime as dt

import pytest
from django.utils import timezone

from communications import dispatch
from communications.models import Communication, ContactPreference, Suppression
from communications.policy import address_hash
from communications.tests.factories import MessageTemplateFactory
from contacts.tests.factories import ContactFactory
from planning import campaigns
from planning.models import Campaign, CampaignRecipient, ContactList, ListMembership

pytestmark = pytest.mark.django_db
URL = "/api/v1/campaigns/"


def opt_in(contact, purpose="marketing"):
    ContactPreference.objects.create(contact=contact, channel="email", purpose=purpose, status="opted_in",
                                     source="test")


@pytest.fixture
def audience():
    contact_list = ContactList.objects.create(name="Audience")
    contacts = ContactFactory.create_batch(6)
    ListMembership.objects.bulk_create([ListMembership(contact_list=contact_list, contact=c) for c in contacts])
    for contact in contacts[:4]:
        opt_in(contact)
    return contact_list, contacts


@pytest.fixture
def template():
    return MessageTemplateFactory(purpose="marketing", subject="News for {{ contact.first_name }}")


def create(api, template, contact_list, **extra):
    body = {"name": "Winter news", "purpose": "marketing", "message_template": str(template.pk),
            "include_lists": [str(contact_list.pk)], **extra}
    return api.post(URL, body, format="json")


def run_until_done(rounds=20):
    """What beat and the worker do: tick, claim due messages, send them."""
    for _ in range(rounds):
        campaigns.campaign_tick()
        ids = dispatch.claim_due()
        if ids:
            dispatch.send_messages([str(i) for i in ids])
        if not Campaign.objects.filter(status="running").exists():
            return


def test_campaign_sends_once_to_each_consenting_recipient(api, audience, template, smtp_sink):
    contact_list, contacts = audience
    Suppression.objects.create(channel="email", address=contacts[3].email, reason="hard_bounce",
                               address_hash=address_hash("email", contacts[3].email))
    contacts[5].email = ""
    contacts[5].save()
    campaign = create(api, template, contact_list).json()
    assert api.post(f"{URL}{campaign['id']}/schedule/", {}, format="json").status_code == 200
    run_until_done()
    stats = api.get(f"{URL}{campaign['id']}/stats/").json()
    assert stats["status"] == "completed"
    assert stats["recipients"] == 6 and stats["sent"] == 3
    assert stats["skipped_by_reason"] == {"suppressed": 1, "no_consent": 1, "no_address": 1}
    received = sorted(m["To"] for m in smtp_sink.messages)
    assert received == sorted(c.email for c in contacts[:3])
    run_until_done()  # nothing more is sent by further ticks
    assert len(smtp_sink.messages) == 3


def test_opt_out_after_start_is_cancelled_at_send_time(api, audience, template, smtp_sink):
    contact_list, contacts = audience
    campaign = create(api, template, contact_list).json()
    api.post(f"{URL}{campaign['id']}/schedule/", {}, format="json")
    campaigns.campaign_tick()  # materialized and first batch scheduled
    ContactPreference.objects.filter(contact=contacts[0]).update(status="opted_out")
    run_until_done()
    assert contacts[0].email not in {m["To"] for m in smtp_sink.messages}
    stats = campaigns.campaign_stats(campaign_id=campaign["id"])
    assert stats["sent"] == 3 and stats["skipped_by_reason"].get("no_consent") == 3  # 2 at start, 1 at send


def test_pause_resume_and_cancel(api, audience, template, smtp_sink):
    contact_list, _ = audience
    campaign = create(api, template, contact_list).json()
    url = f"{URL}{campaign['id']}/"
    api.post(f"{url}schedule/", {}, format="json")
    campaigns.campaign_tick()
    assert api.post(f"{url}pause/").json()["status"] == "paused"
    assert not dispatch.claim_due()  # nothing is sent while paused
    assert Communication.objects.filter(campaign_id=campaign["id"], status="draft").count() == 4
    assert api.post(f"{url}pause/").status_code == 409
    assert api.post(f"{url}schedule/", {}, format="json").status_code == 409
    assert api.post(f"{url}resume/").json()["status"] == "running"
    assert api.post(f"{url}cancel/").json()["status"] == "cancelled"
    assert api.post(f"{url}resume/").status_code == 409
    run_until_done()
    assert smtp_sink.messages == []
    assert not Communication.objects.filter(campaign_id=campaign["id"]).exclude(status="cancelled").exists()


def test_throttle_limits_each_batch(api, audience, template):
    contact_list, _ = audience
    campaign = create(api, template, contact_list, throttle_per_minute=60).json()
    api.post(f"{URL}{campaign['id']}/schedule/", {}, format="json")
    result = campaigns.campaign_tick()
    assert result["queued"] == 2  # 60 per minute = 2 per 2-second tick
    assert CampaignRecipient.objects.filter(status="pending").count() == 2


def test_recipient_time_zone(api, audience, template):
    contact_list, contacts = audience
    contacts[0].timezone = "Asia/Tokyo"
    contacts[0].save()
    at = (timezone.now() + dt.timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    campaign = create(api, template, contact_list, scheduled_at=at.isoformat(),
                      send_in_recipient_timezone=True).json()
    api.post(f"{URL}{campaign['id']}/schedule/", {}, format="json")
    campaigns.campaign_tick(now=at - dt.timedelta(hours=10))
    tokyo = CampaignRecipient.objects.get(contact=contacts[0])
    assert tokyo.send_at == at - dt.timedelta(hours=9)
    assert CampaignRecipient.objects.get(contact=contacts[1]).send_at == at


def test_never_complete_while_messages_are_pending(api, audience, template):
    contact_list, _ = audience
    campaign = create(api, template, contact_list).json()
    api.post(f"{URL}{campaign['id']}/schedule/", {}, format="json")
    campaigns.campaign_tick()
    campaigns.campaign_tick()
    assert Campaign.objects.get(pk=campaign["id"]).status == "running"


def test_completed_with_failures_says_so(api, audience, template, smtp_sink):
    contact_list, _ = audience
    campaign = create(api, template, contact_list).json()
    api.post(f"{URL}{campaign['id']}/schedule/", {}, format="json")
    campaigns.campaign_tick()
    Communication.objects.filter(campaign_id=campaign["id"]).update(status="failed", status_reason="boom")
    run_until_done()
    stats = campaigns.campaign_stats(campaign_id=campaign["id"])
    assert stats["status"] == "completed_with_failures" and stats["failed"] == 4


@pytest.mark.parametrize("patch, field", [
    ({"purpose": "transactional"}, "purpose"),
    ({"purpose": "gossip"}, "purpose"),
    ({"throttle_per_minute": 0}, "throttle_per_minute"),
    ({"include_lists": []}, "include_lists"),
    ({"include_lists": ["0190a6f0-0000-7000-8000-000000000000"]}, "include_lists"),
    ({"message_template": "0190a6f0-0000-7000-8000-000000000000"}, "message_template"),
    ({"channel": "fax"}, "channel"),
])
def test_bad_campaigns_are_400(api, audience, template, patch, field):
    contact_list, _ = audience
    response = create(api, template, contact_list, **patch)
    assert response.status_code == 400, response.content
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not Campaign.objects.exists()


def test_template_purpose_must_match(api, audience):
    contact_list, _ = audience
    newsletter = MessageTemplateFactory(purpose="newsletter")
    response = create(api, newsletter, contact_list)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "purpose_mismatch"


def test_list_detail_and_recipients_query_counts(api, audience, template, django_assert_max_num_queries):
    contact_list, _ = audience
    campaign = create(api, template, contact_list).json()
    api.post(f"{URL}{campaign['id']}/schedule/", {}, format="json")
    campaigns.campaign_tick()
    with django_assert_max_num_queries(8):
        assert api.get(f"{URL}{campaign['id']}/").status_code == 200
    with django_assert_max_num_queries(4):
        assert len(api.get(f"{URL}{campaign['id']}/recipients/").json()["results"]) == 6
