"""Admin changelists for staff: 200, a bounded number of queries whatever the rows, no unbounded COUNT(*)."""
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact, ContactGroup, ContactTemplate, GroupMembership
from contacts.tests.factories import ContactTypeFactory, OrganizationFactory
from contacts_project import admin_tools
from contacts_project.admin_tools import EstimatedCountPaginator
from organization.models import ContactType, Organization

pytestmark = pytest.mark.django_db

CHANGELISTS = {
    "contact": "/admin/contacts/contact/",
    "organization": "/admin/organization/organization/",
    "group": "/admin/contacts/contactgroup/",
    "template": "/admin/contacts/contacttemplate/",
    "type": "/admin/organization/contacttype/",
}


def populate(n: int) -> None:
    """n rows of each kind, with the relations the changelists display."""
    offset = Organization.objects.count()
    orgs = Organization.objects.bulk_create([Organization(name=f"Org {offset + i}") for i in range(n)])
    types = ContactType.objects.bulk_create([ContactType(key=f"type-{offset + i}", label=f"T{i}") for i in range(n)])
    contacts = Contact.objects.bulk_create([
        Contact(first_name=f"P{offset + i}", email=f"p{offset + i}@example.com", organization=orgs[i],
                type=types[i]) for i in range(n)])
    groups = ContactGroup.objects.bulk_create([ContactGroup(name=f"G{offset + i}", organization=orgs[i])
                                               for i in range(n)])
    GroupMembership.objects.bulk_create([GroupMembership(group=g, contact=c) for g, c in zip(groups, contacts)])
    ContactTemplate.objects.bulk_create([ContactTemplate(name=f"Tpl {offset + i}", contact_type=types[i])
                                         for i in range(n)])


def load(client, url, **params):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200, (url, response.status_code)
    return response, [q["sql"] for q in ctx.captured_queries]


def unbounded_counts(queries: list[str]) -> list[str]:
    """Row-count statements (the paginator's) that are not capped by a LIMIT inside them."""
    return [q for q in queries if re.match(r"\s*SELECT COUNT\(", q, re.I) and not re.search(r"LIMIT \d+", q, re.I)]


@pytest.mark.parametrize("name", list(CHANGELISTS))
def test_changelist_queries_do_not_grow_with_rows(client, admin_user, name):
    client.force_login(admin_user)
    populate(3)
    load(client, CHANGELISTS[name])  # warm-up: the session and content-type caches
    _, few = load(client, CHANGELISTS[name])
    populate(40)
    response, many = load(client, CHANGELISTS[name])
    assert len(many) == len(few), (name, len(few), len(many))
    assert len(many) <= 12, many
    assert not unbounded_counts(many), unbounded_counts(many)
    assert response.context["cl"].result_count >= 43


@pytest.mark.parametrize("name, params", [
    ("contact", {"q": "p1"}), ("contact", {"status__exact": "new"}), ("organization", {"q": "Org 1"}),
    ("group", {"q": "G1"}), ("template", {"q": "Tpl"}), ("type", {"q": "type-1"}),
])
def test_changelist_search_and_filters(client, admin_user, name, params):
    client.force_login(admin_user)
    populate(12)
    response, queries = load(client, CHANGELISTS[name], **params)
    assert response.context["cl"].result_count >= 1
    assert not unbounded_counts(queries)


def test_contact_search_ignores_accents_and_case(client, admin_user):
    client.force_login(admin_user)
    Contact.objects.create(first_name="Émilie", last_name="Dupré", email="ed@example.com")
    response, _ = load(client, CHANGELISTS["contact"], q="EMILIE dupre")
    assert response.context["cl"].result_count == 1


@pytest.mark.parametrize("url", [
    "/admin/contacts/contact/add/", "/admin/organization/organization/add/", "/admin/contacts/contactgroup/add/",
    "/admin/contacts/contacttemplate/add/", "/admin/organization/contacttype/add/",
])
def test_add_forms_render(client, admin_user, url):
    client.force_login(admin_user)
    assert client.get(url).status_code == 200


def test_change_forms_render(client, admin_user):
    client.force_login(admin_user)
    populate(1)
    for obj, url in ((Contact.objects.first(), "/admin/contacts/contact/{}/change/"),
                     (Organization.objects.first(), "/admin/organization/organization/{}/change/"),
                     (ContactGroup.objects.first(), "/admin/contacts/contactgroup/{}/change/"),
                     (ContactTemplate.objects.first(), "/admin/contacts/contacttemplate/{}/change/"),
                     (ContactType.objects.first(), "/admin/organization/contacttype/{}/change/")):
        assert client.get(url.format(obj.pk)).status_code == 200, url


def test_autocomplete_for_organizations(client, admin_user):
    client.force_login(admin_user)
    OrganizationFactory(name="Autocomplete Inc")
    response = client.get("/admin/autocomplete/", {"app_label": "contacts", "model_name": "contact",
                                                   "field_name": "organization", "term": "autoc"})
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["Autocomplete Inc"]


def test_admin_writes_for_organizations_types_and_templates_use_the_services(client, admin_user):
    client.force_login(admin_user)
    assert client.post("/admin/organization/organization/add/", {"name": " Spaced ", "domain": "EX.COM"}
                       ).status_code == 302
    org = Organization.objects.get()
    assert (org.name, org.domain) == ("Spaced", "ex.com")  # normalized by organization_create
    assert client.post("/admin/organization/contacttype/add/", {"key": "vip", "label": "VIP",
                                                                "description": "", "is_active": "on"}
                       ).status_code == 302
    ContactTypeFactory(key="vip")
    response = client.post("/admin/contacts/contacttemplate/add/", {
        "name": "Admin template", "description": "", "contact_type": "vip", "defaults": "{}",
        "required_fields": "", "custom_fields": "[]"})
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    assert ContactTemplate.objects.get().contact_type_id == "vip"


def test_type_changelist_shows_contact_counts(client, admin_user):
    client.force_login(admin_user)
    ContactTypeFactory(key="customer")
    ContactTypeFactory(key="unused", label="Unused")
    Contact.objects.bulk_create([Contact(first_name=f"C{i}", type_id="customer") for i in range(3)])
    response, _ = load(client, CHANGELISTS["type"])
    counts = {row.key: row.n_contacts for row in response.context["cl"].result_list}
    assert counts == {"customer": 3, "unused": 0}


def test_estimated_paginator_counts_exactly_below_the_limit_and_estimates_above(monkeypatch):
    monkeypatch.setattr(admin_tools, "EXACT_COUNT_LIMIT", 20)  # the same code path as 10,000, with fewer rows
    populate(5)
    assert EstimatedCountPaginator(Contact.objects.order_by("pk"), 50).count == 5
    Contact.objects.bulk_create([Contact(first_name=f"X{i}") for i in range(admin_tools.EXACT_COUNT_LIMIT + 1)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")
    estimate = EstimatedCountPaginator(Contact.objects.order_by("pk"), 50).count
    assert estimate >= admin_tools.EXACT_COUNT_LIMIT + 1
