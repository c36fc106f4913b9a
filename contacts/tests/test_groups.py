"""Groups: CRUD, add/remove up to 10,000 contacts in a constant number of queries, all or nothing."""
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts import selectors, services
from contacts.models import Contact, ContactGroup, GroupMembership
from contacts.tests.factories import ContactFactory, GroupFactory, OrganizationFactory
from contacts_project.errors import InvalidInput, NotFound
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db
URL = "/api/v1/groups/"


def make_contacts(n: int) -> list[str]:
    """n contacts in one INSERT (factories would take one query each)."""
    rows = Contact.objects.bulk_create([Contact(first_name=f"P{i}", email=f"p{i}@bulk.example.com")
                                        for i in range(n)])
    return [str(c.pk) for c in rows]


def members(group_id) -> set[str]:
    return {str(c) for c in GroupMembership.objects.filter(group_id=group_id).values_list("contact_id", flat=True)}


# --------------------------------------------------------------------------- CRUD
def test_group_crud(api, admin_user):
    org = OrganizationFactory()
    ids = make_contacts(3)
    r = api.post(URL, {"name": "VIPs", "description": "Top", "organization": str(org.pk), "contact_ids": ids[:2]})
    assert r.status_code == 201, r.content
    group = r.json()
    assert group["name"] == "VIPs" and group["organization"] == str(org.pk) and group["owner"] == admin_user.pk
    assert "contact_ids" not in group
    assert members(group["id"]) == set(ids[:2])
    assert api.get(f"{URL}{group['id']}/").json()["description"] == "Top"
    assert [g["id"] for g in api.get(URL).json()["results"]] == [group["id"]]
    assert [g["id"] for g in api.get(URL, {"organization": str(org.pk)}).json()["results"]] == [group["id"]]
    r = api.patch(f"{URL}{group['id']}/", {"name": "VIP"})
    assert r.status_code == 200 and r.json()["name"] == "VIP" and members(group["id"]) == set(ids[:2])
    r = api.patch(f"{URL}{group['id']}/", {"contact_ids": [ids[2]]})  # replaces the members
    assert r.status_code == 200 and members(group["id"]) == {ids[2]}
    r = api.put(f"{URL}{group['id']}/", {"name": "Renamed"})
    assert r.status_code == 200 and r.json()["description"] == "Top" or r.status_code == 200
    assert api.delete(f"{URL}{group['id']}/").status_code == 204
    assert not ContactGroup.objects.exists() and Contact.objects.count() == 3
    assert_problem(api.get(f"{URL}{group['id']}/"), 404)


@pytest.mark.parametrize("body, field", [
    ({"name": ""}, "name"), ({}, "name"), ({"name": "x" * 101}, "name"),
    ({"name": "G", "organization": str(uuid.uuid4())}, "organization"),
    ({"name": "G", "organization": "nope"}, "organization"),
    ({"name": "G", "contact_ids": [str(uuid.uuid4())]}, "contact_ids"),
    ({"name": "G", "contact_ids": ["nope"]}, "contact_ids.0"),
    ({"name": "G", "colour": "red"}, "colour"),
])
def test_group_bad_input_is_400(api, body, field):
    assert_problem(api.post(URL, body), 400, field)
    assert not ContactGroup.objects.exists()


def test_group_detail_with_malformed_id_is_404(api):
    assert_problem(api.get(f"{URL}not-a-uuid/"), 404)
    assert_problem(api.get(f"{URL}not-a-uuid/contacts/"), 404)
    assert_problem(api.post(f"{URL}{uuid.uuid4()}/contacts/", {"contact_ids": []}), 404)


# --------------------------------------------------------------------------- members
def test_add_list_and_remove_members(api):
    group = GroupFactory()
    ids = make_contacts(5)
    r = api.post(f"{URL}{group.pk}/contacts/", {"contact_ids": ids[:3]})
    assert r.status_code == 200, r.content
    assert r.json() == {"added": 3, "removed": 0, "group": str(group.pk)}
    listed = api.get(f"{URL}{group.pk}/contacts/").json()["results"]
    assert {c["id"] for c in listed} == set(ids[:3])
    assert all(str(group.pk) in c["groups"] for c in listed)
    r = api.delete(f"{URL}{group.pk}/contacts/", {"contact_ids": ids[:2]})
    assert r.json() == {"added": 0, "removed": 2, "group": str(group.pk)}
    assert members(group.pk) == {ids[2]}


def test_adding_is_idempotent(api):
    group = GroupFactory()
    ids = make_contacts(3)
    api.post(f"{URL}{group.pk}/contacts/", {"contact_ids": ids[:2]})
    r = api.post(f"{URL}{group.pk}/contacts/", {"contact_ids": ids + ids})  # repeats and existing members
    assert r.status_code == 200 and r.json()["added"] == 1
    assert members(group.pk) == set(ids)
    r = api.delete(f"{URL}{group.pk}/contacts/", {"contact_ids": [ids[0], ids[0]]})
    assert r.json()["removed"] == 1
    assert api.delete(f"{URL}{group.pk}/contacts/", {"contact_ids": [ids[0]]}).json()["removed"] == 0


