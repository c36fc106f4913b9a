"""Notes and threaded comments on contacts, organizations and campaigns; @mentions; edit history; the feed."""
import datetime as dt

import pytest
from django.utils import timezone

from collaboration.models import Note, Notification
from communications.models import Communication
from contacts.models import ContactShare
from contacts.tests.factories import ContactFactory, OrganizationFactory
from planning.models import Task
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db


def test_note_with_mentions_notifies_and_replies_thread(api, make_user):
    contact = ContactFactory()
    ann = make_user("ann")
    response = api.post("/api/v1/notes/", {"contact": str(contact.pk), "body": "Call back, @ann please"},
                        format="json")
    assert response.status_code == 201, response.content
    note = response.json()
    assert note["mentions"] == [ann.pk] and note["author_username"] == "admin"
    notification = Notification.objects.get(user=ann)
    assert notification.kind == "mention" and notification.data["note"] == note["id"]

    reply = api.post("/api/v1/notes/", {"parent": note["id"], "body": "Done."}, format="json").json()
    assert reply["parent"] == note["id"] and reply["contact"] == str(contact.pk)  # the parent's target
    listed = api.get(f"/api/v1/notes/?contact={contact.pk}").json()["results"]
    assert [n["id"] for n in listed] == [note["id"], reply["id"]]
    assert listed[0]["reply_count"] == 1
    assert [n["id"] for n in api.get(f"/api/v1/notes/?parent={note['id']}").json()["results"]] == [reply["id"]]


def test_notes_on_organizations_and_campaigns(api, campaign):
    org = OrganizationFactory()
    assert api.post("/api/v1/notes/", {"organization": str(org.pk), "body": "Key account"},
                    format="json").status_code == 201
    assert api.post("/api/v1/notes/", {"campaign": str(campaign.pk), "body": "Subject line A/B"},
                    format="json").status_code == 201
    assert len(api.get(f"/api/v1/notes/?organization={org.pk}").json()["results"]) == 1
    assert len(api.get(f"/api/v1/notes/?campaign={campaign.pk}").json()["results"]) == 1


def test_mentioning_an_unknown_user_is_400_and_writes_nothing(api):
    contact = ContactFactory()
    body = assert_problem(api.post("/api/v1/notes/", {"contact": str(contact.pk), "body": "hi @nobody and @ghost"},
                                   format="json"), 400, "body", "unknown_mention")
    assert "@nobody" in body["errors"][0]["message"] and "@ghost" in body["errors"][0]["message"]
    assert not Note.objects.exists()


def test_bad_targets_are_400(api):
    contact = ContactFactory()
    assert_problem(api.post("/api/v1/notes/", {"body": "x"}, format="json"), 400, "contact", "required")
    assert_problem(api.post("/api/v1/notes/", {"body": "x", "contact": str(contact.pk),
                                               "organization": str(OrganizationFactory().pk)}, format="json"),
                   400, "contact")
    assert_problem(api.post("/api/v1/notes/", {"body": "x", "contact": "nope"}, format="json"), 400, "contact")
    assert_problem(api.post("/api/v1/notes/", {"body": "  ", "contact": str(contact.pk)}, format="json"),
                   400, "body")
    assert_problem(api.post("/api/v1/notes/", {"body": "x", "contact": str(contact.pk), "color": "red"},
                            format="json"), 400, "color")
    assert_problem(api.get("/api/v1/notes/"), 400, "contact")


def test_edit_history_keeps_every_version_and_only_author_or_admin_edits(api, make_user, client_for):
    author = make_user("ann")
    contact = ContactFactory(owner=author)  # visible to its owner
    client = client_for(author)
    note = client.post("/api/v1/notes/", {"contact": str(contact.pk), "body": "first"}, format="json").json()
    edited = client.patch(f"/api/v1/notes/{note['id']}/", {"body": "second @admin"}, format="json")
    assert edited.status_code == 200 and edited.json()["edited_at"] and edited.json()["body"] == "second @admin"
    history = client.get(f"/api/v1/notes/{note['id']}/history/").json()
    assert [(h["event"], h["body"]) for h in history] == [("update", "second @admin"), ("insert", "first")]
    assert history[0]["editor"]["username"] == "ann"
    assert Notification.objects.filter(user__username="admin", kind="mention").count() == 1

    bob = make_user("bob")
    ContactShare.objects.create(contact=contact, user=bob, can_edit=True)  # sees the note, did not write it
    other = client_for(bob)
    assert_problem(other.patch(f"/api/v1/notes/{note['id']}/", {"body": "hijack"}, format="json"), 403)
    assert_problem(other.delete(f"/api/v1/notes/{note['id']}/"), 403)
    assert api.delete(f"/api/v1/notes/{note['id']}/").status_code == 204


def test_note_list_and_detail_query_counts(api, make_user, django_assert_max_num_queries):
    contact = ContactFactory()
    make_user("ann")
    for i in range(5):
        api.post("/api/v1/notes/", {"contact": str(contact.pk), "body": f"n{i} @ann"}, format="json")
    with django_assert_max_num_queries(4):
        assert len(api.get(f"/api/v1/notes/?contact={contact.pk}").json()["results"]) == 5
    note_id = Note.objects.first().pk
    with django_assert_max_num_queries(4):
        assert api.get(f"/api/v1/notes/{note_id}/").status_code == 200


def test_activity_feed_merges_sources_in_time_order_with_keyset_pages(api, admin_user):
    contact = ContactFactory(status="new")
    base = timezone.now() - dt.timedelta(days=10)
    comm = Communication.objects.create(contact=contact, type="email", subject="Hello", status="sent")
    Communication.objects.filter(pk=comm.pk).update(created_at=base + dt.timedelta(days=1))
    task = Task.objects.create(contact=contact, title="Follow up", due_at=base + dt.timedelta(days=5))
    Task.objects.filter(pk=task.pk).update(created_at=base + dt.timedelta(days=2))
    api.post("/api/v1/notes/", {"contact": str(contact.pk), "body": "A note"}, format="json")
    api.post(f"/api/v1/contacts/{contact.pk}/status/", {"status": "active", "reason": "signed"}, format="json")

    feed = api.get(f"/api/v1/contacts/{contact.pk}/activity/").json()
    kinds = [item["kind"] for item in feed["results"]]
    assert set(kinds) == {"communication", "task", "note", "status_change"}
    times = [item["at"] for item in feed["results"]]
    assert times == sorted(times, reverse=True)
    assert kinds[-2:] == ["task", "communication"]  # the oldest two, newest first
    status = next(i for i in feed["results"] if i["kind"] == "status_change")
    assert status["data"]["from"] == "new" and status["data"]["to"] == "active" and status["data"]["reason"] == "signed"

    seen, url = [], f"/api/v1/contacts/{contact.pk}/activity/?page_size=1"
    while url:
        page = api.get(url).json()
        seen += [(i["kind"], i["id"]) for i in page["results"]]
        url = page["next"]
    assert seen == [(i["kind"], i["id"]) for i in feed["results"]]
    only = api.get(f"/api/v1/contacts/{contact.pk}/activity/?kind=note,task").json()["results"]
    assert {i["kind"] for i in only} == {"note", "task"}
    assert_problem(api.get(f"/api/v1/contacts/{contact.pk}/activity/?kind=gossip"), 400, "kind")
    assert_problem(api.get(f"/api/v1/contacts/{contact.pk}/activity/?cursor=zzz"), 400, "cursor")
    assert_problem(api.get("/api/v1/contacts/00000000-0000-0000-0000-000000000000/activity/"), 404)
