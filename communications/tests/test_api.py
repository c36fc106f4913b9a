"""History, transitions, templates, preferences and suppressions through the API."""
import datetime as dt

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from communications.models import Communication, CommunicationStatusEvent, ContactPreference, QuietHours
from communications.tests.factories import CommunicationFactory, MessageTemplateFactory
from contacts.tests.factories import ContactFactory, TemplateFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/communications/"


def fields(response):
    return {e["field"] for e in response.json().get("errors", [])}


def create(api, **body):
    return api.post(URL, body, format="json")


# --------------------------------------------------------------------------- history
def test_create_schedules_and_writes_rows_only(api, mailoutbox):
    contact = ContactFactory()
    when = timezone.now() + dt.timedelta(hours=1)
    response = create(api, contact=str(contact.pk), type="email", subject="Hi", content="Hello",
                      scheduled_at=when.isoformat())
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "scheduled" and body["contact"] == str(contact.pk)
    assert mailoutbox == []  # nothing sent during the request
    events = list(CommunicationStatusEvent.objects.filter(communication_id=body["id"]).values_list("to_status",
                                                                                                   flat=True))
    assert events == ["scheduled"]


def test_scheduling_without_time_or_slightly_past_means_now(api):
    contact = ContactFactory()
    before = timezone.now()
    body = create(api, contact=str(contact.pk), type="email", content="x").json()
    assert dt.datetime.fromisoformat(body["scheduled_at"].replace("Z", "+00:00")) >= before
    past = (timezone.now() - dt.timedelta(minutes=10)).isoformat()
    body = create(api, contact=str(contact.pk), type="email", content="x", scheduled_at=past).json()
    assert dt.datetime.fromisoformat(body["scheduled_at"].replace("Z", "+00:00")) >= before


def test_scheduling_far_in_the_past_is_400(api):
    contact = ContactFactory()
    response = create(api, contact=str(contact.pk), type="email", content="x",
                      scheduled_at=(timezone.now() - dt.timedelta(days=2)).isoformat())
    assert response.status_code == 400
    assert fields(response) == {"scheduled_at"}
    assert not Communication.objects.exists()


def test_unknown_channel_is_400(api):
    contact = ContactFactory()
    response = create(api, contact=str(contact.pk), type="pigeon", content="x")
    assert response.status_code == 400 and "type" in fields(response)


def test_sms_over_the_segment_limit_is_400(api, settings):
    settings.COMMUNICATIONS_SMS_MAX_SEGMENTS = 2
    contact = ContactFactory()
    response = create(api, contact=str(contact.pk), type="sms", content="a" * 307)  # 3 GSM-7 segments
    assert response.status_code == 400 and fields(response) == {"content"}
    assert "3 gsm7 segments" in response.json()["errors"][0]["message"]
    response = create(api, contact=str(contact.pk), type="sms", content="é" * 10 + "😀" * 70)  # UCS-2
    assert response.status_code == 400
    assert create(api, contact=str(contact.pk), type="sms", content="a" * 306).status_code == 201


def test_unknown_fields_and_missing_contact(api):
    contact = ContactFactory()
    response = create(api, contact=str(contact.pk), type="email", content="x", colour="red")
    assert response.status_code == 400 and "colour" in fields(response)
    response = create(api, contact="00000000-0000-0000-0000-000000000000", type="email", content="x")
    assert response.status_code == 400 and "contact" in fields(response)


def test_contact_without_address_is_400(api):
    contact = ContactFactory(email="", phone="")
    assert fields(create(api, contact=str(contact.pk), type="email", content="x")) == {"contact"}
    assert fields(create(api, contact=str(contact.pk), type="sms", content="x")) == {"contact"}


def test_logged_call_meeting_note_and_inbound(api):
    contact = ContactFactory()
    call = create(api, contact=str(contact.pk), type="call", content="Discussed renewal",
                  occurred_at=(timezone.now() - dt.timedelta(hours=2)).isoformat()).json()
    assert call["status"] == "sent" and call["scheduled_at"] is None
    note = create(api, contact=str(contact.pk), type="note", content="Prefers mornings").json()
    assert note["status"] == "sent"
    outbound = CommunicationFactory(contact=contact, status="sent", sent_at=timezone.now())
    inbound = create(api, contact=str(contact.pk), type="email", direction="inbound", content="Thanks!",
                     in_reply_to=str(outbound.pk))
    assert inbound.status_code == 201, inbound.json()
    assert inbound.json()["status"] == "delivered"
    outbound.refresh_from_db()
    contact.refresh_from_db()
    assert outbound.status == "replied"
    assert contact.last_engaged_at is not None and contact.engagement_score == pytest.approx(5.0, abs=0.01)
    assert contact.last_contacted_at is not None  # the logged call
    bad = create(api, contact=str(contact.pk), type="call", content="x", scheduled_at=timezone.now().isoformat())
    assert bad.status_code == 400 and "scheduled_at" in fields(bad)


