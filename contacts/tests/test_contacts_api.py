"""Contacts API: CRUD, PUT vs PATCH, every bad input (a 4xx naming the field, nothing written)."""
import uuid

import pytest

from accounts.models import Team
from contacts.api.serializers import ContactSerializer
from contacts.models import Contact, ContactCategory
from contacts.tests.factories import (
    CategoryFactory,
    ContactFactory,
    ContactTypeFactory,
    OrganizationFactory,
    TemplateFactory,
)
from organization.models import ContactType
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db
URL = "/api/v1/contacts/"


def detail(contact_id) -> str:
    return f"{URL}{contact_id}/"


# --------------------------------------------------------------------------- create and read
def test_create_returns_every_field_in_the_documented_shape(api):
    org = OrganizationFactory()
    ctype = ContactTypeFactory()
    body = {"first_name": " Ada ", "last_name": "Lovelace", "email": "Ada@Example.COM", "phone": "(415) 555-0101",
            "organization": str(org.pk), "type": ctype.key, "job_title": "Analyst", "timezone": "Europe/London",
            "locale": "en-GB", "priority": 2, "tags": ["VIP", "vip", " math "], "custom_fields": {"shoe_size": 38}}
    r = api.post(URL, body)
    assert r.status_code == 201, r.content
    data = r.json()
    # the hand-built representation and the schema's serializer describe the same fields
    # (`lists` comes from planning's detail extension, on GET /contacts/{id}/ only)
    assert set(data) == set(ContactSerializer().fields) - {"lists"}
    assert data["first_name"] == "Ada"  # trimmed
    assert data["email"] == "Ada@example.com"  # domain lower-cased, local part kept
    assert data["phone"] == "+14155550101"  # E.164 with DEFAULT_PHONE_REGION
    assert data["organization"] == str(org.pk) and data["type"] == "customer"
    assert data["tags"] == ["vip", "math"]
    assert data["status"] == "new" and data["status_changed_at"] and data["full_name"] == "Ada Lovelace"
    uuid.UUID(data["id"])
    stored = Contact.objects.get(pk=data["id"])
    assert stored.phone == "+14155550101" and stored.organization_id == org.pk
    fetched = api.get(detail(data["id"])).json()
    assert fetched.pop("lists") == [] and fetched == data


def test_phone_only_and_private_person_is_fine(api):
    r = api.post(URL, {"last_name": "Nobody", "phone": "+44 20 7946 0958"})
    assert r.status_code == 201, r.content
    assert r.json()["email"] == "" and r.json()["organization"] is None and r.json()["phone"] == "+442079460958"


def test_two_contacts_without_email_do_not_clash(api):
    assert api.post(URL, {"first_name": "A"}).status_code == 201
    assert api.post(URL, {"first_name": "B"}).status_code == 201


def test_categories_owner_team_reports_to_are_resolved(api, admin_user):
    category = CategoryFactory()
    team = Team.objects.create(name="Sales")
    boss = ContactFactory()
    r = api.post(URL, {"first_name": "Emp", "categories": [str(category.pk)], "owner": admin_user.pk,
                       "team": str(team.pk), "reports_to": str(boss.pk)})
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["categories"] == [str(category.pk)] and data["owner"] == admin_user.pk
    assert data["team"] == str(team.pk) and data["reports_to"] == str(boss.pk)


def test_list_returns_contacts_newest_first(api):
    first, second = ContactFactory(), ContactFactory()
    r = api.get(URL)
    assert r.status_code == 200
    assert [row["id"] for row in r.json()["results"]] == [str(second.pk), str(first.pk)]


# --------------------------------------------------------------------------- PUT vs PATCH
def test_patch_changes_only_the_given_fields(api):
    contact = ContactFactory(job_title="CTO", tags=["a"], timezone="Europe/Paris")
    r = api.patch(detail(contact.pk), {"job_title": "CEO"})
    assert r.status_code == 200, r.content
    contact.refresh_from_db()
    assert contact.job_title == "CEO" and contact.tags == ["a"] and contact.timezone == "Europe/Paris"
    assert r.json()["job_title"] == "CEO"


def test_put_replaces_the_contact_omitted_fields_return_to_defaults(api):
    org = OrganizationFactory()
    category = CategoryFactory()
    contact = ContactFactory(job_title="CTO", tags=["a"], timezone="Europe/Paris", organization=org, priority=3,
                             custom_fields={"x": 1}, status="active")
    ContactCategory.objects.create(contact=contact, category=category)
    r = api.put(detail(contact.pk), {"first_name": "Only"})
    assert r.status_code == 200, r.content
    contact.refresh_from_db()
    assert (contact.first_name, contact.last_name, contact.email, contact.phone) == ("Only", "", "", "")
    assert contact.job_title == "" and contact.tags == [] and contact.timezone == "" and contact.organization is None
    assert contact.priority == 1 and contact.custom_fields == {}
    assert contact.status == "active"  # PUT keeps the lifecycle position unless it names a status
    assert r.json()["categories"] == []
    assert not ContactCategory.objects.filter(contact=contact).exists()


