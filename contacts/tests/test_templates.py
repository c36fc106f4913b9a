"""Contact templates: defaults, required fields, custom-field definitions, applied by `"template": id`."""
import uuid

import pytest

from contacts import services
from contacts.models import Contact, ContactTemplate
from contacts.tests.factories import ContactFactory, ContactTypeFactory, TemplateFactory
from contacts.validation import validate_custom_field_definitions, validate_custom_fields
from contacts_project.errors import Errors, InvalidInput, NotFound
from organization.models import ContactType
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db
URL = "/api/v1/templates/"

DEFINITIONS = [
    {"key": "budget", "label": "Budget", "type": "number", "required": True},
    {"key": "seats", "type": "integer"},
    {"key": "renewal", "type": "date"},
    {"key": "vip", "type": "boolean"},
    {"key": "tier", "type": "choice", "choices": ["gold", "silver"]},
    {"key": "note", "type": "string", "help_text": "free text"},
]


@pytest.fixture
def template(api):
    ContactTypeFactory(key="lead", label="Lead")
    response = api.post(URL, {"name": "Lead", "contact_type": "lead", "defaults": {"status": "active", "priority": 2,
                                                                                 "tags": ["inbound"]},
                              "required_fields": ["email", "custom.tier"], "custom_fields": DEFINITIONS})
    assert response.status_code == 201, response.content
    return response.json()


# --------------------------------------------------------------------------- template CRUD
def test_template_crud(api, template):
    assert template["contact_type"] == "lead" and template["custom_fields"][0]["label"] == "Budget"
    assert template["custom_fields"][1]["label"] == "seats" and template["custom_fields"][1]["required"] is False
    listed = api.get(URL).json()["results"]
    assert [t["id"] for t in listed] == [template["id"]]
    assert api.get(f"{URL}{template['id']}/").json()["name"] == "Lead"
    r = api.patch(f"{URL}{template['id']}/", {"description": "Inbound leads"})
    assert r.status_code == 200 and r.json()["description"] == "Inbound leads"
    r = api.put(f"{URL}{template['id']}/", {"name": "Lead 2"})
    assert r.status_code == 200 and r.json()["name"] == "Lead 2"
    assert api.delete(f"{URL}{template['id']}/").status_code == 204
    assert_problem(api.get(f"{URL}{template['id']}/"), 404)
    assert_problem(api.delete(f"{URL}{template['id']}/"), 404)


def test_deleting_a_template_keeps_its_contacts(api, template):
    contact = api.post("/api/v1/contacts/", {"first_name": "A", "email": "a@example.com", "template": template["id"],
                                              "custom_fields": {"budget": 1, "tier": "gold"}}).json()
    assert api.delete(f"{URL}{template['id']}/").status_code == 204
    assert Contact.objects.get(pk=contact["id"]).template_id is None


