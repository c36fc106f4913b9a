"""Webhooks: subscriptions and their bad input, Standard Webhooks signatures checked by an independent
implementation (the `standardwebhooks` package), delivery by a real Celery worker to a real HTTP server,
retries with exponential backoff, the delivery log, replay, and disabling a subscription that keeps failing."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from collaboration import services
from collaboration.models import Notification, WebhookDelivery, WebhookSubscription
from tests.problem import assert_problem


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server = self.server
        with server.lock:
            server.received.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
            code = server.codes.pop(0) if server.codes else server.default_code
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True  # the receiver listens on localhost
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.received, server.codes, server.default_code, server.lock = [], [], 200, threading.Lock()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    yield server
    server.shutdown()
    server.server_close()


def verify(secret: str, request: dict) -> dict:
    """The independent check: the reference implementation of the Standard Webhooks spec."""
    return Webhook(secret).verify(request["body"], request["headers"])


def subscribe(api, url, events=("contact.created",), **extra):
    response = api.post("/api/v1/webhooks/", {"url": url, "event_types": list(events), **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("url, allow_private, reason", [
    ("ftp://example.com/hook", True, "http"),
    ("javascript:alert(1)", True, "http"),
    ("http:///nohost", True, "host"),
    ("http://127.0.0.1:8000/api/v1/contacts/", True, "this server"),  # PUBLIC_BASE_URL
    ("http://127.0.0.1:9999/hook", False, "private"),
    ("http://10.1.2.3/hook", False, "private"),
    ("http://192.168.0.10/hook", False, "private"),
    ("http://[::1]/hook", False, "private"),
    ("http://169.254.169.254/latest/meta-data", False, "private"),
    ("http://localhost/hook", False, "private"),
])
def test_forbidden_urls_are_400(api, settings, url, allow_private, reason):
    settings.WEBHOOKS_ALLOW_PRIVATE = allow_private
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    body = assert_problem(api.post("/api/v1/webhooks/", {"url": url, "event_types": ["contact.created"]},
                                   format="json"), 400, "url", "forbidden_url")
    assert reason in body["errors"][0]["message"].lower()
    assert not WebhookSubscription.objects.exists()


@pytest.mark.django_db
def test_other_bad_input_and_who_may_subscribe(api, make_user, client_for, receiver):
    assert_problem(api.post("/api/v1/webhooks/", {"url": receiver.url, "event_types": ["contact.eaten"]},
                            format="json"), 400, "event_types", "invalid_choice")
    assert_problem(api.post("/api/v1/webhooks/", {"url": receiver.url, "event_types": []}, format="json"),
                   400, "event_types")
    assert_problem(api.post("/api/v1/webhooks/", {"url": receiver.url, "event_types": ["contact.created"],
                                                  "filters": {"status": {"a": 1}}}, format="json"), 400, "filters")
    member = client_for(make_user("max", "member"))
    assert_problem(member.post("/api/v1/webhooks/", {"url": receiver.url, "event_types": ["contact.created"]},
                               format="json"), 403)
    created = subscribe(api, receiver.url)
    assert created["secret"].startswith("whsec_")
    assert_problem(member.get(f"/api/v1/webhooks/{created['id']}/"), 404)
    assert api.get("/api/v1/webhooks/events/").json()["events"][0]["type"] == "contact.created"


@pytest.mark.django_db(transaction=True)
def test_contact_events_reach_a_real_server_through_a_real_worker_signed(api, receiver):
    from celery.contrib.testing.worker import start_worker

    from contacts_project.celery import app

    hook = subscribe(api, receiver.url, events=["contact.created", "contact.updated", "contact.deleted"])
    # explicit queues: a worker started earlier in the session with queues=[...] narrows the app's queue set
    with start_worker(app, queues=["default", "send", "bulk"], perform_ping_check=False, pool="solo",
                      shutdown_timeout=30):
        contact = api.post("/api/v1/contacts/", {"first_name": "Ada", "email": "ada@example.com"}, format="json")
        assert contact.status_code == 201
        contact_id = contact.json()["id"]
        api.patch(f"/api/v1/contacts/{contact_id}/", {"job_title": "CTO"}, format="json")
        api.delete(f"/api/v1/contacts/{contact_id}/")
        deadline = time.monotonic() + 30
        while len(receiver.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert len(receiver.received) == 3, receiver.received
    payloads = [verify(hook["secret"], request) for request in receiver.received]
    assert sorted(p["type"] for p in payloads) == ["contact.created", "contact.deleted", "contact.updated"]
    updated = next(p for p in payloads if p["type"] == "contact.updated")
    assert updated["data"]["id"] == contact_id and updated["data"]["changed"] == ["job_title"]
    headers = receiver.received[0]["headers"]
    assert headers["webhook-signature"].startswith("v1,") and headers["webhook-timestamp"].isdigit()
    assert WebhookDelivery.objects.get(pk=headers["webhook-id"]).status == "succeeded"

    log = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries/").json()["results"]
    assert {d["status"] for d in log} == {"succeeded"} and {d["response_code"] for d in log} == {200}
    detail = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries/{log[0]['id']}/").json()
    assert detail["attempt_log"][0]["response_code"] == 200 and detail["payload"]["type"]


@pytest.mark.django_db
def test_a_tampered_body_or_a_wrong_secret_fails_verification(api, receiver):
    hook = subscribe(api, receiver.url)
    with pytest.raises(WebhookVerificationError):
        verify(hook["secret"], {"body": b'{"type": "x"}', "headers": {
            "webhook-id": "m1", "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1,AAAA"}})
    services.webhook_deliveries_create(event="contact.created", data={"id": "c1", "status": "new"})
    delivery = WebhookDelivery.objects.get()
    assert services.webhook_attempt(delivery_id=delivery.pk) == "succeeded"
    request = receiver.received[0]
    assert verify(hook["secret"], request)["data"] == {"id": "c1", "status": "new"}
    with pytest.raises(WebhookVerificationError):
        verify(hook["secret"], {**request, "body": request["body"].replace(b"c1", b"c2")})
    rotated = api.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret/").json()["secret"]
    with pytest.raises(WebhookVerificationError):
        verify(rotated, request)


@pytest.mark.django_db
def test_filters_choose_which_events_are_delivered(api, receiver):
    subscribe(api, receiver.url, events=["contact.created"], filters={"status": ["active"]})
    services.webhook_deliveries_create(event="contact.created", data={"id": "1", "status": "new"})
    services.webhook_deliveries_create(event="contact.created", data={"id": "2", "status": "active"})
    services.webhook_deliveries_create(event="contact.updated", data={"id": "3", "status": "active"})
    assert [d.payload["data"]["id"] for d in WebhookDelivery.objects.all()] == ["2"]


@pytest.mark.django_db
def test_retries_back_off_exponentially_then_fail_disable_and_notify(api, admin_user, receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 2
    assert [services.backoff_seconds(n) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    receiver.default_code = 500
    hook = subscribe(api, receiver.url)

    def exhaust(event_id):
        services.webhook_deliveries_create(event="contact.created", data={"id": event_id})
        delivery = WebhookDelivery.objects.get(payload__data__id=event_id)
        waits = []
        for _ in range(settings.WEBHOOK_MAX_ATTEMPTS):
            delivery.refresh_from_db()
            before = delivery.next_attempt_at
            WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=before.replace(year=2000))
            status = services.webhook_attempt(delivery_id=delivery.pk)
            delivery.refresh_from_db()
            if status == "retrying":
                waits.append(round((delivery.next_attempt_at - delivery.attempt_log.last().at).total_seconds()))
        assert status == "failed" and delivery.attempts == 3 and delivery.response_code == 500
        return delivery, waits

    delivery, waits = exhaust("a")
    assert waits == [10, 20]
    assert WebhookSubscription.objects.get().consecutive_failures == 1 and WebhookSubscription.objects.get().is_active
    exhaust("b")
    subscription = WebhookSubscription.objects.get()
    assert not subscription.is_active and subscription.disabled_reason
    assert Notification.objects.get(user=admin_user, kind="webhook.disabled").data["webhook"] == hook["id"]
    # disabled: new events create no deliveries, replays are refused until it is enabled again
    assert services.webhook_deliveries_create(event="contact.created", data={"id": "c"}) == []
    assert_problem(api.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery.pk}/replay/"), 409)

    receiver.default_code = 204
    assert api.patch(f"/api/v1/webhooks/{hook['id']}/", {"is_active": True}, format="json").json()[
        "consecutive_failures"] == 0
    replay = api.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery.pk}/replay/")
    assert replay.status_code == 202
    assert services.webhook_attempt(delivery_id=delivery.pk) == "succeeded"
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.response_code == 204
    assert receiver.received[-1]["headers"]["webhook-id"] == str(delivery.pk)  # same id as the first attempts
    codes = [a["response_code"] for a in api.get(
        f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery.pk}/").json()["attempt_log"]]
    assert codes == [500, 500, 500, 204]


@pytest.mark.django_db
def test_not_due_retry_is_not_attempted_and_sweep_requeues(api, receiver, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 3600
    receiver.codes = [503]
    subscribe(api, receiver.url)
    services.webhook_deliveries_create(event="contact.created", data={"id": "x"})
    delivery = WebhookDelivery.objects.get()
    assert services.webhook_attempt(delivery_id=delivery.pk) == "retrying"
    assert services.webhook_attempt(delivery_id=delivery.pk) is None  # not due for an hour
    assert len(receiver.received) == 1
    assert json.loads(receiver.received[0]["body"])["type"] == "contact.created"
    assert services.webhook_sweep() == 0  # its retry is an hour away
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at.replace(year=2000))
    assert services.webhook_sweep() == 1  # a lost countdown task: the sweep enqueues it again
