"""The contact list: cursor pagination on every ordering, every filter of the architecture, search."""
import base64
import datetime as dt
import uuid

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Team
from contacts import services
from contacts.models import Contact, ContactCategory
from contacts.tests.factories import (
    CategoryFactory,
    ContactFactory,
    ContactTypeFactory,
    GroupFactory,
    OrganizationFactory,
)
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db
URL = "/api/v1/contacts/"
ORDERINGS = ["created_at", "-created_at", "updated_at", "-updated_at", "last_name", "-last_name"]


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def population():
    """23 contacts with ties on every ordering key, so the id tie-breaker matters."""
    contacts = Contact.objects.bulk_create([
        Contact(first_name=f"F{i}", last_name=["Adams", "Brown", "Brown", "Chen", "Diaz"][i % 5],
                email=f"c{i}@example.com") for i in range(23)])
    base = timezone.now() - dt.timedelta(days=10)
    for i, contact in enumerate(contacts):
        # every third contact shares a timestamp with its neighbour
        stamp = base + dt.timedelta(minutes=i - i % 3)
        Contact.objects.filter(pk=contact.pk).update(created_at=stamp, updated_at=stamp + dt.timedelta(hours=i % 4))
    return contacts


def expected_order(ordering: str) -> list[str]:
    field = ordering.lstrip("-")
    rows = list(Contact.objects.values_list(field, "id"))
    rows.sort(reverse=ordering.startswith("-"))
    return [str(pk) for _, pk in rows]


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_cursor_round_trip_over_every_ordering(api, population, ordering):
    expected = expected_order(ordering)
    pages, url = [], f"{URL}?ordering={ordering}&page_size=5"
    first = api.get(url).json()
    assert first["previous"] is None
    body = first
    while True:
        pages.append([row["id"] for row in body["results"]])
        if not body["next"]:
            break
        body = api.get(body["next"]).json()
    assert [pk for page in pages for pk in page] == expected
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    # and back: previous links walk the same pages in reverse
    back = []
    while body["previous"]:
        body = api.get(body["previous"]).json()
        back.append([row["id"] for row in body["results"]])
    assert back == pages[-2::-1]
    assert body["previous"] is None and body["next"]


def test_exact_multiple_of_page_size_has_no_empty_last_page(api):
    Contact.objects.bulk_create([Contact(first_name=f"P{i}") for i in range(10)])
    body = api.get(URL, {"page_size": 5}).json()
    body = api.get(body["next"]).json()
    assert len(body["results"]) == 5 and body["next"] is None


def test_list_sql_has_no_count(api, population):
    with CaptureQueriesContext(connection) as ctx:
        api.get(URL, {"page_size": 5, "search": "example", "status": "new"})
    assert not any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries), ctx.captured_queries


def test_page_size_is_clamped_at_500(api):
    Contact.objects.bulk_create([Contact(first_name=f"P{i}") for i in range(501)])
    body = api.get(URL, {"page_size": 100000}).json()
    assert len(body["results"]) == 500 and body["next"]


def _cursor(payload) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


@pytest.mark.parametrize("params, field", [
    ({"cursor": "garbage!!"}, "cursor"),
    ({"cursor": _cursor({"a": 1})}, "cursor"),
    ({"cursor": _cursor(["2020-01-01T00:00:00Z", str(uuid.uuid4()), "-created_at", "x"])}, "cursor"),
    ({"cursor": _cursor(["not-a-date", str(uuid.uuid4()), "-created_at", "n"])}, "cursor"),
    ({"cursor": _cursor(["2020-01-01T00:00:00Z", "not-a-uuid", "-created_at", "n"])}, "cursor"),
    ({"cursor": _cursor(["2020-01-01T00:00:00Z", str(uuid.uuid4()), "created_at", "n"])}, "cursor"),  # other order
    ({"page_size": "0"}, "page_size"),
    ({"page_size": "ten"}, "page_size"),
    ({"ordering": "email"}, "ordering"),
    ({"ordering": "-search_text"}, "ordering"),
])
def test_bad_pagination_parameters_are_400(api, params, field):
    ContactFactory()
    assert_problem(api.get(URL, params), 400, field)