def test_put_without_any_name_is_400(api):
    contact = ContactFactory()
    assert_problem(api.put(detail(contact.pk), {"email": "x@example.com"}), 400, "first_name", "required")
    assert Contact.objects.get(pk=contact.pk).email == contact.email


def test_patch_cannot_remove_both_names(api):
    contact = ContactFactory()
    assert_problem(api.patch(detail(contact.pk), {"first_name": "", "last_name": ""}), 400, "first_name", "required")


def test_patch_may_change_the_case_of_its_own_email(api):
    contact = ContactFactory(email="sam@example.com")
    r = api.patch(detail(contact.pk), {"email": "Sam@example.com"})
    assert r.status_code == 200 and r.json()["email"] == "Sam@example.com"


def test_patch_to_another_contacts_email_in_other_case_is_400(api):
    ContactFactory(email="taken@example.com")
    contact = ContactFactory()
    assert_problem(api.patch(detail(contact.pk), {"email": "TAKEN@example.com"}), 400, "email", "unique")
    assert Contact.objects.get(pk=contact.pk).email == contact.email


def test_template_cannot_be_changed_after_creation(api):
    contact = ContactFactory()
    template = TemplateFactory()
    assert_problem(api.patch(detail(contact.pk), {"template": str(template.pk)}), 400, "template", "read_only")


def test_delete_then_404(api):
    contact = ContactFactory()
    assert api.delete(detail(contact.pk)).status_code == 204
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert_problem(api.get(detail(contact.pk)), 404)
    assert_problem(api.delete(detail(contact.pk)), 404)


def test_delete_detaches_reports(api):
    boss = ContactFactory()
    report = ContactFactory(reports_to=boss)
    assert api.delete(detail(boss.pk)).status_code == 204
    report.refresh_from_db()
    assert report.reports_to_id is None


def test_reports_to_cycle_is_400(api):
    boss = ContactFactory()
    report = ContactFactory(reports_to=boss)
    assert_problem(api.patch(detail(boss.pk), {"reports_to": str(report.pk)}), 400, "reports_to", "cycle")
    assert_problem(api.patch(detail(boss.pk), {"reports_to": str(boss.pk)}), 400, "reports_to", "cycle")


# --------------------------------------------------------------------------- bad input: 4xx naming the field
def test_duplicate_email_in_any_case_is_400_unique_and_writes_nothing(api):
    ContactFactory(email="ada@example.com")
    before = Contact.objects.count()
    body = assert_problem(api.post(URL, {"first_name": "Ada", "email": "ADA@EXAMPLE.COM"}), 400, "email", "unique")
    assert "already exists" in body["errors"][0]["message"]
    assert Contact.objects.count() == before


@pytest.mark.parametrize("field, value, code", [
    ("email", "not-an-email", "invalid"),
    ("email", "a@b", "invalid"),
    ("phone", "call me maybe", "invalid"),
    ("phone", "12", "invalid"),
    ("phone", 12345, "invalid"),
    ("organization", str(uuid.uuid4()), "does_not_exist"),
    ("organization", "not-a-uuid", "invalid"),
    ("type", "no-such-type", "does_not_exist"),
    ("template", str(uuid.uuid4()), "does_not_exist"),
    ("template", "nope", "invalid"),
    ("status", "bogus", "invalid_choice"),
    ("priority", 9, "invalid_choice"),
    ("timezone", "Mars/Olympus", "invalid"),
    ("locale", "!!", "invalid"),
    ("owner", 987654, "does_not_exist"),
    ("team", str(uuid.uuid4()), "does_not_exist"),
    ("reports_to", str(uuid.uuid4()), "does_not_exist"),
    ("categories", [str(uuid.uuid4())], "does_not_exist"),
    ("categories", "not-a-list", "not_a_list"),
    ("tags", ["x" * 51], "max_length"),
    ("custom_fields", {"Bad Key": 1}, "invalid_key"),
    ("custom_fields", {"note": "a\x00b"}, "null_characters_not_allowed"),
    ("tags", ["a\x00b"], "null_characters_not_allowed"),
    ("first_name", "x" * 101, "max_length"),
    ("favourite_colour", "blue", "unknown_field"),
    ("id", str(uuid.uuid4()), "read_only"),
    ("created_at", "2020-01-01T00:00:00Z", "read_only"),
])
def test_bad_field_on_create_is_400_naming_it(api, field, value, code):
    ContactTypeFactory()
    before = Contact.objects.count()
    response = api.post(URL, {"first_name": "Ada", field: value})
    body = assert_problem(response, 400)
    names = {e["field"] for e in body["errors"]}
    assert any(name == field or name.startswith(f"{field}.") or name.startswith(f"{field}[") for name in names), body
    assert code in {e["code"] for e in body["errors"]}, body
    assert Contact.objects.count() == before


