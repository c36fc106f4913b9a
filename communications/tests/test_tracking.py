"""Open pixel, signed click redirects, RFC 8058 one-click unsubscribe and provider webhooks."""
import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid

import pytest
from django.core import signing
from django.utils import timezone

from communications import tracking
from communications.models import Communication, ContactPreference, DeliveryEvent, Suppression
from communications.services import engagement_decay, engagement_record
from communications.tests.factories import CommunicationFactory
from contacts.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def path_of(url: str) -> str:
    return url.split("8000", 1)[1] if "8000" in url else url


def sent(**kwargs) -> Communication:
    return CommunicationFactory(status="sent", sent_at=timezone.now(), to_address="a@example.com", **kwargs)


def test_open_pixel_records_once_and_moves_status(client):
    comm = sent()
    url = path_of(tracking.open_url(comm.pk))
    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert DeliveryEvent.objects.filter(communication=comm, event_type="opened").count() == 1
    comm.refresh_from_db()
    comm.contact.refresh_from_db()
    assert comm.status == "opened"
    assert comm.contact.engagement_score == pytest.approx(1.0) and comm.contact.last_engaged_at is not None


def test_click_redirect_is_signed_and_tamper_is_404(client):
    comm = sent()
    url = path_of(tracking.click_url(comm.pk, "https://example.org/pricing?a=1"))
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == "https://example.org/pricing?a=1"
    comm.refresh_from_db()
    assert comm.status == "clicked"
    token = url.split("/t/c/")[1].rstrip("/")
    forged = signing.dumps({"c": str(comm.pk), "u": "https://evil.example/"}, salt="other", compress=True)
    for bad in (token[:-3] + "abc", forged, "garbage"):
        assert client.get(f"/t/c/{bad}/").status_code == 404
    # a token of another kind (open) does not work as a click link
    open_token = path_of(tracking.open_url(comm.pk)).split("/t/o/")[1].rstrip("/")
    assert client.get(f"/t/c/{open_token}/").status_code == 404
    assert client.get("/t/o/garbage/").status_code == 404


def test_rewrite_html_keeps_entities_and_adds_pixel():
    comm_id = uuid.uuid4()
    html = tracking.rewrite_html('<body><a class="x" href="https://e.org/?a=1&amp;b=2">x</a>'
                                 '<a href="mailto:a@b.c">m</a></body>', comm_id)
    assert "mailto:a@b.c" in html and "e.org" not in html and html.endswith("</body>")
    token = html.split("/t/c/")[1].split("/")[0]
    assert tracking.load(token, tracking.SALT_CLICK)["u"] == "https://e.org/?a=1&b=2"