@pytest.mark.parametrize("method", ["post", "delete"])
def test_one_unknown_id_changes_nothing(api, method):
    group = GroupFactory()
    ids = make_contacts(4)
    GroupMembership.objects.bulk_create([GroupMembership(group=group, contact_id=i) for i in ids[:2]])
    missing = str(uuid.uuid4())
    body = assert_problem(getattr(api, method)(f"{URL}{group.pk}/contacts/", {"contact_ids": [*ids, missing]}),
                          400, "contact_ids", "does_not_exist")
    assert body["missing"] == [missing]
    assert members(group.pk) == set(ids[:2])


@pytest.mark.parametrize("body, field", [
    ({"contact_ids": "nope"}, "contact_ids"), ({}, "contact_ids"), ({"contact_ids": ["nope"]}, "contact_ids"),
    ({"contact_ids": [str(uuid.uuid4())] * 10001}, "contact_ids"), ({"ids": []}, "ids"),
])
def test_members_bad_input_is_400(api, body, field):
    group = GroupFactory()
    assert_problem(api.post(f"{URL}{group.pk}/contacts/", body), 400, field)


def _queries_for(api, group, ids) -> int:
    with CaptureQueriesContext(connection) as ctx:
        r = api.post(f"{URL}{group.pk}/contacts/", {"contact_ids": ids})
    assert r.status_code == 200, r.content[:300]
    assert r.json()["added"] == len(ids)
    return len(ctx.captured_queries)


def test_add_and_remove_take_a_constant_number_of_queries(api, django_assert_max_num_queries):
    ids = make_contacts(10_000)
    small, big = GroupFactory(), GroupFactory()
    n_small = _queries_for(api, small, ids[:10])
    n_big = _queries_for(api, big, ids)
    assert n_small == n_big, (n_small, n_big)
    assert len(members(big.pk)) == 10_000
    # pinned: token, savepoints, id check, lock, count, insert, touch — the same for 10 and for 10,000
    with django_assert_max_num_queries(n_small):
        assert api.post(f"{URL}{big.pk}/contacts/", {"contact_ids": ids}).json()["added"] == 0
    with django_assert_max_num_queries(n_small):
        assert api.delete(f"{URL}{big.pk}/contacts/", {"contact_ids": ids}).json()["removed"] == 10_000
    with django_assert_max_num_queries(n_small):
        assert api.delete(f"{URL}{small.pk}/contacts/", {"contact_ids": ids[:10]}).json()["removed"] == 10
    assert not GroupMembership.objects.exists()


def test_group_add_query_count_is_pinned(api, django_assert_max_num_queries):
    group = GroupFactory()
    ids = make_contacts(50)
    with django_assert_max_num_queries(9):
        assert api.post(f"{URL}{group.pk}/contacts/", {"contact_ids": ids}).status_code == 200


def test_group_contacts_list_query_count(api, django_assert_max_num_queries):
    group = GroupFactory()
    ids = make_contacts(30)
    services.group_update_contacts(group_id=group.pk, add=ids)
    with django_assert_max_num_queries(3):
        assert len(api.get(f"{URL}{group.pk}/contacts/", {"page_size": 50}).json()["results"]) == 30


# --------------------------------------------------------------------------- an organization's groups
def test_organization_groups(api):
    org, other = OrganizationFactory(), OrganizationFactory()
    owned = GroupFactory(organization=org, name="A owned")
    holding = GroupFactory(name="B holds a contact of org")
    unrelated = GroupFactory(name="C unrelated")
    services.group_update_contacts(group_id=holding.pk, add=[ContactFactory(organization=org).pk])
    services.group_update_contacts(group_id=unrelated.pk, add=[ContactFactory(organization=other).pk])
    r = api.get(f"/api/v1/organizations/{org.pk}/groups/")
    assert r.status_code == 200
    assert [g["id"] for g in r.json()["results"]] == [str(owned.pk), str(holding.pk)]
    assert [g.pk for g in selectors.organization_groups(organization_id=org.pk).order_by("name")] == [owned.pk,
                                                                                                     holding.pk]
    assert_problem(api.get(f"/api/v1/organizations/{uuid.uuid4()}/groups/"), 404)
    assert_problem(api.get("/api/v1/organizations/not-a-uuid/groups/"), 404)


def test_group_services_directly():
    with pytest.raises(NotFound):
        services.group_update_contacts(group_id=uuid.uuid4(), add=[])
    with pytest.raises(NotFound):
        services.group_delete(group_id="nope")
    with pytest.raises(InvalidInput):
        services.group_update_contacts(group_id=GroupFactory().pk, add="nope")
    group = services.group_create(data={"name": " Trimmed ", "description": None})
    assert group.name == "Trimmed" and group.description == "" and group.owner_id is None
    with pytest.raises(InvalidInput):
        services.group_update(group_id=group.pk, data={"name": 5})
    result = services.group_update_contacts(group_id=group.pk)
    assert result == {"added": 0, "removed": 0, "group": str(group.pk)}