def test_contact_history_newest_first_and_query_count(api, django_assert_max_num_queries):
    contact, other = ContactFactory(), ContactFactory()
    made = [CommunicationFactory(contact=contact) for _ in range(5)]
    CommunicationFactory(contact=other)
    with django_assert_max_num_queries(4):
        response = api.get(f"/api/v1/contacts/{contact.pk}/communications/")
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(c.pk) for c in reversed(made)]
    assert api.get("/api/v1/contacts/00000000-0000-0000-0000-000000000000/communications/").status_code == 404


def test_list_filters_and_query_count(api, django_assert_max_num_queries):
    contact = ContactFactory()
    campaign = "0190a0a0-0000-7000-8000-000000000001"
    email = CommunicationFactory(contact=contact, campaign_id=campaign)
    sms = CommunicationFactory(contact=contact, type="sms", status="draft", scheduled_at=None)
    sent = CommunicationFactory(type="email", status="sent", sent_at=timezone.now() - dt.timedelta(days=3))
    for _ in range(20):
        CommunicationFactory()

    def ids(**params):
        response = api.get(URL, params)
        assert response.status_code == 200, response.json()
        return {r["id"] for r in response.json()["results"]}

    with django_assert_max_num_queries(3):
        api.get(URL)
    assert ids(contact=str(contact.pk)) == {str(email.pk), str(sms.pk)}
    assert ids(contact=str(contact.pk), type="sms") == {str(sms.pk)}
    assert ids(status="draft") == {str(sms.pk)}
    assert ids(campaign=campaign) == {str(email.pk)}
    assert ids(sent_before=(timezone.now() - dt.timedelta(days=1)).isoformat()) == {str(sent.pk)}
    assert str(sms.pk) not in ids(scheduled_after=(timezone.now() - dt.timedelta(hours=1)).isoformat())
    assert ids(direction="inbound") == set()
    assert api.get(URL, {"flavour": "x"}).status_code == 400
    assert api.get(URL, {"status": "nope"}).status_code == 400
    with django_assert_max_num_queries(2):
        assert api.get(f"{URL}{email.pk}/").status_code == 200


# --------------------------------------------------------------------------- transitions
def test_cancel_and_reschedule_before_sending(api):
    comm = CommunicationFactory(scheduled_at=timezone.now() + dt.timedelta(days=1))
    later = timezone.now() + dt.timedelta(days=2)
    response = api.post(f"{URL}{comm.pk}/status/", {"status": "scheduled", "scheduled_at": later.isoformat()})
    assert response.status_code == 200, response.json()
    comm.refresh_from_db()
    assert abs((comm.scheduled_at - later).total_seconds()) < 1
    response = api.patch(f"{URL}{comm.pk}/", {"scheduled_at": (later + dt.timedelta(hours=1)).isoformat()})
    assert response.status_code == 200
    response = api.post(f"{URL}{comm.pk}/status/", {"status": "cancelled", "reason": "customer asked"})
    assert response.json()["status"] == "cancelled" and response.json()["status_reason"] == "customer asked"
    timeline = api.get(f"{URL}{comm.pk}/events/").json()["status_events"]
    assert [e["to_status"] for e in timeline] == ["scheduled", "scheduled", "cancelled"]
    assert all(e["at"] for e in timeline)


@pytest.mark.parametrize("current,target", [
    ("sent", "scheduled"), ("cancelled", "scheduled"), ("delivered", "draft"), ("scheduled", "sent"),
    ("scheduled", "sending"), ("draft", "queued"), ("bounced", "delivered"), ("replied", "opened"),
    ("sending", "cancelled"), ("sending", "scheduled"),
])
def test_disallowed_transition_is_409(api, current, target):
    comm = CommunicationFactory(status=current)
    response = api.post(f"{URL}{comm.pk}/status/", {"status": target})
    assert response.status_code == 409, response.json()
    comm.refresh_from_db()
    assert comm.status == current
    assert not CommunicationStatusEvent.objects.filter(communication=comm).exists()


def test_edit_after_sending_is_409_and_delete_rules(api):
    sent = CommunicationFactory(status="sent")
    assert api.patch(f"{URL}{sent.pk}/", {"content": "changed"}).status_code == 409
    assert api.delete(f"{URL}{sent.pk}/").status_code == 409
    draft = CommunicationFactory(status="draft", scheduled_at=None)
    assert api.delete(f"{URL}{draft.pk}/").status_code == 204
    assert api.get(f"{URL}{draft.pk}/").status_code == 404


