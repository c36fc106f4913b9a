import datetime as dt

import pytest
from django.utils import timezone

from contacts.tests.factories import ContactFactory
from contacts_project import events
from planning.models import Task
from planning.tasks import reschedule_recurring_followups, send_task_reminders

pytestmark = pytest.mark.django_db
URL = "/api/v1/tasks/"


def new_task(api, contact, **extra):
    body = {"contact": str(contact.pk), "title": "Follow up", "due_at": "2030-01-01T09:00:00Z", **extra}
    response = api.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_create_defaults_assignee_to_caller_and_validates(api):
    contact = ContactFactory()
    task = new_task(api, contact, kind="call")
    assert task["assignee"] == api.user.pk and task["status"] == "open"
    bad = api.post(URL, {"contact": str(contact.pk), "title": "x", "due_at": "2030-01-01T09:00:00Z",
                         "kind": "telepathy"}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "kind"
    missing = api.post(URL, {"title": "x"}, format="json")
    assert {e["field"] for e in missing.json()["errors"]} >= {"contact", "due_at"}


def test_mine_due_today_and_overdue_filters(api, django_user_model, django_assert_max_num_queries):
    contact = ContactFactory()
    now = timezone.now()
    today = new_task(api, contact, due_at=now.replace(hour=23, minute=59).isoformat())
    overdue = new_task(api, contact, due_at=(now - dt.timedelta(days=2)).isoformat())
    other = django_user_model.objects.create_user("bob", password="pw-bob-123456")
    new_task(api, contact, assignee=other.pk)
    with django_assert_max_num_queries(4):
        mine = api.get(f"{URL}?mine=true").json()["results"]
    assert len(mine) == 2
    assert [t["id"] for t in api.get(f"{URL}?due=today").json()["results"]] == [today["id"]]
    assert [t["id"] for t in api.get(f"{URL}?due=overdue").json()["results"]] == [overdue["id"]]
    assert api.get(f"{URL}?due=someday").status_code == 400


def test_complete_records_outcome_and_recurs(api):
    contact = ContactFactory()
    task = new_task(api, contact, kind="call", repeat_every_days=90)
    done = api.post(f"{URL}{task['id']}/complete/", {"outcome": "Signed"}, format="json").json()
    assert done["status"] == "done" and done["outcome"] == "Signed"
    contact.refresh_from_db()
    assert contact.last_contacted_at is not None
    follow_up = Task.objects.get(status="open")
    assert (follow_up.due_at - contact.last_contacted_at).days == 90
    assert api.post(f"{URL}{task['id']}/complete/", {}, format="json").status_code == 409
    assert api.patch(f"{URL}{task['id']}/", {"title": "x"}, format="json").status_code == 409


def test_recurring_task_moves_when_the_contact_is_reached_otherwise(api):
    contact = ContactFactory()
    task = new_task(api, contact, repeat_every_days=30, due_at=timezone.now().isoformat())
    contact.last_contacted_at = timezone.now() + dt.timedelta(days=1)
    contact.save()
    assert reschedule_recurring_followups() == 1
    assert Task.objects.get(pk=task["id"]).due_at > timezone.now() + dt.timedelta(days=30)


def test_due_reminders_are_claimed_once(api, django_capture_on_commit_callbacks):
    contact = ContactFactory()
    new_task(api, contact, due_at=(timezone.now() - dt.timedelta(minutes=1)).isoformat())
    new_task(api, contact, due_at=(timezone.now() + dt.timedelta(days=1)).isoformat())
    seen = []

    def listener(event, payload):
        if event.startswith("task."):
            seen.append((event, payload["task_id"]))

    events.subscribe(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):  # announced after the claim commits
            assert send_task_reminders() == 1
            assert send_task_reminders() == 0
    finally:
        events.SUBSCRIBERS.remove(listener)
    assert len(seen) == 1 and seen[0][0] == "task.due"
