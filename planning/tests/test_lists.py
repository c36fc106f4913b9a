import pytest

from contacts.tests.factories import ContactFactory
from planning.models import ContactList, ListJob, ListMembership

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact_list(api):
    response = api.post("/api/v1/lists/", {"name": "Q3 prospects"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_list_crud_and_unknown_field(api, contact_list):
    url = f"/api/v1/lists/{contact_list['id']}/"
    assert api.patch(url, {"description": "hot"}, format="json").json()["description"] == "hot"
    bad = api.post("/api/v1/lists/", {"name": "x", "colour": "red"}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "colour"
    assert api.post("/api/v1/lists/", {"name": ""}, format="json").status_code == 400
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_add_and_remove_by_ids_and_order_by_priority(api, contact_list, django_assert_max_num_queries):
    low, high = ContactFactory(priority=0), ContactFactory(priority=3)
    url = f"/api/v1/lists/{contact_list['id']}/contacts/"
    response = api.post(url, {"contact_ids": [str(low.pk), str(high.pk)]}, format="json")
    assert response.status_code == 200 and response.json()["added"] == 2
    assert api.post(url, {"contact_ids": [str(low.pk)]}, format="json").json()["added"] == 0  # idempotent
    with django_assert_max_num_queries(4):
        members = api.get(url).json()["results"]
    assert [m["id"] for m in members] == [str(high.pk), str(low.pk)]
    assert members[0]["priority_score"] > members[1]["priority_score"]
    assert api.delete(url, {"contact_ids": [str(low.pk)]}, format="json").json()["removed"] == 1
    assert list(ListMembership.objects.values_list("contact_id", flat=True)) == [high.pk]


def test_one_unknown_id_changes_nothing(api, contact_list):
    known = ContactFactory()
    url = f"/api/v1/lists/{contact_list['id']}/contacts/"
    response = api.post(url, {"contact_ids": [str(known.pk), "0190a6f0-0000-7000-8000-000000000000"]}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "contact_ids"
    assert not ListMembership.objects.exists()


def test_add_by_filter_runs_as_a_job(api, contact_list, celery_eager, django_capture_on_commit_callbacks):
    ContactFactory.create_batch(3, status="active")
    ContactFactory(status="archived")
    url = f"/api/v1/lists/{contact_list['id']}/contacts/"
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(url, {"filter": {"status": "active"}}, format="json")
    assert response.status_code == 202, response.content
    job = api.get(response.json()["url"]).json()
    assert job["status"] == "done" and job["result"]["added"] == 3
    assert ContactList.objects.get().memberships.count() == 3


def test_bad_filter_is_400_before_any_job(api, contact_list):
    url = f"/api/v1/lists/{contact_list['id']}/contacts/"
    response = api.post(url, {"filter": {"colour": "red"}}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "filter.colour"
    assert not ListJob.objects.exists()


def test_both_or_neither_ids_and_filter_is_400(api, contact_list):
    url = f"/api/v1/lists/{contact_list['id']}/contacts/"
    assert api.post(url, {}, format="json").status_code == 400
    assert api.post(url, {"contact_ids": [], "filter": {}}, format="json").status_code == 400


def test_call_plan_orders_by_priority_with_next_task(api, contact_list):
    first, second = ContactFactory(priority=3), ContactFactory(priority=1)
    api.post(f"/api/v1/lists/{contact_list['id']}/contacts/", {"contact_ids": [str(first.pk), str(second.pk)]},
             format="json")
    api.post("/api/v1/tasks/", {"contact": str(second.pk), "title": "Call back", "kind": "call",
                                "due_at": "2030-01-01T10:00:00Z"}, format="json")
    plan = api.get(f"/api/v1/lists/{contact_list['id']}/call-plan/").json()["results"]
    assert [p["id"] for p in plan] == [str(first.pk), str(second.pk)]
    assert plan[0]["next_task"] is None and plan[1]["next_task"]["title"] == "Call back"


def test_contact_detail_shows_its_lists_and_stays_fresh(api, contact_list, django_capture_on_commit_callbacks):
    contact = ContactFactory()
    detail = f"/api/v1/contacts/{contact.pk}/"
    assert api.get(detail).json()["lists"] == []  # now cached
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/v1/lists/{contact_list['id']}/contacts/", {"contact_ids": [str(contact.pk)]}, format="json")
    assert api.get(detail).json()["lists"] == [contact_list["id"]]


def test_empty_id_list_changes_nothing(api, contact_list):
    response = api.post(f"/api/v1/lists/{contact_list['id']}/contacts/", {"contact_ids": []}, format="json")
    assert response.status_code == 200 and response.json()["added"] == 0