def test_status_value_unknown_is_400(api):
    comm = CommunicationFactory()
    assert api.post(f"{URL}{comm.pk}/status/", {"status": "exploded"}).status_code == 400


# --------------------------------------------------------------------------- templates
def test_template_with_unknown_merge_field_is_400_at_save(api):
    TemplateFactory(custom_fields=[{"key": "plan", "label": "Plan", "type": "string"}])
    good = api.post("/api/v1/message-templates/", {
        "name": "Welcome", "subject": "Hi {{ contact.first_name }}",
        "text_body": "Your plan: {{ custom.plan }}", "html_body": "<p>{{ contact.first_name }}</p>"})
    assert good.status_code == 201, good.json()
    for body, field in [
        ({"subject": "Hi {{ contact.shoe_size }}", "text_body": "x"}, "subject"),
        ({"text_body": "{{ custom.unknown_key }}"}, "text_body"),
        ({"text_body": "{{ password }}"}, "text_body"),
        ({"text_body": "x", "html_body": "{% if %}"}, "html_body"),
    ]:
        response = api.post("/api/v1/message-templates/", {"name": f"bad-{field}-{len(body)}", **body})
        assert response.status_code == 400, body
        assert field in fields(response)


def test_template_sandbox_blocks_attribute_escape(api):
    response = api.post("/api/v1/message-templates/", {
        "name": "evil", "text_body": "{{ contact.__class__.__mro__ }}"})
    assert response.status_code == 400


def test_template_preview_for_a_contact(api):
    TemplateFactory(custom_fields=[{"key": "plan", "label": "Plan", "type": "string"}])
    contact = ContactFactory(first_name="Ada", last_name="Lovelace", custom_fields={"plan": "gold"})
    template = MessageTemplateFactory(subject="Hi {{ contact.first_name }}", text_body="Plan {{ custom.plan }}",
                                      html_body="<b>{{ contact.last_name }}</b>")
    response = api.post(f"/api/v1/message-templates/{template.pk}/preview/", {"contact": str(contact.pk)})
    assert response.status_code == 200, response.json()
    assert response.json()["subject"] == "Hi Ada"
    assert response.json()["text"] == "Plan gold"
    assert response.json()["html"] == "<b>Lovelace</b>"
    sms = MessageTemplateFactory(channel="sms", subject="", text_body="Hi {{ contact.first_name }}")
    body = api.post(f"/api/v1/message-templates/{sms.pk}/preview/", {"contact": str(contact.pk)}).json()
    assert body["segments"] == 1 and body["encoding"] == "gsm7"


def test_template_html_escapes_contact_data(api):
    contact = ContactFactory(first_name="<script>x</script>")
    template = MessageTemplateFactory(html_body="<p>{{ contact.first_name }}</p>")
    body = api.post(f"/api/v1/message-templates/{template.pk}/preview/", {"contact": str(contact.pk)}).json()
    assert "<script>" not in body["html"] and "&lt;script&gt;" in body["html"]


def test_template_crud_and_list_query_count(api, django_assert_max_num_queries):
    for _ in range(5):
        MessageTemplateFactory()
    with django_assert_max_num_queries(3):
        assert api.get("/api/v1/message-templates/").status_code == 200
    template = MessageTemplateFactory()
    response = api.patch(f"/api/v1/message-templates/{template.pk}/", {"subject": "New {{ contact.last_name }}"})
    assert response.status_code == 200 and response.json()["subject"] == "New {{ contact.last_name }}"
    assert api.patch(f"/api/v1/message-templates/{template.pk}/",
                     {"subject": "{{ contact.nope }}"}).status_code == 400
    CommunicationFactory(template=template, content="", subject="")
    assert api.delete(f"/api/v1/message-templates/{template.pk}/").status_code == 409


def test_communication_from_template(api):
    contact = ContactFactory()
    template = MessageTemplateFactory()
    response = create(api, contact=str(contact.pk), type="email", template=str(template.pk))
    assert response.status_code == 201, response.json()
    both = create(api, contact=str(contact.pk), type="email", template=str(template.pk), content="x")
    assert both.status_code == 400 and "template" in fields(both)
    sms_template = MessageTemplateFactory(channel="sms")
    wrong = create(api, contact=str(contact.pk), type="email", template=str(sms_template.pk))
    assert wrong.status_code == 400 and "template" in fields(wrong)