def test_inactive_type_is_400_for_new_contacts(api):
    ContactType.objects.create(key="legacy", label="Legacy", is_active=False)
    assert_problem(api.post(URL, {"first_name": "A", "type": "legacy"}), 400, "type", "inactive")


def test_every_bad_field_is_named_in_one_response(api):
    body = assert_problem(api.post(URL, {"first_name": "A", "email": "nope", "phone": "nope",
                                         "organization": str(uuid.uuid4())}), 400)
    fields = {e["field"] for e in body["errors"]}
    assert {"email", "phone"} <= fields or {"email"} <= fields  # serializer format errors come first
    r = api.post(URL, {"first_name": "A", "phone": "nope", "organization": str(uuid.uuid4()), "timezone": "X/Y"})
    assert {e["field"] for e in assert_problem(r, 400)["errors"]} == {"phone", "organization", "timezone"}


def test_a_contact_needs_a_name(api):
    assert_problem(api.post(URL, {"email": "x@example.com"}), 400, "first_name", "required")


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b"42", b"null"])
def test_body_that_is_not_a_json_object_is_400(api, raw):
    response = api.generic("POST", URL, raw, content_type="application/json")
    assert_problem(response, 400, "body", "parse_error")
    assert Contact.objects.count() == 0


def test_unsupported_media_type_is_415(api):
    assert_problem(api.generic("POST", URL, b"<a/>", content_type="application/xml"), 415)


def test_body_over_2_mib_is_413(api):
    raw = b'{"first_name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    body = assert_problem(api.generic("POST", URL, raw, content_type="application/json"), 413, "body", "too_large")
    assert body["limit"] == 2 * 1024 * 1024
    assert Contact.objects.count() == 0


@pytest.mark.parametrize("method, suffix", [
    ("get", ""), ("patch", ""), ("put", ""), ("delete", ""), ("post", "status/"), ("get", "history/"),
])
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", str(uuid.uuid4())])
def test_malformed_or_unknown_uuid_in_path_is_404(api, method, suffix, bad_id):
    body = {"status": "active"} if suffix == "status/" else {"first_name": "X"}
    response = getattr(api, method)(f"{URL}{bad_id}/{suffix}", body if method in ("patch", "put", "post") else None)
    assert_problem(response, 404)


def test_no_credentials_is_401_with_www_authenticate(anon):
    response = anon.get(URL)
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Token")
    assert_problem(anon.post(URL, {"first_name": "x"}), 401)


def test_wrong_token_is_401(anon):
    anon.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert_problem(anon.get(URL), 401)


def test_method_not_allowed_is_405(api):
    contact = ContactFactory()
    assert_problem(api.put(URL, {}), 405)
    assert_problem(api.get(f"{detail(contact.pk)}status/"), 405)


def test_unknown_query_filter_is_400(api):
    assert_problem(api.get(URL, {"colour": "blue"}), 400, "colour", "unknown_filter")


def test_user_without_model_permission_is_403(db, django_user_model):
    from rest_framework.test import APIClient

    user = django_user_model.objects.create_user("reader", password="pw-reader-123456")
    client = APIClient()
    client.force_authenticate(user)
    assert client.get(URL).status_code == 200  # reads need a login only
    assert_problem(client.post(URL, {"first_name": "X"}), 403)
    assert Contact.objects.count() == 0


# --------------------------------------------------------------------------- query counts
# 1 for the token; the rest is the work itself (no query per row, no COUNT(*))
def test_list_query_count_is_constant(api, django_assert_max_num_queries):
    category = CategoryFactory()
    for contact in ContactFactory.create_batch(30, organization=OrganizationFactory()):
        ContactCategory.objects.create(contact=contact, category=category)
    with django_assert_max_num_queries(2):
        r = api.get(URL, {"page_size": 30})
    assert len(r.json()["results"]) == 30
    with django_assert_max_num_queries(3):  # search adds no query: the organization match is a subquery
        assert api.get(URL, {"search": "example", "status": "new,active"}).status_code == 200


def test_detail_query_count(api, django_assert_max_num_queries):
    contact = ContactFactory()
    # cache miss: the token, then one statement for the contact with its category, group and list ids
    # (planning's `lists` extension is a subquery of that statement, not a query of its own)
    with django_assert_max_num_queries(2):
        response = api.get(detail(contact.pk))
    assert response.status_code == 200 and response.json()["lists"] == []


def test_create_query_count(api, django_assert_max_num_queries):
    org = OrganizationFactory()
    ContactTypeFactory()
    category = CategoryFactory()
    # token, savepoint pair, refs (org, type, categories, contacts, users, teams), email check, insert, categories
    with django_assert_max_num_queries(14):
        r = api.post(URL, {"first_name": "Q", "email": "q@example.com", "organization": str(org.pk),
                           "type": "customer", "categories": [str(category.pk)]})
    assert r.status_code == 201, r.content