# --------------------------------------------------------------------------- filters
def test_every_filter_of_the_architecture(api, admin_user, django_user_model):
    ContactTypeFactory(key="customer")
    ContactTypeFactory(key="partner", label="Partner")
    org = OrganizationFactory()
    category = CategoryFactory()
    group = GroupFactory()
    team = Team.objects.create(name="T")
    other_user = django_user_model.objects.create_user("other")
    boss = ContactFactory(last_name="Boss")
    hit = ContactFactory(status="active", type_id="customer", organization=org, owner=admin_user, team=team,
                         reports_to=boss, priority=3, tags=["vip"], email="Hit@Example.com", phone="+14155550999",
                         last_contacted_at=timezone.now() - dt.timedelta(days=1))
    miss = ContactFactory(status="inactive", type_id="partner", owner=other_user, priority=0)
    ContactCategory.objects.create(contact=hit, category=category)
    services.group_update_contacts(group_id=group.pk, add=[hit.pk])
    old = timezone.now() - dt.timedelta(days=100)
    Contact.objects.filter(pk=miss.pk).update(created_at=old, updated_at=old)
    Contact.objects.filter(pk=boss.pk).update(created_at=old, updated_at=old)
    recent = (timezone.now() - dt.timedelta(days=50)).isoformat()

    cases = {
        "status": ("active", [hit]), "type": ("customer", [hit]), "organization": (org.pk, [hit]),
        "group": (group.pk, [hit]), "category": (category.pk, [hit]), "owner": (admin_user.pk, [hit]),
        "team": (team.pk, [hit]), "reports_to": (boss.pk, [hit]), "priority": (3, [hit]), "tag": ("VIP", [hit]),
        "email": ("hit@example.COM", [hit]), "phone": ("(415) 555-0999", [hit]),
        "created_after": (recent, [hit]), "updated_after": (recent, [hit]),
        "last_contacted_after": ((timezone.now() - dt.timedelta(days=2)).isoformat(), [hit]),
        "last_contacted_before": (timezone.now().isoformat(), [hit]),
    }
    for name, (value, expected) in cases.items():
        assert ids(api.get(URL, {name: str(value)})) == [str(c.pk) for c in expected], name
    assert set(ids(api.get(URL, {"created_before": recent}))) == {str(miss.pk), str(boss.pk)}
    assert set(ids(api.get(URL, {"updated_before": recent}))) == {str(miss.pk), str(boss.pk)}
    assert set(ids(api.get(URL, {"status": "active,inactive"}))) == {str(hit.pk), str(miss.pk)}
    assert set(ids(api.get(URL, {"type": "customer,partner"}))) == {str(hit.pk), str(miss.pk)}
    # filters combine with AND
    assert ids(api.get(URL, {"status": "active", "owner": other_user.pk})) == []


@pytest.mark.parametrize("params, field", [
    ({"status": "bogus"}, "status"), ({"organization": "not-a-uuid"}, "organization"),
    ({"group": "x"}, "group"), ({"owner": "me"}, "owner"), ({"created_after": "yesterday"}, "created_after"),
    ({"priority": "9"}, "priority"), ({"phone": "not a phone"}, "phone"), ({"colour": "red"}, "colour"),
])
def test_bad_filter_values_are_400_naming_the_filter(api, params, field):
    assert_problem(api.get(URL, params), 400, field)


# --------------------------------------------------------------------------- search
@pytest.fixture
def people():
    acme = OrganizationFactory(name="Société Générale")
    return {
        "jose": ContactFactory(first_name="José", last_name="Núñez", email="jn@mail.example.com",
                               phone="+14155550111"),
        "emile": ContactFactory(first_name="Émile", last_name="Zola", email="ez@books.example.org",
                                phone="+33142685300", organization=acme),
        "plain": ContactFactory(first_name="Plain", last_name="Person", email="pp@example.net", phone="+12125550000"),
    }


@pytest.mark.parametrize("term, who", [
    ("jose", "jose"), ("JOSÉ", "jose"), ("nunez", "jose"), ("NÚÑEZ", "jose"), ("José Núñez", "jose"),
    ("emile zola", "emile"), ("books.example", "emile"), ("EZ@BOOKS", "emile"),
    ("4155550111", "jose"), ("+14155550111", "jose"), ("(415) 555-0111", "jose"), ("415-555-0111", "jose"),
    ("societe", "emile"), ("GÉNÉRALE", "emile"), ("generale zola", "emile"),
])
def test_search_over_name_email_phone_and_organization(api, people, term, who):
    assert ids(api.get(URL, {"search": term})) == [str(people[who].pk)]


def test_search_treats_like_wildcards_literally(api, people):
    assert ids(api.get(URL, {"search": "%"})) == []
    assert ids(api.get(URL, {"search": "_"})) == []
    assert len(ids(api.get(URL, {"search": "   "}))) == 3


def test_search_combines_with_filters_and_pagination(api, people):
    r = api.get(URL, {"search": "example", "page_size": 2, "ordering": "last_name"})
    assert len(ids(r)) == 2 and r.json()["next"]
    assert ids(api.get(r.json()["next"])) == [str(people["emile"].pk)]