# --------------------------------------------------------------------------- preferences
def prefs_url(contact):
    return f"/api/v1/contacts/{contact.pk}/preferences/"


def test_preferences_get_put_with_proof(api, django_assert_max_num_queries):
    contact = ContactFactory(timezone="Europe/Paris")
    response = api.put(prefs_url(contact), {
        "preferences": [
            {"channel": "email", "purpose": "marketing", "status": "opted_in", "source": "signup_form",
             "wording": "Send me news and offers"},
            {"channel": "sms", "purpose": "marketing", "status": "opted_out", "source": "phone_call"},
        ],
        "quiet_hours": {"start": "21:00", "end": "08:00"},
    }, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200, response.json()
    body = response.json()
    email = next(p for p in body["preferences"] if p["channel"] == "email")
    assert email["status"] == "opted_in" and email["wording"] == "Send me news and offers"
    assert email["ip_address"] == "203.0.113.9" and email["api_client"].startswith("admin")
    assert body["quiet_hours"] == {"start": "21:00", "end": "08:00", "timezone": "Europe/Paris"}
    with django_assert_max_num_queries(5):
        assert api.get(prefs_url(contact)).json()["preferences"] == body["preferences"]
    # pairs not given keep their state; null removes quiet hours
    api.put(prefs_url(contact), {"preferences": [{"channel": "email", "purpose": "marketing",
                                                  "status": "opted_out", "source": "preference_center"}],
                                 "quiet_hours": None})
    assert ContactPreference.objects.filter(contact=contact).count() == 2
    assert not QuietHours.objects.filter(contact=contact).exists()


@pytest.mark.parametrize("quiet,field", [
    ({"start": "25:00", "end": "08:00"}, "quiet_hours.start"),
    ({"start": "21:00", "end": "8pm"}, "quiet_hours.end"),
    ({"start": "21:00", "end": "21:00"}, "quiet_hours.end"),
    ({"start": "21:00", "end": "08:00", "timezone": "Mars/Olympus"}, "quiet_hours.timezone"),
    ({"start": "21:00"}, "quiet_hours.end"),
])
def test_malformed_quiet_hours_and_bad_time_zone_are_400(api, quiet, field):
    contact = ContactFactory()
    response = api.put(prefs_url(contact), {"quiet_hours": quiet})
    assert response.status_code == 400, response.json()
    assert field in fields(response)
    assert not QuietHours.objects.exists()


def test_preferences_bad_entries_are_400(api):
    contact = ContactFactory()
    entry = {"channel": "email", "purpose": "marketing", "status": "opted_in", "source": "form"}
    assert api.put(prefs_url(contact), {"preferences": [entry, entry]}).status_code == 400
    assert api.put(prefs_url(contact), {"preferences": [{**entry, "channel": "call"}]}).status_code == 400
    assert api.put(prefs_url(contact), {"preferences": [{**entry, "status": "maybe"}]}).status_code == 400
    assert api.put(prefs_url(contact), {"preferences": [{k: v for k, v in entry.items() if k != "source"}]}
                   ).status_code == 400
    assert not ContactPreference.objects.exists()
    assert api.get("/api/v1/contacts/00000000-0000-0000-0000-000000000000/preferences/").status_code == 404


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=12))
def test_quiet_hours_never_500(api_client_for_hypothesis, text):
    api, contact = api_client_for_hypothesis
    response = api.put(prefs_url(contact), {"quiet_hours": {"start": text, "end": "08:00", "timezone": text}})
    assert response.status_code in (200, 400)


@pytest.fixture
def api_client_for_hypothesis(api):
    return api, ContactFactory()


def test_suppressions_api(api, django_assert_max_num_queries):
    response = api.post("/api/v1/suppressions/", {"channel": "email", "address": "Bounce@Example.com",
                                                   "reason": "hard_bounce"})
    assert response.status_code == 201, response.json()
    assert response.json()["address"] == "bounce@example.com"
    again = api.post("/api/v1/suppressions/", {"channel": "email", "address": "bounce@example.com"})
    assert again.status_code == 200
    contact = ContactFactory(email="bounce@example.com")
    assert api.get(prefs_url(contact)).json()["suppressions"][0]["reason"] == "hard_bounce"
    with django_assert_max_num_queries(3):
        assert len(api.get("/api/v1/suppressions/").json()["results"]) == 1
    assert api.delete(f"/api/v1/suppressions/{response.json()['id']}/").status_code == 204
    assert api.post("/api/v1/suppressions/", {"channel": "fax", "address": "x"}).status_code == 400


def test_anonymous_is_401(anon):
    assert anon.get(URL).status_code == 401