@pytest.mark.parametrize("body, field, code", [
    ({"name": ""}, "name", "blank"),
    ({"name": "T", "contact_type": "nope"}, "contact_type", "does_not_exist"),
    ({"name": "T", "required_fields": ["shoe_size"]}, "required_fields", "invalid_choice"),
    ({"name": "T", "required_fields": ["custom.nope"]}, "required_fields", "invalid_choice"),
    ({"name": "T", "required_fields": "email"}, "required_fields", "not_a_list"),
    ({"name": "T", "defaults": {"shoe_size": 1}}, "defaults", "invalid_choice"),
    ({"name": "T", "defaults": {"status": "bogus"}}, "defaults.status", "invalid_choice"),
    ({"name": "T", "defaults": {"email": "nope"}}, "defaults.email", "invalid"),
    ({"name": "T", "defaults": []}, "defaults", "invalid"),
    ({"name": "T", "custom_fields": {"a": 1}}, "custom_fields", "invalid"),
    ({"name": "T", "custom_fields": [{"key": "Bad Key"}]}, "custom_fields[0].key", "invalid_key"),
    ({"name": "T", "custom_fields": [{"key": "a"}, {"key": "a"}]}, "custom_fields[1].key", "unique"),
    ({"name": "T", "custom_fields": [{"key": "a", "type": "colour"}]}, "custom_fields[0].type", "invalid_choice"),
    ({"name": "T", "custom_fields": [{"key": "a", "type": "choice"}]}, "custom_fields[0].choices", "required"),
    ({"name": "T", "custom_fields": [{"key": "a", "required": "yes"}]}, "custom_fields[0].required", "invalid"),
    ({"name": "T", "custom_fields": [{"key": "a", "colour": 1}]}, "custom_fields[0]", "unknown_field"),
    ({"name": "T", "custom_fields": ["a"]}, "custom_fields[0]", "invalid"),
    ({"name": "T", "shoe": 1}, "shoe", "unknown_field"),
    ({"name": "T", "custom_fields": [{"key": "a", "label": "x\x00"}]}, "custom_fields", "null_characters_not_allowed"),
])
def test_template_bad_input_is_400(api, body, field, code):
    assert_problem(api.post(URL, body), 400, field, code)
    assert not ContactTemplate.objects.exists()


def test_template_name_is_unique_in_any_case(api, template):
    assert_problem(api.post(URL, {"name": "LEAD"}), 400, "name", "unique")
    other = api.post(URL, {"name": "Other"}).json()
    assert_problem(api.patch(f"{URL}{other['id']}/", {"name": "lead"}), 400, "name", "unique")


# --------------------------------------------------------------------------- applying a template
def test_create_with_template_applies_defaults_type_and_custom_fields(api, template):
    r = api.post("/api/v1/contacts/", {"first_name": "Lea", "email": "lea@example.com", "template": template["id"],
                                       "custom_fields": {"budget": 12.5, "tier": "gold", "renewal": "2030-01-31"}})
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["template"] == template["id"] and data["type"] == "lead"
    assert data["status"] == "active" and data["priority"] == 2 and data["tags"] == ["inbound"]
    assert data["custom_fields"] == {"budget": 12.5, "tier": "gold", "renewal": "2030-01-31"}


def test_given_values_win_over_template_defaults(api, template):
    r = api.post("/api/v1/contacts/", {"first_name": "Lea", "email": "lea@example.com", "template": template["id"],
                                       "status": "new", "priority": 0, "custom_fields": {"budget": 1, "tier": "gold"}})
    assert r.status_code == 201, r.content
    assert r.json()["status"] == "new" and r.json()["priority"] == 0


def test_template_default_custom_fields_merge_with_given_ones(api):
    definitions = [{"key": "a", "type": "string"}, {"key": "b", "type": "string"}]
    t = api.post(URL, {"name": "T", "defaults": {"custom_fields": {"a": "default-a", "b": "default-b"}},
                       "custom_fields": definitions}).json()
    r = api.post("/api/v1/contacts/", {"first_name": "X", "template": t["id"], "custom_fields": {"b": "mine"}})
    assert r.status_code == 201, r.content
    assert r.json()["custom_fields"] == {"a": "default-a", "b": "mine"}


def test_template_required_fields_are_enforced(api, template):
    body = assert_problem(api.post("/api/v1/contacts/", {"first_name": "Lea", "template": template["id"]}), 400)
    fields = {e["field"]: e["code"] for e in body["errors"]}
    assert fields["email"] == "required"
    assert fields["custom_fields.budget"] == "required"  # required in its definition
    assert fields["custom_fields.tier"] == "required"  # required through required_fields: custom.tier
    assert not Contact.objects.exists()


