"""The send path against real peers: an SMTP server and a Twilio-style HTTP server on localhost."""
import datetime as dt
import io
import json

import pytest
from django.utils import timezone

from communications import dispatch, services
from communications.channels import Handover, OutboundMessage, get_backend
from communications.channels.sms import ConsoleSMSBackend, sms_config_from_url, sms_segments
from communications.models import (
    Communication,
    CommunicationStatusEvent,
    ContactPreference,
    FrequencyCap,
    QuietHours,
)
from communications.tests.factories import CommunicationFactory, MessageTemplateFactory
from contacts.tests.factories import ContactFactory, TemplateFactory

pytestmark = pytest.mark.django_db


def queue(comm) -> None:
    Communication.objects.filter(pk=comm.pk).update(status="queued", queued_at=timezone.now())


def send(*comms) -> dict:
    for comm in comms:
        queue(comm)
    return dispatch.send_messages([str(c.pk) for c in comms])


def reload(comm) -> Communication:
    return Communication.objects.get(pk=comm.pk)


def test_email_arrives_over_smtp_with_headers(smtp_sink):
    TemplateFactory(custom_fields=[{"key": "plan", "label": "Plan", "type": "string"}])
    contact = ContactFactory(first_name="Ada", email="ada@example.com", custom_fields={"plan": "gold"})
    template = MessageTemplateFactory(purpose="marketing", subject="Hi {{ contact.first_name }}",
                                      text_body="Plan {{ custom.plan }}",
                                      html_body='<html><body><a href="https://example.org/a?x=1&amp;y=2">go</a>'
                                                "</body></html>")
    ContactPreference.objects.create(contact=contact, channel="email", purpose="marketing", status="opted_in",
                                     source="test")
    comm = CommunicationFactory(contact=contact, template=template, subject="", content="", purpose="marketing")
    assert send(comm) == {"sent": 1}
    assert len(smtp_sink.messages) == 1
    message = smtp_sink.messages[0]
    assert message["To"] == "ada@example.com" and message["Subject"] == "Hi Ada"
    assert message["Message-ID"] == f"<{comm.pk}@contacts.local>"
    assert message["X-Communication-ID"] == str(comm.pk)
    unsubscribe, mailto = "".join(str(message["List-Unsubscribe"]).split()).split(",")  # long headers are folded
    assert unsubscribe.startswith("<http") and "/t/u/" in unsubscribe and unsubscribe.endswith("/>")
    assert mailto.startswith("<mailto:unsubscribe+") and mailto.endswith("@bounces.contacts.localhost>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert text.strip() == "Plan gold"
    assert "/t/c/" in html and "example.org" not in html  # links go through the signed redirect
    assert "/t/o/" in html  # open pixel
    comm = reload(comm)
    assert comm.status == "sent" and comm.provider_message_id == f"<{comm.pk}@contacts.local>"
    assert comm.subject == "Hi Ada" and comm.to_address == "ada@example.com"
    assert [e.to_status for e in CommunicationStatusEvent.objects.filter(communication=comm).order_by("at", "id")] \
        == ["sending", "sent"]
    contact.refresh_from_db()
    assert contact.last_contacted_at == comm.sent_at


def test_transactional_email_has_no_unsubscribe_header(smtp_sink):
    comm = CommunicationFactory()
    send(comm)
    assert smtp_sink.messages[0]["List-Unsubscribe"] is None


def test_claimed_twice_is_sent_once(smtp_sink):
    comm = CommunicationFactory()
    queue(comm)
    assert dispatch.send_messages([str(comm.pk)]) == {"sent": 1}
    assert dispatch.send_messages([str(comm.pk)]) == {"skipped": 1}
    assert len(smtp_sink.messages) == 1


def test_opt_out_after_scheduling_cancels_at_send_time(smtp_sink):
    contact = ContactFactory()
    comm = CommunicationFactory(contact=contact, purpose="transactional")
    ContactPreference.objects.create(contact=contact, channel="email", purpose="transactional",
                                     status="opted_out", source="preference_center")
    assert send(comm) == {"cancelled": 1}
    comm = reload(comm)
    assert comm.status == "cancelled" and "opted out" in comm.status_reason
    assert smtp_sink.messages == []


def test_marketing_needs_opt_in(smtp_sink):
    comm = CommunicationFactory(purpose="marketing")
    assert send(comm) == {"cancelled": 1}
    assert "No opt-in" in reload(comm).status_reason


def test_suppressed_address_is_cancelled_even_after_erasure_of_the_address(smtp_sink):
    contact = ContactFactory(email="gone@example.com")
    services.suppression_add(channel="email", address="GONE@example.com", reason="complaint")
    services.suppression_erase_addresses(channel="email", address="gone@example.com")
    comm = CommunicationFactory(contact=contact)
    assert send(comm) == {"cancelled": 1}
    assert "complaint" in reload(comm).status_reason
    assert smtp_sink.messages == []


def test_unsubscribe_suppression_still_allows_transactional(smtp_sink):
    contact = ContactFactory(email="unsub@example.com")
    services.suppression_add(channel="email", address="unsub@example.com", reason="unsubscribe")
    ContactPreference.objects.create(contact=contact, channel="email", purpose="newsletter", status="opted_in",
                                     source="x")
    receipt = CommunicationFactory(contact=contact, purpose="transactional")
    newsletter = CommunicationFactory(contact=contact, purpose="newsletter")
    send(receipt, newsletter)
    assert reload(receipt).status == "sent" and reload(newsletter).status == "cancelled"


def test_quiet_hours_defer_to_their_end_in_the_recipients_zone(smtp_sink):
    contact = ContactFactory(timezone="Asia/Tokyo")
    ContactPreference.objects.create(contact=contact, channel="email", purpose="marketing", status="opted_in",
                                     source="x")
    now_tokyo = timezone.now().astimezone(dt.timezone(dt.timedelta(hours=9)))
    start = (now_tokyo - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now_tokyo + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    QuietHours.objects.create(contact=contact, start=start, end=end)
    comm = CommunicationFactory(contact=contact, purpose="marketing")
    receipt = CommunicationFactory(contact=contact, purpose="transactional")  # exempt
    assert send(comm, receipt) == {"deferred": 1, "sent": 1}
    comm = reload(comm)
    assert comm.status == "scheduled" and comm.attempts == 0
    expected = dt.datetime.combine(now_tokyo.date() + dt.timedelta(days=1 if end < now_tokyo.time() else 0), end,
                                   tzinfo=now_tokyo.tzinfo)
    assert abs((comm.scheduled_at - expected).total_seconds()) < 1
    assert "Quiet hours" in comm.status_reason


def test_quiet_hours_wrapping_midnight():
    from communications.policy import quiet_until

    paris_2330 = dt.datetime(2026, 1, 10, 22, 30, tzinfo=dt.UTC)  # 23:30 in Paris
    until = quiet_until(paris_2330, start=dt.time(21), end=dt.time(8), zone="Europe/Paris")
    assert until == dt.datetime(2026, 1, 11, 7, 0, tzinfo=dt.UTC)
    assert quiet_until(dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC), start=dt.time(21), end=dt.time(8),
                       zone="Europe/Paris") is None


def test_frequency_cap_per_channel_and_purpose(smtp_sink):
    FrequencyCap.objects.create(channel="email", purpose="service", max_messages=2, period_hours=24)
    contact = ContactFactory()
    comms = [CommunicationFactory(contact=contact, purpose="service") for _ in range(3)]
    other = CommunicationFactory(contact=contact, purpose="transactional")
    for comm in comms:
        send(comm)
    send(other)
    assert [reload(c).status for c in comms] == ["sent", "sent", "cancelled"]
    assert "Frequency cap" in reload(comms[2]).status_reason
    assert reload(other).status == "sent"


def test_transient_failure_retries_with_backoff_then_fails(smtp_sink, settings):
    settings.COMMUNICATIONS_MAX_ATTEMPTS = 2
    smtp_sink.handler.reply = "451 4.3.0 Try again later"
    comm = CommunicationFactory()
    assert send(comm) == {"retry": 1}
    comm = reload(comm)
    assert comm.status == "scheduled" and comm.attempts == 1 and "retrying" in comm.status_reason
    delay = (comm.scheduled_at - timezone.now()).total_seconds()
    assert 40 < delay < 80  # base 60 s with jitter
    assert send(comm) == {"failed": 1}
    comm = reload(comm)
    assert comm.status == "failed" and "Gave up after 2 attempts" in comm.status_reason


def test_permanent_failure_is_failed_at_once(smtp_sink):
    smtp_sink.handler.reply = "550 5.1.1 No such user"
    comm = CommunicationFactory()
    assert send(comm) == {"failed": 1}
    assert "550" in reload(comm).status_reason


def test_unreachable_mail_server_is_transient(settings):
    from communications.tests.conftest import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    comm = CommunicationFactory()
    assert send(comm) == {"retry": 1}


def test_stale_sending_row_with_smtp_is_failed_not_resent(smtp_sink, settings):
    """At-most-once: SMTP cannot say whether a message was handed over before the worker died."""
    comm = CommunicationFactory(status="sending")
    Communication.objects.filter(pk=comm.pk).update(
        sending_started_at=timezone.now() - dt.timedelta(seconds=settings.COMMUNICATIONS_SENDING_LEASE_SECONDS + 5))
    result = dispatch.recover_stale()
    assert result["failed"] == 1
    comm = reload(comm)
    assert comm.status == "failed" and "at-most-once" in comm.status_reason
    dispatch.dispatch_due()
    assert smtp_sink.messages == []


def test_stale_sending_row_is_checked_with_a_backend_that_can_tell(settings, tmp_path, smtp_sink,
                                                                  django_capture_on_commit_callbacks):
    path = tmp_path / "sms.jsonl"
    settings.SMS_URL = f"file://{path}"
    handed, lost = ContactFactory(), ContactFactory()
    first = CommunicationFactory(contact=handed, type="sms", status="sending")
    second = CommunicationFactory(contact=lost, type="sms", status="sending")
    path.write_text(json.dumps({"reference": str(first.pk)}) + "\n")
    Communication.objects.filter(pk__in=[first.pk, second.pk]).update(
        sending_started_at=timezone.now() - dt.timedelta(hours=1))
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from contacts_project.celery import app

    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = dispatch.recover_stale()
    finally:
        app.conf.task_always_eager = False
    assert result["confirmed"] == 1 and result["retried"] == 1
    assert reload(first).status == "sent"
    assert reload(second).status == "sent"  # re-queued and sent (eagerly) exactly once
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [entry["reference"] for entry in lines].count(str(second.pk)) == 1
    assert [entry["reference"] for entry in lines].count(str(first.pk)) == 1


def test_template_that_fails_to_render_fails_the_message(smtp_sink):
    template = MessageTemplateFactory(text_body="{{ contact.first_name.upper(1) }}")
    comm = CommunicationFactory(template=template, content="", subject="")
    assert send(comm) == {"failed": 1}


# --------------------------------------------------------------------------- SMS
def test_sms_through_twilio_style_http_provider(settings, twilio_server):
    host, port = twilio_server.server_address
    settings.SMS_URL = f"twilio+http://AC123:secret@{host}:{port}?from=%2B15550001111"
    contact = ContactFactory(phone="+14155550123")
    comm = CommunicationFactory(contact=contact, type="sms", subject="", content="Your code is 1234")
    assert send(comm) == {"sent": 1}
    request = twilio_server.handler.requests[0]
    assert request["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request["body"] == {"To": ["+14155550123"], "From": ["+15550001111"], "Body": ["Your code is 1234"]}
    assert request["auth"].startswith("Basic ")
    comm = reload(comm)
    assert comm.status == "sent" and comm.provider_message_id.startswith("SM")


@pytest.mark.parametrize("code,outcome", [(400, "failed"), (429, "retry"), (503, "retry")])
def test_sms_provider_errors(settings, twilio_server, code, outcome):
    host, port = twilio_server.server_address
    settings.SMS_URL = f"twilio+http://AC123:secret@{host}:{port}?from=%2B15550001111"
    twilio_server.handler.status_code = code
    comm = CommunicationFactory(type="sms", content="hi")
    assert send(comm) == {outcome: 1}


def test_sms_console_and_file_backends(tmp_path, settings):
    stream = io.StringIO()
    result = ConsoleSMSBackend(stream=stream).send(OutboundMessage(channel="sms", to="+1555", text="hi",
                                                                   reference="r1"))
    assert "SMS to +1555: hi" in stream.getvalue() and result.provider_message_id == "console-r1"
    settings.SMS_URL = f"file://{tmp_path}/out.jsonl"
    backend = get_backend("sms")
    assert backend.check_handover("r2") is Handover.NOT_HANDED_OVER
    backend.send(OutboundMessage(channel="sms", to="+1555", text="hi", reference="r2"))
    assert backend.check_handover("r2") is Handover.HANDED_OVER
    with pytest.raises(ValueError):
        sms_config_from_url("pager://x")


def test_sms_segments():
    assert sms_segments("a" * 160) == (1, "gsm7")
    assert sms_segments("a" * 161) == (2, "gsm7")
    assert sms_segments("{" * 80) == (1, "gsm7")  # extended characters count twice
    assert sms_segments("é" * 70) == (1, "gsm7")
    assert sms_segments("ж" * 71) == (2, "ucs2")
    assert sms_segments("") == (0, "gsm7")


def test_anymail_backend_provider_id_is_stored(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    comm = CommunicationFactory()
    assert send(comm) == {"sent": 1}
    from django.core import mail

    assert mail.outbox[-1].anymail_test_params["metadata"]["communication_id"] == str(comm.pk)
    assert reload(comm).provider_message_id == str(mail.outbox[-1].anymail_status.message_id)


def test_dispatcher_keeps_at_most_the_in_flight_cap_waiting_in_the_send_queue(
        settings, django_capture_on_commit_callbacks):
    """A backlog waits as `scheduled` (where a message that comes due later can still go ahead of it), not in
    the broker's FIFO list: each dispatch only fills the room the cap leaves in the send queue."""
    from contacts_project.metrics import broker_redis

    settings.COMMUNICATIONS_MAX_IN_FLIGHT, settings.COMMUNICATIONS_SEND_CHUNK = 10, 5
    due = [CommunicationFactory(scheduled_at=timezone.now() - dt.timedelta(seconds=i)) for i in range(30)]
    with django_capture_on_commit_callbacks(execute=True):
        first = dispatch.dispatch_due()
    assert first["claimed"] == 10 and broker_redis().llen("send") == 2  # two tasks of five ids
    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch.dispatch_due()["claimed"] == 0  # the queue is full: nothing more is queued
    broker_redis().delete("send")  # a worker took both tasks
    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch.dispatch_due()["claimed"] == 10
    statuses = [reload(c).status for c in due]
    assert statuses.count("queued") == 20 and statuses.count("scheduled") == 10


def test_a_message_that_just_came_due_goes_ahead_of_the_backlog(settings, django_capture_on_commit_callbacks):
    """Half of a dispatch's room goes to the most recently due messages, the rest to the longest waiting:
    a campaign's backlog does not hold back a message due now, and new messages do not starve the backlog."""
    settings.COMMUNICATIONS_MAX_IN_FLIGHT = 4
    now = timezone.now()
    backlog = [CommunicationFactory(scheduled_at=now - dt.timedelta(minutes=10, seconds=i)) for i in range(20)]
    just_due = CommunicationFactory(scheduled_at=now - dt.timedelta(seconds=1))
    sent: list = []
    original = dispatch._enqueue
    dispatch._enqueue = lambda ids: sent.extend(map(str, ids))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert dispatch.dispatch_due()["claimed"] == 4
    finally:
        dispatch._enqueue = original
    oldest_two = {str(c.pk) for c in backlog[-2:]}
    assert sent[0] == str(just_due.pk)  # enqueued first
    assert set(sent) == {str(just_due.pk), str(backlog[0].pk)} | oldest_two


def test_dispatcher_claims_due_rows_only_once(settings, django_capture_on_commit_callbacks):
    settings.COMMUNICATIONS_DISPATCH_BATCH = 3
    due = [CommunicationFactory(scheduled_at=timezone.now() - dt.timedelta(seconds=i)) for i in range(5)]
    future = CommunicationFactory(scheduled_at=timezone.now() + dt.timedelta(hours=1))
    draft = CommunicationFactory(status="draft")
    from contacts_project.celery import app

    sent: list = []
    original = dispatch._enqueue
    dispatch._enqueue = lambda ids: sent.extend(ids)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = dispatch.dispatch_due()
            assert dispatch.dispatch_due()["claimed"] == 0
    finally:
        dispatch._enqueue = original
    assert result["claimed"] == 5 and sorted(map(str, sent)) == sorted(str(c.pk) for c in due)
    assert reload(future).status == "scheduled" and reload(draft).status == "draft"
    assert all(reload(c).status == "queued" for c in due)
    assert app  # the real app is configured; the worker tests use it
