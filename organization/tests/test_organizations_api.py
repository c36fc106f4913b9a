"""Organizations and contact types: CRUD, hierarchy, protected deletes, bad input."""
import uuid

import pytest

from organization.models import Organization
from organization.tests.factories import ContactTypeFactory, OrganizationFactory
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db
ORGS = "/api/v1/organizations/"
TYPES = "/api/v1/contact-types/"


def test_organization_crud(api):
    r = api.post(ORGS, {"name": " Acme ", "domain": "ACME.example.com"})
    assert r.status_code == 201, r.content
    org = r.json()
    assert org["name"] == "Acme" and org["domain"] == "acme.example.com" and org["parent"] is None
    child = api.post(ORGS, {"name": "Acme EU", "parent": org["id"]}).json()
    assert child["parent"] == org["id"]
    assert api.get(f"{ORGS}{org['id']}/").json()["name"] == "Acme"
    assert [o["name"] for o in api.get(ORGS).json()["results"]] == ["Acme", "Acme EU"]
    assert [o["id"] for o in api.get(ORGS, {"parent": org["id"]}).json()["results"]] == [child["id"]]
    assert [o["id"] for o in api.get(ORGS, {"domain": "acme.example.com"}).json()["results"]] == [org["id"]]
    r = api.patch(f"{ORGS}{org['id']}/", {"domain": "acme.com"})
    assert r.status_code == 200 and r.json()["domain"] == "acme.com" and r.json()["name"] == "Acme"
    r = api.put(f"{ORGS}{child['id']}/", {"name": "Acme Europe", "parent": org["id"]})
    assert r.status_code == 200 and r.json()["name"] == "Acme Europe"
    assert api.delete(f"{ORGS}{child['id']}/").status_code == 204
    assert_problem(api.get(f"{ORGS}{child['id']}/"), 404)


@pytest.mark.parametrize("body, field", [
    ({"name": ""}, "name"), ({}, "name"), ({"name": "x" * 201}, "name"),
    ({"name": "A", "parent": str(uuid.uuid4())}, "parent"), ({"name": "A", "parent": "nope"}, "parent"),
    ({"name": "A", "category": str(uuid.uuid4())}, "category"), ({"name": "A", "colour": 1}, "colour"),
    ({"name": "A", "id": str(uuid.uuid4())}, "id"),
])
def test_organization_bad_input_is_400(api, body, field):
    assert_problem(api.post(ORGS, body), 400, field)
    assert not Organization.objects.exists()


def test_organization_cannot_become_its_own_ancestor(api):
    top = OrganizationFactory()
    middle = OrganizationFactory(parent=top)
    bottom = OrganizationFactory(parent=middle)
    assert_problem(api.patch(f"{ORGS}{top.pk}/", {"parent": str(bottom.pk)}), 400, "parent", "cycle")
    assert_problem(api.patch(f"{ORGS}{top.pk}/", {"parent": str(top.pk)}), 400, "parent", "cycle")
    assert Organization.objects.get(pk=top.pk).parent_id is None


def test_deleting_an_organization_with_children_is_409(api):
    parent = OrganizationFactory()
    OrganizationFactory(parent=parent)
    assert_problem(api.delete(f"{ORGS}{parent.pk}/?cascade=true"), 409)


def test_organization_malformed_id_is_404(api):
    assert_problem(api.get(f"{ORGS}not-a-uuid/"), 404)
    assert_problem(api.patch(f"{ORGS}{uuid.uuid4()}/", {"name": "x"}), 404)


# --------------------------------------------------------------------------- contact types
def test_contact_type_crud(api):
    r = api.post(TYPES, {"key": "customer", "label": "Customer"})
    assert r.status_code == 201, r.content
    assert r.json()["is_active"] is True
    assert [t["key"] for t in api.get(TYPES).json()["results"]] == ["customer"]
    r = api.patch(f"{TYPES}customer/", {"label": "Client", "is_active": False})
    assert r.status_code == 200 and r.json()["label"] == "Client" and r.json()["is_active"] is False
    assert api.delete(f"{TYPES}customer/").status_code == 204
    assert_problem(api.get(f"{TYPES}customer/"), 404)


@pytest.mark.parametrize("body, field", [
    ({"key": "has space", "label": "x"}, "key"), ({"label": "x"}, "key"), ({"key": "a", "colour": 1}, "colour"),
])
def test_contact_type_bad_input(api, body, field):
    assert_problem(api.post(TYPES, body), 400, field)


def test_contact_type_key_is_unique_and_immutable(api):
    ContactTypeFactory(key="customer")
    assert_problem(api.post(TYPES, {"key": "customer", "label": "Again"}), 400, "key")
    assert_problem(api.patch(f"{TYPES}customer/", {"key": "client"}), 400, "key", "immutable")
