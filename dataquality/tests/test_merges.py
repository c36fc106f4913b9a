"""Merging contacts: chosen values, rows of every app move, both histories kept, undo for 30 days."""
import datetime as dt

import pytest
from django.apps import apps
from django.utils import timezone

from contacts.models import Contact, ContactCategory, GroupMembership
from contacts.tests.factories import CategoryFactory, ContactFactory, GroupFactory, OrganizationFactory
from dataquality.models import DuplicateCandidate, MergeRecord

pytestmark = pytest.mark.django_db

# higher apps' tables, reached without importing them (contacts sits below them)
Communication = apps.get_model("communications", "Communication")
Task = apps.get_model("planning", "Task")
ContactList = apps.get_model("planning", "ContactList")
ListMembership = apps.get_model("planning", "ListMembership")


@pytest.fixture
def pair(api):
    org = OrganizationFactory()
    survivor = ContactFactory(first_name="Rob", last_name="Stone", email="rob@one.example", job_title="", phone="",
                              tags=["a"], organization=org)
    other = ContactFactory(first_name="Robert", last_name="Stone", email="robert@two.example", job_title="CEO",
                           tags=["b"], phone="+14155550999")
    # both edited once so both have a history
    api.patch(f"/api/v1/contacts/{survivor.pk}/", {"job_title": ""}, format="json")
    api.patch(f"/api/v1/contacts/{other.pk}/", {"locale": "fr-FR"}, format="json")
    return survivor, other


def test_merge_takes_chosen_values_and_moves_everything(api, pair):
    survivor, other = pair
    cat_s, cat_o = CategoryFactory(), CategoryFactory()
    ContactCategory.objects.create(contact=survivor, category=cat_s)
    ContactCategory.objects.create(contact=other, category=cat_o)
    group = GroupFactory()
    GroupMembership.objects.create(group=group, contact=other)
    message = Communication.objects.create(contact=other, type="email", content="hello")
    task = Task.objects.create(contact=other, title="Call back", due_at=timezone.now())
    shared_list = ContactList.objects.create(name="VIP")
    ListMembership.objects.create(contact_list=shared_list, contact=survivor)
    ListMembership.objects.create(contact_list=shared_list, contact=other)  # the same list: set aside
    response = api.post(f"/api/v1/contacts/{survivor.pk}/merge/",
                        {"other": str(other.pk), "fields": {"email": "other", "first_name": "other"}}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    contact = body["contact"]
    assert contact["email"] == "robert@two.example" and contact["first_name"] == "Robert"
    assert contact["job_title"] == "CEO" and contact["phone"] == "+14155550999"  # empty fields filled
    assert contact["locale"] == "fr-FR" and sorted(contact["tags"]) == ["a", "b"]
    assert sorted(contact["categories"]) == sorted([str(cat_s.pk), str(cat_o.pk)])
    assert contact["groups"] == [str(group.pk)]
    assert not Contact.objects.filter(pk=other.pk).exists()
    message.refresh_from_db()
    task.refresh_from_db()
    assert message.contact_id == survivor.pk and task.contact_id == survivor.pk
    assert ListMembership.objects.filter(contact=survivor, contact_list=shared_list).count() == 1
    assert body["merge"]["undoable"] is True and body["merge"]["set_aside"] == 1
    # the audit trail keeps both histories, and says a merge happened
    history = api.get(f"/api/v1/contacts/{survivor.pk}/history/").json()["results"]
    actions = [h["action"] for h in history]
    assert "contact.merge" in actions
    ContactEvent = apps.get_model("contacts", "ContactEvent")
    assert ContactEvent.objects.filter(pgh_obj_id=other.pk).count() >= 3  # insert, update, delete
    assert any(h["changes"].get("locale", {}).get("after") == "fr-FR" for h in history)  # the other's edit


def test_undo_puts_everything_back(api, pair):
    survivor, other = pair
    message = Communication.objects.create(contact=other, type="email", content="hello")
    group = GroupFactory()
    GroupMembership.objects.create(group=group, contact=other)
    shared_list = ContactList.objects.create(name="VIP")
    ListMembership.objects.create(contact_list=shared_list, contact=survivor)
    ListMembership.objects.create(contact_list=shared_list, contact=other)
    merge = api.post(f"/api/v1/contacts/{survivor.pk}/merge/",
                     {"other": str(other.pk), "fields": {"email": "other"}}, format="json").json()["merge"]
    response = api.post(f"/api/v1/contacts/merges/{merge['id']}/undo/")
    assert response.status_code == 200 and response.json()["undone_at"]
    restored = Contact.objects.get(pk=other.pk)
    assert (restored.email, restored.job_title, restored.tags) == ("robert@two.example", "CEO", ["b"])
    survivor.refresh_from_db()
    assert (survivor.email, survivor.job_title, survivor.tags) == ("rob@one.example", "", ["a"])
    message.refresh_from_db()
    assert message.contact_id == other.pk
    assert list(GroupMembership.objects.filter(contact=other).values_list("group_id", flat=True)) == [group.pk]
    assert not GroupMembership.objects.filter(contact=survivor).exists()
    assert ListMembership.objects.filter(contact=other).count() == 1
    assert api.post(f"/api/v1/contacts/merges/{merge['id']}/undo/").status_code == 409  # once only


def test_undo_after_30_days_is_409(api, pair):
    survivor, other = pair
    merge = api.post(f"/api/v1/contacts/{survivor.pk}/merge/", {"other": str(other.pk)}, format="json").json()
    MergeRecord.objects.filter(pk=merge["merge"]["id"]).update(created_at=timezone.now() - dt.timedelta(days=31))
    response = api.post(f"/api/v1/contacts/merges/{merge['merge']['id']}/undo/")
    assert response.status_code == 409 and "30 days" in response.json()["detail"]


def test_merge_with_itself_or_unknown_is_400(api, pair):
    survivor, _ = pair
    response = api.post(f"/api/v1/contacts/{survivor.pk}/merge/", {"other": str(survivor.pk)}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "same_contact"
    response = api.post(f"/api/v1/contacts/{survivor.pk}/merge/",
                        {"other": "00000000-0000-0000-0000-000000000000"}, format="json")
    assert response.status_code == 400
    response = api.post(f"/api/v1/contacts/{survivor.pk}/merge/",
                        {"other": str(pair[1].pk), "fields": {"shoe": "other", "email": "mine"}}, format="json")
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"fields.shoe", "fields.email"}
    response = api.post(f"/api/v1/contacts/{survivor.pk}/merge/", {"other": str(pair[1].pk), "x": 1}, format="json")
    assert response.status_code == 400
    assert Contact.objects.count() == 2


def test_merge_drops_the_pair_from_the_queue(api, pair):
    survivor, other = pair
    a, b = sorted([survivor.pk, other.pk])
    DuplicateCandidate.objects.create(contact_a_id=a, contact_b_id=b, score=0.7, reasons=[])
    api.post(f"/api/v1/contacts/{survivor.pk}/merge/", {"other": str(other.pk)}, format="json")
    assert not DuplicateCandidate.objects.exists()
    detail = api.get(f"/api/v1/contacts/merges/{MergeRecord.objects.get().pk}/").json()
    assert detail["survivor"] == str(survivor.pk) and detail["merged"] == str(other.pk)


def test_merge_needs_permission(django_user_model, pair):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("viewer", password="pw-viewer-123456"))
    survivor, other = pair
    assert client.post(f"/api/v1/contacts/{survivor.pk}/merge/", {"other": str(other.pk)},
                       format="json").status_code == 403