@pytest.mark.parametrize("custom, field", [
    ({"budget": "lots", "tier": "gold"}, "custom_fields.budget"),
    ({"budget": True, "tier": "gold"}, "custom_fields.budget"),
    ({"budget": 1, "tier": "bronze"}, "custom_fields.tier"),
    ({"budget": 1, "tier": "gold", "seats": 2.5}, "custom_fields.seats"),
    ({"budget": 1, "tier": "gold", "renewal": "31/01/2030"}, "custom_fields.renewal"),
    ({"budget": 1, "tier": "gold", "vip": "yes"}, "custom_fields.vip"),
    ({"budget": 1, "tier": "gold", "note": 5}, "custom_fields.note"),
    ({"budget": 1, "tier": "gold", "colour": "red"}, "custom_fields.colour"),
    ("not-an-object", "custom_fields"),
])
def test_custom_fields_are_validated_against_the_definitions(api, template, custom, field):
    body = {"first_name": "Lea", "email": "lea@example.com", "template": template["id"], "custom_fields": custom}
    assert_problem(api.post("/api/v1/contacts/", body), 400, field)
    assert not Contact.objects.exists()


@pytest.mark.parametrize("value", [str(uuid.uuid4()), "not-a-uuid", 12])
def test_unknown_or_malformed_template_is_400_naming_template(api, value):
    assert_problem(api.post("/api/v1/contacts/", {"first_name": "A", "template": value}), 400, "template")


def test_patch_of_a_templated_contact_keeps_its_custom_fields(api, template):
    contact = api.post("/api/v1/contacts/", {"first_name": "Lea", "email": "lea@example.com",
                                             "template": template["id"],
                                             "custom_fields": {"budget": 1, "tier": "gold"}}).json()
    r = api.patch(f"/api/v1/contacts/{contact['id']}/", {"job_title": "Buyer"})
    assert r.status_code == 200, r.content
    assert r.json()["custom_fields"] == {"budget": 1, "tier": "gold"}
    # a PATCH of custom_fields is still checked against the template
    assert_problem(api.patch(f"/api/v1/contacts/{contact['id']}/", {"custom_fields": {"budget": "x", "tier": "gold"}}),
                   400, "custom_fields.budget")
    assert_problem(api.patch(f"/api/v1/contacts/{contact['id']}/", {"custom_fields": {"tier": "gold"}}),
                   400, "custom_fields.budget", "required")
    assert_problem(api.patch(f"/api/v1/contacts/{contact['id']}/", {"email": ""}), 400, "email", "required")
    assert Contact.objects.get(pk=contact["id"]).custom_fields == {"budget": 1, "tier": "gold"}


def test_custom_fields_without_template_are_a_flat_object(api):
    r = api.post("/api/v1/contacts/", {"first_name": "A", "custom_fields": {"shoe_size": 42, "nick": "Al",
                                                                             "ok": True, "none": None}})
    assert r.status_code == 201 and r.json()["custom_fields"]["shoe_size"] == 42
    assert_problem(api.post("/api/v1/contacts/", {"first_name": "A", "custom_fields": {"nested": {"a": 1}}}),
                   400, "custom_fields.nested")
    assert_problem(api.post("/api/v1/contacts/", {"first_name": "A", "custom_fields": {"a": "x" * 20000}}),
                   400, "custom_fields", "too_large")


def test_template_inactive_type_and_service_errors():
    ContactType.objects.create(key="old", label="Old", is_active=True)
    template = TemplateFactory(contact_type_id="old")
    with pytest.raises(NotFound):
        services.template_update(template_id=uuid.uuid4(), data={"name": "x"})
    with pytest.raises(NotFound):
        services.template_delete(template_id="nope")
    contact = services.contact_create(data={"first_name": "A"}, template_id=template.pk)
    assert contact.type_id == "old"
    assert ContactFactory(template=template).template_id == template.pk


def test_validation_helpers_directly():
    errors = Errors()
    assert validate_custom_fields(None, None, errors) == {} and not errors
    assert validate_custom_fields({"tier": None}, [{"key": "tier", "type": "choice", "choices": ["a"]}],
                                  errors, require=False) == {"tier": None}
    with pytest.raises(InvalidInput):
        validate_custom_field_definitions("nope")
    assert validate_custom_field_definitions([]) == []
