"""In-app notifications: triggers, unread count, mark read, preferences, and the email digest."""
import datetime as dt

import pytest
from django.utils import timezone

from collaboration import tasks
from collaboration.models import Notification, NotificationPreference
from communications.tests.conftest import smtp_sink  # noqa: F401 - a real SMTP server for the digest
from contacts.tests.factories import ContactFactory
from contacts_project import events
from planning import campaigns
from planning import tasks as planning_tasks
from planning.models import Campaign, Task
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db


def test_assignment_and_due_tasks_notify_the_assignee(api, make_user, client_for,
                                                      django_capture_on_commit_callbacks):
    ann = make_user("ann")
    contact = ContactFactory(owner=ann)  # Ann may see it (tasks about contacts one cannot see are refused)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/tasks/", {"contact": str(contact.pk), "title": "Call", "assignee": ann.pk,
                                               "due_at": (timezone.now() - dt.timedelta(minutes=1)).isoformat()},
                            format="json")
    assert response.status_code == 201, response.content
    assert Notification.objects.get(user=ann).kind == "task.assigned"
    with django_capture_on_commit_callbacks(execute=True):  # events are announced after the claim commits
        planning_tasks.send_task_reminders()
    assert set(Notification.objects.filter(user=ann).values_list("kind", flat=True)) == {"task.assigned", "task.due"}

    # assigning a task to yourself is no news
    client = client_for(ann)
    with django_capture_on_commit_callbacks(execute=True):
        mine = client.post("/api/v1/tasks/", {"contact": str(contact.pk), "title": "Mine",
                                              "due_at": (timezone.now() + dt.timedelta(days=1)).isoformat()},
                           format="json")
    assert mine.status_code == 201, mine.content
    assert Task.objects.filter(assignee=ann).count() == 2
    assert Notification.objects.filter(user=ann, kind="task.assigned").count() == 1


def test_import_and_campaign_outcomes_notify_their_people(admin_user, campaign,
                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        events.emit("import.finished", {"id": "job-1", "actor": admin_user.pk, "status": "done",
                                        "filename": "leads.csv", "created": 3, "failed": 1})
    notification = Notification.objects.get(kind="import.finished")
    assert "leads.csv" in notification.title and "created: 3" in notification.body

    Campaign.objects.filter(pk=campaign.pk).update(status="running")
    with django_capture_on_commit_callbacks(execute=True):
        campaigns.campaign_tick()
    assert Campaign.objects.get(pk=campaign.pk).status == "completed"
    assert Notification.objects.get(kind="campaign.finished").user == admin_user


def test_list_unread_count_and_mark_read(api, admin_user, django_assert_max_num_queries):
    from collaboration.services import notify

    for i in range(3):
        notify(user_ids=[admin_user.pk], kind="mention", title=f"n{i}")
    assert api.get("/api/v1/notifications/unread-count/").json() == {"unread": 3}
    with django_assert_max_num_queries(3):
        listed = api.get("/api/v1/notifications/").json()["results"]
    assert [n["title"] for n in listed] == ["n2", "n1", "n0"]
    read = api.post(f"/api/v1/notifications/{listed[0]['id']}/read/")
    assert read.status_code == 200 and read.json()["read_at"]
    assert api.get("/api/v1/notifications/unread-count/").json() == {"unread": 2}
    assert len(api.get("/api/v1/notifications/?unread=true").json()["results"]) == 2
    assert api.post("/api/v1/notifications/read-all/").json() == {"marked": 2}
    assert api.get("/api/v1/notifications/unread-count/").json() == {"unread": 0}
    assert_problem(api.get("/api/v1/notifications/?unread=maybe"), 400, "unread")


def test_notifications_are_private(make_user, client_for):
    from collaboration.services import notify

    ann, bob = make_user("ann"), make_user("bob")
    notify(user_ids=[ann.pk], kind="mention", title="for ann")
    note_id = Notification.objects.get().pk
    bobs = client_for(bob)
    assert bobs.get("/api/v1/notifications/").json()["results"] == []
    assert_problem(bobs.post(f"/api/v1/notifications/{note_id}/read/"), 404)


def test_muted_kinds_create_nothing(api, admin_user):
    from collaboration.services import notify

    response = api.put("/api/v1/notifications/preferences/", {"muted_kinds": ["mention"]}, format="json")
    assert response.json() == {"muted_kinds": ["mention"], "email_digest": False}
    assert notify(user_ids=[admin_user.pk], kind="mention", title="x") == 0
    assert notify(user_ids=[admin_user.pk], kind="task.due", title="y") == 1
    assert_problem(api.put("/api/v1/notifications/preferences/", {"muted_kinds": ["gossip"]}, format="json"),
                   400, "muted_kinds")
    assert_problem(api.put("/api/v1/notifications/preferences/", {"sms": True}, format="json"), 400, "sms")


def test_daily_digest_goes_through_the_email_channel_once(api, admin_user, smtp_sink):  # noqa: F811
    from collaboration.services import notify

    assert api.put("/api/v1/notifications/preferences/", {"email_digest": True}, format="json").status_code == 200
    notify(user_ids=[admin_user.pk], kind="mention", title="Someone mentioned you")
    assert tasks.send_digests() == 1
    assert tasks.send_digests() == 0  # claimed: not again within the day
    message = smtp_sink.messages[0]
    assert message["To"] == "admin@example.com" and "Someone mentioned you" in message.get_body().get_content()
    assert NotificationPreference.objects.get(user=admin_user).last_digest_at is not None


def test_a_reply_notifies_the_message_owner_and_is_a_webhook_event(make_user, django_capture_on_commit_callbacks):
    from collaboration.choices import WebhookEvent

    owner = make_user("olga")
    with django_capture_on_commit_callbacks(execute=True):
        events.emit("communication.replied", {"id": "c-1", "reply": "c-2", "contact": "p-1", "owner": owner.pk,
                                              "campaign": None, "subject": "Re: spring offer"})
    notification = Notification.objects.get(user=owner)
    assert notification.kind == "communication.replied" and "Re: spring offer" in notification.title
    assert notification.data["reply"] == "c-2"
    assert "communication.replied" in WebhookEvent.values