def test_one_click_unsubscribe_rfc8058(client):
    comm = sent(purpose="marketing")
    url = path_of(tracking.unsubscribe_url(comm.pk))
    page = client.get(url)  # a link scanner's GET changes nothing
    assert page.status_code == 200 and b"<form" in page.content
    assert not ContactPreference.objects.exists()
    response = client.post(url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    preference = ContactPreference.objects.get(contact=comm.contact, channel="email", purpose="marketing")
    assert preference.status == "opted_out" and preference.source == "tracking:unsubscribe"
    assert "RFC 8058" in preference.wording
    assert client.post(url, "List-Unsubscribe=One-Click",
                       content_type="application/x-www-form-urlencoded").status_code == 200
    assert DeliveryEvent.objects.filter(event_type="unsubscribed").count() == 1
    assert client.post("/t/u/forged/").status_code == 404


# --------------------------------------------------------------------------- provider webhooks
SIGNING_KEY = "mailgun-signing-key"
BASIC = "hook:s3cret"


@pytest.fixture
def mailgun(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": BASIC, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}


def mailgun_payload(comm, event: str, token: str | None = None, key: str = SIGNING_KEY, **extra) -> dict:
    token = token or uuid.uuid4().hex
    timestamp = str(int(timezone.now().timestamp()))
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"signature": {"timestamp": timestamp, "token": token, "signature": signature},
            "event-data": {"event": event, "timestamp": timezone.now().timestamp(), "id": uuid.uuid4().hex,
                           "recipient": comm.to_address, "user-variables": {"communication_id": str(comm.pk)},
                           "message": {"headers": {"message-id": "abc@mailgun.example"}}, **extra}}


def post_webhook(client, payload, auth: str = BASIC):
    header = "Basic " + base64.b64encode(auth.encode()).decode()
    return client.post("/webhooks/anymail/mailgun/tracking/", json.dumps(payload), content_type="application/json",
                       HTTP_AUTHORIZATION=header)


def test_webhook_delivered_then_replayed_is_stored_once(client, mailgun):
    comm = sent()
    payload = mailgun_payload(comm, "delivered")
    assert post_webhook(client, payload).status_code == 200
    assert post_webhook(client, payload).status_code == 200  # replay
    assert DeliveryEvent.objects.filter(provider="mailgun").count() == 1
    comm.refresh_from_db()
    assert comm.status == "delivered"
    assert comm.status_events.filter(to_status="delivered").count() == 1


@pytest.mark.parametrize("problem", ["signature", "basic_auth", "no_auth"])
def test_webhook_with_bad_signature_is_401_and_stores_nothing(client, mailgun, problem):
    comm = sent()
    payload = mailgun_payload(comm, "delivered", key="wrong-key" if problem == "signature" else SIGNING_KEY)
    if problem == "no_auth":
        response = client.post("/webhooks/anymail/mailgun/tracking/", json.dumps(payload),
                               content_type="application/json")
    else:
        response = post_webhook(client, payload, auth="hook:wrong" if problem == "basic_auth" else BASIC)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert not DeliveryEvent.objects.exists()
    comm.refresh_from_db()
    assert comm.status == "sent"


def test_webhook_refused_without_configured_secret(client, settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    comm = sent()
    assert post_webhook(client, mailgun_payload(comm, "delivered")).status_code == 401
    assert client.post("/webhooks/anymail/nope/tracking/").status_code == 404


def test_webhook_hard_bounce_suppresses_and_complaint_opts_out(client, mailgun):
    bounced = sent()
    response = post_webhook(client, mailgun_payload(bounced, "failed", severity="permanent",
                                                    **{"delivery-status": {"description": "No such user"}}))
    assert response.status_code == 200
    bounced.refresh_from_db()
    assert bounced.status == "bounced"
    assert Suppression.objects.get(address="a@example.com").reason == "hard_bounce"
    soft = sent(contact=ContactFactory())
    Communication.objects.filter(pk=soft.pk).update(to_address="soft@example.com")
    soft.refresh_from_db()
    post_webhook(client, mailgun_payload(soft, "failed", severity="temporary"))
    soft.refresh_from_db()
    assert soft.status == "sent" and not Suppression.objects.filter(address="soft@example.com").exists()
    complained = sent(contact=ContactFactory(), purpose="newsletter")
    Communication.objects.filter(pk=complained.pk).update(to_address="angry@example.com")
    complained.refresh_from_db()
    post_webhook(client, mailgun_payload(complained, "complained"))
    assert Suppression.objects.get(address="angry@example.com").reason == "complaint"
    assert ContactPreference.objects.get(contact=complained.contact).status == "opted_out"


def test_out_of_order_events_never_move_status_backwards(client, mailgun):
    comm = sent()
    post_webhook(client, mailgun_payload(comm, "clicked", url="https://example.org"))
    post_webhook(client, mailgun_payload(comm, "delivered"))
    post_webhook(client, mailgun_payload(comm, "opened"))
    comm.refresh_from_db()
    assert comm.status == "clicked"
    assert DeliveryEvent.objects.filter(communication=comm).count() == 3


def test_engagement_score_decays_with_half_life(settings):
    settings.COMMUNICATIONS_ENGAGEMENT_HALF_LIFE_DAYS = 30
    contact = ContactFactory()
    start = timezone.now() - dt.timedelta(days=60)
    engagement_record(contact_id=contact.pk, kind="clicked", at=start)  # 3
    engagement_record(contact_id=contact.pk, kind="opened", at=start + dt.timedelta(days=30))  # 3/2 + 1
    contact.refresh_from_db()
    assert contact.engagement_score == pytest.approx(2.5)
    assert engagement_decay(contact.engagement_score, contact.last_engaged_at,
                            contact.last_engaged_at + dt.timedelta(days=30)) == pytest.approx(1.25)
    # an older event arriving late adds its weight already decayed, and last_engaged_at stays
    engagement_record(contact_id=contact.pk, kind="replied", at=start)
    contact.refresh_from_db()
    assert contact.engagement_score == pytest.approx(2.5 + 5 / 2)
    assert contact.last_engaged_at == start + dt.timedelta(days=30)
