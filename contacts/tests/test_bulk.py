"""POST /contacts/bulk/: up to 1,000 contacts, all or nothing, errors by index."""
import uuid

import pytest
from django.apps import apps

from contacts import services
from contacts.models import Contact
from contacts.tests.factories import (
    CategoryFactory,
    ContactFactory,
    ContactTypeFactory,
    OrganizationFactory,
    TemplateFactory,
)
from contacts_project.errors import InvalidInput
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db
URL = "/api/v1/contacts/bulk/"


def test_bulk_create_returns_contacts_in_order(api):
    org = OrganizationFactory()
    category = CategoryFactory()
    rows = [{"first_name": f"P{i}", "email": f"p{i}@example.com", "phone": f"+1 415 555 {i:04d}",
             "organization": str(org.pk), "categories": [str(category.pk)]} for i in range(5)]
    r = api.post(URL, {"contacts": rows})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["created"] == 5
    assert [c["first_name"] for c in body["results"]] == [f"P{i}" for i in range(5)]
    assert body["results"][1]["phone"] == "+14155550001"
    assert body["results"][0]["categories"] == [str(category.pk)]
    assert Contact.objects.count() == 5


def test_bulk_create_keeps_every_kind_of_value_and_audits_each_row(api):
    """The insert passes one array per column (contacts_project/bulk_insert.py): text with quotes, backslashes
    and commas, arrays, JSON, dates, foreign keys and the generated search text all land as given, and each
    row gets its audit event under the request's context."""
    org, kind = OrganizationFactory(), ContactTypeFactory()
    odd = 'O\'Brien, "Bob" \\ {x}'
    rows = [{"first_name": odd, "last_name": "Zoë", "email": "odd@example.com", "organization": str(org.pk),
             "tags": ['a "quoted", tag', "back\\slash", "{braces}"],
             "custom_fields": {"k": 'v "q" \\', "n": 1, "none": None},
             "type": kind.key, "status": "active", "priority": 3, "timezone": "Europe/Paris"},
            {"first_name": "Plain"}]
    r = api.post(URL, {"contacts": rows})
    assert r.status_code == 201, r.content
    first, second = (Contact.objects.get(pk=c["id"]) for c in r.json()["results"])
    assert first.first_name == odd and first.last_name == "Zoë" and first.organization_id == org.pk
    assert first.tags == ['a "quoted", tag', "back\\slash", "{braces}"]
    assert first.custom_fields == {"k": 'v "q" \\', "n": 1, "none": None}
    assert (first.type_id, first.status, first.priority, first.timezone) == (kind.key, "active", 3, "Europe/Paris")
    assert first.created_at and first.updated_at and first.status_changed_at
    assert "o'brien" in first.search_text and "odd@example.com" in first.search_text
    assert second.tags == [] and second.custom_fields == {} and second.email == ""
    ContactEvent = apps.get_model("contacts", "ContactEvent")
    events = ContactEvent.objects.filter(pgh_obj_id__in=[first.pk, second.pk], pgh_label="insert")
    assert events.count() == 2
    assert {e.pgh_context.metadata.get("action") for e in events} == {"contact.bulk_create"}


def test_bulk_create_1000_in_a_bounded_number_of_queries(api, django_assert_max_num_queries):
    rows = [{"first_name": f"P{i}", "email": f"p{i}@example.com"} for i in range(1000)]
    with django_assert_max_num_queries(16):
        r = api.post(URL, {"contacts": rows})
    assert r.status_code == 201 and r.json()["created"] == 1000


def test_over_1000_is_400_and_writes_nothing(api):
    rows = [{"first_name": f"P{i}"} for i in range(1001)]
    assert_problem(api.post(URL, {"contacts": rows}), 400, "contacts")
    assert not Contact.objects.exists()


def test_errors_are_named_by_index_and_nothing_is_written(api):
    ContactFactory(email="taken@example.com")
    rows = [
        {"first_name": "Ok", "email": "ok@example.com"},
        {"first_name": "Bad", "email": "nope"},
        {"first_name": "Dup", "email": "TAKEN@example.com"},
        {"first_name": "Same1", "email": "same@example.com"},
        {"first_name": "Same2", "email": "SAME@example.com"},
        {"email": "noname@example.com"},
        {"first_name": "Org", "organization": str(uuid.uuid4())},
        {"first_name": "T", "template": str(uuid.uuid4())},
        {"first_name": "X", "colour": "red"},
        {"first_name": "P", "phone": "not a phone"},
    ]
    body = assert_problem(api.post(URL, {"contacts": rows}), 400)
    fields = {e["field"]: e["code"] for e in body["errors"]}
    assert fields == {
        "contacts[1].email": "invalid",
        "contacts[2].email": "unique",
        "contacts[4].email": "unique",
        "contacts[5].first_name": "required",
        "contacts[6].organization": "does_not_exist",
        "contacts[7].template": "does_not_exist",
        "contacts[8].colour": "unknown_field",
        "contacts[9].phone": "invalid",
    }
    assert Contact.objects.count() == 1


@pytest.mark.parametrize("body, field", [
    ({"contacts": []}, "contacts"), ({"contacts": "x"}, "contacts"), ({}, "contacts"),
    ({"contacts": [1]}, "contacts.0"), ({"contacts": [{"first_name": "A"}], "extra": 1}, "extra"),
])
def test_bulk_shape_errors(api, body, field):
    assert_problem(api.post(URL, body), 400, field)


def test_bulk_with_template(api):
    template = TemplateFactory(defaults={"status": "active"}, custom_fields=[{"key": "size", "type": "integer",
                                                                              "required": True, "label": "size"}])
    r = api.post(URL, {"contacts": [{"first_name": "A", "template": str(template.pk), "custom_fields": {"size": 3}},
                                    {"first_name": "B", "template": str(template.pk)}]})
    body = assert_problem(r, 400, "contacts[1].custom_fields.size", "required")
    assert len(body["errors"]) == 1
    r = api.post(URL, {"contacts": [{"first_name": "A", "template": str(template.pk), "custom_fields": {"size": 3}}]})
    assert r.status_code == 201 and r.json()["results"][0]["status"] == "active"


def test_bulk_body_limit_is_16_mib_not_2(api):
    # 3 MiB is fine on the bulk endpoint (413 only above 16 MiB)
    rows = [{"first_name": "x" * 100, "job_title": "y" * 150, "custom_fields": {"note": "z" * 3000}}
            for _ in range(1000)]
    r = api.post(URL, {"contacts": rows})
    assert r.status_code == 201, r.content[:300]
    raw = b'{"contacts": [{"first_name": "' + b"x" * (17 * 1024 * 1024) + b'"}]}'
    assert_problem(api.generic("POST", URL, raw, content_type="application/json"), 413)


def test_service_rejects_non_list():
    with pytest.raises(InvalidInput):
        services.contact_bulk_create(rows="nope")
    with pytest.raises(InvalidInput) as exc:
        services.contact_bulk_create(rows=[{"first_name": "A"}, "nope"])
    assert exc.value.errors[0].field == "contacts[1]"
