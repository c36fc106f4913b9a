"""SMS coming back over real HTTP (the live server): Twilio-style status callbacks and inbound messages,
signed with the auth token; STOP/START keywords with their confirmation replies."""
from __future__ import annotations

import json

import pytest
import requests
from django.utils import timezone

from communications.inbound.models import InboundMessage
from communications.inbound.sms import signature
from communications.models import Communication, ContactPreference, DeliveryEvent, Suppression
from communications.tests.factories import CommunicationFactory
from contacts.tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]
TOKEN = "twilio-auth-token-for-tests"
OUR_NUMBER = "+15550001111"


@pytest.fixture
def sms(live_server, settings, tmp_path, celery_eager):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.INBOUND_SMS_AUTH_TOKEN = TOKEN
    spool = tmp_path / "sms.jsonl"
    settings.SMS_URL = f"file://{spool}"

    class Client:
        sent = spool

        @staticmethod
        def post(path: str, data: dict, *, token: str = TOKEN, signed: bool = True) -> requests.Response:
            url = live_server.url + path
            headers = {"X-Twilio-Signature": signature(token, url, {k: [v] for k, v in data.items()})} \
                if signed else {}
            return requests.post(url, data=data, headers=headers, timeout=10)

        @staticmethod
        def replies() -> list[dict]:
            return [json.loads(line) for line in spool.read_text().splitlines()] if spool.exists() else []

    return Client


def test_status_callbacks_move_messages_to_delivered_or_failed_once(sms):
    contact = ContactFactory(phone="+14155550101")
    ok = CommunicationFactory(contact=contact, type="sms", status="sent", provider_message_id="SM" + "1" * 32)
    bad = CommunicationFactory(contact=contact, type="sms", status="sent", provider_message_id="SM" + "2" * 32)
    delivered = {"MessageSid": ok.provider_message_id, "MessageStatus": "delivered", "To": contact.phone}
    assert sms.post("/webhooks/sms/status/", delivered).status_code == 204
    assert sms.post("/webhooks/sms/status/", delivered).status_code == 204  # the provider retrying
    failed = {"MessageSid": bad.provider_message_id, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert sms.post("/webhooks/sms/status/", failed).status_code == 204
    assert Communication.objects.get(pk=ok.pk).status == "delivered"
    failed_comm = Communication.objects.get(pk=bad.pk)
    assert failed_comm.status == "failed" and "30003" in failed_comm.status_reason
    assert DeliveryEvent.objects.filter(communication=ok).count() == 1


def test_unsigned_or_forged_callbacks_are_refused_and_store_nothing(sms, settings):
    comm = CommunicationFactory(type="sms", status="sent", provider_message_id="SM" + "3" * 32)
    data = {"MessageSid": comm.provider_message_id, "MessageStatus": "delivered"}
    assert sms.post("/webhooks/sms/status/", data, signed=False).status_code == 403
    forged = sms.post("/webhooks/sms/status/", data, token="someone-elses-token")
    assert forged.status_code == 403 and forged.headers["Content-Type"] == "application/problem+json"
    assert sms.post("/webhooks/sms/inbound/", {"MessageSid": "SMx", "From": "+14155550102", "Body": "STOP"},
                    token="wrong").status_code == 403
    missing = sms.post("/webhooks/sms/status/", {"MessageStatus": "delivered"})
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "MessageSid"
    assert not DeliveryEvent.objects.exists() and not InboundMessage.objects.exists()
    assert Communication.objects.get(pk=comm.pk).status == "sent"
    settings.INBOUND_SMS_AUTH_TOKEN, settings.SMS_URL = "", "console://"
    assert sms.post("/webhooks/sms/status/", data).status_code == 403  # no token configured: disabled


def inbound(sms, sid: str, number: str, body: str) -> requests.Response:
    return sms.post("/webhooks/sms/inbound/", {"MessageSid": sid, "From": number, "To": OUR_NUMBER, "Body": body,
                                              "AccountSid": "AC" + "0" * 32})


def test_stop_opts_out_of_sms_with_one_confirmation_and_start_opts_back_in(sms):
    contact = ContactFactory(phone="+14155550103")
    ContactPreference.objects.create(contact=contact, channel="sms", purpose="marketing", status="opted_in",
                                     source="signup_form")
    ContactPreference.objects.create(contact=contact, channel="email", purpose="marketing", status="opted_in",
                                     source="signup_form")
    response = inbound(sms, "SM" + "a" * 32, "+1 (415) 555-0103", " Stop. ")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/xml")
    assert inbound(sms, "SM" + "a" * 32, "+1 (415) 555-0103", " Stop. ").status_code == 200  # retried
    row = InboundMessage.objects.get()
    assert (row.kind, row.contact_id, row.state) == ("sms_stop", contact.pk, "processed")
    assert Suppression.objects.get(channel="sms").reason == "unsubscribe"
    sms_prefs = dict(ContactPreference.objects.filter(contact=contact, channel="sms").values_list("purpose", "status"))
    assert set(sms_prefs.values()) == {"opted_out"} and len(sms_prefs) == 4
    assert ContactPreference.objects.get(contact=contact, channel="email").status == "opted_in"
    replies = sms.replies()
    assert len(replies) == 1 and replies[0]["to"] == "+1 (415) 555-0103" and replies[0]["from"] == OUR_NUMBER
    assert "unsubscribed" in replies[0]["text"]

    inbound(sms, "SM" + "b" * 32, "+14155550103", "UNSTOP")
    assert not Suppression.objects.filter(channel="sms").exists()
    assert set(ContactPreference.objects.filter(contact=contact, channel="sms")
               .values_list("status", flat=True)) == {"opted_in"}
    assert len(sms.replies()) == 2 and "subscribed again" in sms.replies()[1]["text"]


def test_an_ordinary_sms_is_logged_on_the_contact_found_by_phone(sms):
    contact = ContactFactory(phone="+14155550104")
    ours = CommunicationFactory(contact=contact, type="sms", status="sent", sent_at=timezone.now(),
                                provider_message_id="SM" + "4" * 32)
    inbound(sms, "SM" + "c" * 32, "+14155550104", "What time tomorrow?")
    row = InboundMessage.objects.get()
    assert row.kind == "sms_message" and row.logged_as.contact_id == contact.pk
    logged = row.logged_as
    assert (logged.type, logged.direction, logged.content, logged.in_reply_to_id) == \
        ("sms", "inbound", "What time tomorrow?", ours.pk)
    assert Communication.objects.get(pk=ours.pk).status == "replied"
    assert sms.replies() == []  # no keyword, no automatic answer


def test_an_sms_from_an_unknown_number_is_unmatched(sms):
    inbound(sms, "SM" + "d" * 32, "+14155559999", "hello?")
    assert InboundMessage.objects.get().kind == "unmatched"
