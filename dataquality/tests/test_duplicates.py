"""Duplicate rules (SQL, pg_trgm), on_duplicate on create, the review queue and its Celery job."""
import pytest
from django.conf import settings

from contacts.models import Contact
from contacts.tests.factories import ContactFactory, OrganizationFactory
from dataquality import duplicates
from dataquality.models import DuplicateCandidate

pytestmark = pytest.mark.django_db


def rules(candidate):
    return {r["rule"] for r in candidate["reasons"]}


def test_exact_email_any_case_and_phone():
    existing = ContactFactory(email="Ann.Lee@Example.com", phone="+14155550100")
    found = duplicates.find_candidates(first_name="X", last_name="Y", email="ann.lee@EXAMPLE.com")
    assert [c["id"] for c in found] == [str(existing.pk)] and rules(found[0]) == {"email"}
    assert found[0]["score"] == pytest.approx(0.999, abs=0.01)
    found = duplicates.find_candidates(first_name="X", last_name="Y", phone="+14155550100")
    assert rules(found[0]) == {"phone"} and found[0]["score"] == pytest.approx(0.9)


def test_fuzzy_name_within_same_organization_only():
    acme, other = OrganizationFactory(), OrganizationFactory()
    same_org = ContactFactory(first_name="Jonathan", last_name="Smithson", organization=acme)
    ContactFactory(first_name="Jonathan", last_name="Smithson", organization=other, email="js@other.example")
    found = duplicates.find_candidates(first_name="Jonathon", last_name="Smithson", organization_id=acme.pk)
    assert [c["id"] for c in found] == [str(same_org.pk)]
    assert rules(found[0]) == {"name_organization"} and 0.6 <= found[0]["score"] < 0.9


def test_fuzzy_name_same_email_domain_but_not_free_mail():
    ContactFactory(first_name="Maria", last_name="Gonzalez", email="maria@acme-corp.example")
    ContactFactory(first_name="Maria", last_name="Gonzalez", email="maria.g@gmail.com")
    found = duplicates.find_candidates(first_name="María", last_name="Gonzales", email="m.gonzalez@acme-corp.example")
    assert len(found) == 1 and rules(found[0]) == {"name_email_domain"}
    assert duplicates.find_candidates(first_name="Maria", last_name="Gonzalez", email="other@gmail.com") == [] or \
        all("name_email_domain" not in rules(c) for c in
            duplicates.find_candidates(first_name="Maria", last_name="Gonzalez", email="other@gmail.com"))


def test_same_name_and_phone_suffix():
    existing = ContactFactory(first_name="Li", last_name="Wei", phone="+14155550123")
    found = duplicates.find_candidates(first_name="li", last_name="WEI", phone="+16505550123")
    assert found[0]["id"] == str(existing.pk) and rules(found[0]) == {"name_phone_suffix"}


def test_nicknames_from_the_shipped_table():
    existing = ContactFactory(first_name="Robert", last_name="Brown", email="rb@one.example")
    found = duplicates.find_candidates(first_name="Bob", last_name="Brown")
    assert found[0]["id"] == str(existing.pk) and rules(found[0]) == {"nickname"}
    assert duplicates.find_candidates(first_name="Alice", last_name="Brown") == []


def test_several_rules_combine_into_a_higher_score():
    org = OrganizationFactory()
    ContactFactory(first_name="Robert", last_name="Brown", phone="+14155550999", organization=org)
    found = duplicates.find_candidates(first_name="Robert", last_name="Brown", phone="+14155550999",
                                       organization_id=org.pk)
    assert rules(found[0]) == {"phone", "name_organization"}
    assert found[0]["score"] > 0.95


def test_create_reject_is_409_with_candidates(api):
    existing = ContactFactory(email="dup@example.com")
    response = api.post("/api/v1/contacts/?on_duplicate=reject",
                        {"first_name": "D", "last_name": "Up", "email": "DUP@example.com"})
    assert response.status_code == 409
    assert response.json()["candidates"][0]["id"] == str(existing.pk)
    assert Contact.objects.count() == 1


def test_create_skip_returns_existing_and_update_changes_it(api):
    existing = ContactFactory(email="same@example.com", job_title="")
    response = api.post("/api/v1/contacts/", {"first_name": "S", "email": "same@example.com", "on_duplicate": "skip"})
    assert response.status_code == 200 and response.json()["id"] == str(existing.pk)
    response = api.post("/api/v1/contacts/?on_duplicate=update",
                        {"first_name": existing.first_name, "email": "same@example.com", "job_title": "CTO"})
    assert response.status_code == 200
    existing.refresh_from_db()
    assert existing.job_title == "CTO" and Contact.objects.count() == 1


def test_create_with_policy_create_and_bad_policy(api):
    ContactFactory(phone="+14155550001")
    response = api.post("/api/v1/contacts/?on_duplicate=create", {"first_name": "P", "phone": "+14155550001"})
    assert response.status_code == 201 and Contact.objects.count() == 2
    response = api.post("/api/v1/contacts/?on_duplicate=merge", {"first_name": "P"})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "on_duplicate"


def test_queue_refresh_dismiss_is_remembered(api, django_assert_max_num_queries):
    org = OrganizationFactory()
    a = ContactFactory(first_name="Katherine", last_name="Olsen", organization=org)
    b = ContactFactory(first_name="Katharine", last_name="Olsen", organization=org)
    ContactFactory(first_name="Zed", last_name="Quux")
    from dataquality.tasks import duplicates_refresh_task

    duplicates_refresh_task.apply()
    pairs = list(DuplicateCandidate.objects.all())
    assert len(pairs) == 1 and {pairs[0].contact_a_id, pairs[0].contact_b_id} == {a.pk, b.pk}
    with django_assert_max_num_queries(4):
        listing = api.get("/api/v1/duplicates/").json()
    pair = listing["results"][0]
    assert {r["rule"] for r in pair["reasons"]} == {"name_organization", "name_email_domain"}
    assert api.post(f"/api/v1/duplicates/{pair['id']}/dismiss/").json()["status"] == "dismissed"
    duplicates.refresh_queue()
    assert api.get("/api/v1/duplicates/").json()["results"] == []
    assert DuplicateCandidate.objects.get().status == "dismissed"
    # a pair that no longer matches leaves the open queue
    api.post(f"/api/v1/duplicates/{pair['id']}/reopen/")
    Contact.objects.filter(pk=b.pk).update(first_name="Totally", last_name="Different", organization=None)
    duplicates.refresh_queue()
    assert not DuplicateCandidate.objects.exists()


def test_refresh_is_scheduled_in_beat():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"contacts.duplicates_refresh", "contacts.retention_purge"} <= tasks


def test_contact_candidates_endpoint(api):
    a = ContactFactory(first_name="Robert", last_name="Stone")
    b = ContactFactory(first_name="Rob", last_name="Stone")
    body = api.get(f"/api/v1/contacts/{a.pk}/duplicates/").json()
    assert [c["id"] for c in body["results"]] == [str(b.pk)]
    assert api.get("/api/v1/contacts/00000000-0000-0000-0000-000000000000/duplicates/").status_code == 404
