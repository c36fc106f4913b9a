"""GET /reports/contacts/: counts by status, type, organization and owner; new contacts per day/week/month."""
import datetime as dt

import pytest
from django.utils import timezone

from contacts.models import Contact
from contacts.tests.factories import ContactFactory, ContactTypeFactory, OrganizationFactory
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db
URL = "/api/v1/reports/contacts/"


@pytest.fixture
def world(admin_user):
    ContactTypeFactory(key="customer")
    ContactTypeFactory(key="partner", label="Partner")
    acme, globex = OrganizationFactory(name="Acme"), OrganizationFactory(name="Globex")
    made = [
        ContactFactory(status="active", type_id="customer", organization=acme, owner=admin_user),
        ContactFactory(status="active", type_id="customer", organization=acme),
        ContactFactory(status="new", type_id="partner", organization=globex, owner=admin_user),
        ContactFactory(status="archived"),
    ]
    # created on 2030-01-01 (Tue), 2030-01-01, 2030-01-09 (Wed, next week) and 2030-02-15
    stamps = [dt.datetime(2030, 1, 1, 10, tzinfo=dt.UTC), dt.datetime(2030, 1, 1, 23, tzinfo=dt.UTC),
              dt.datetime(2030, 1, 9, 8, tzinfo=dt.UTC), dt.datetime(2030, 2, 15, 12, tzinfo=dt.UTC)]
    for contact, stamp in zip(made, stamps):
        Contact.objects.filter(pk=contact.pk).update(created_at=stamp)
    return {"acme": acme, "globex": globex, "contacts": made}


def report(api, **params) -> dict:
    response = api.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


def test_counts_by_status_type_organization_owner(api, world, admin_user):
    body = report(api)
    assert body["total"] == 4
    assert body["by_status"] == {"active": 2, "new": 1, "archived": 1}
    assert body["by_type"] == {"customer": 2, "partner": 1, "": 1}
    assert body["by_organization"][0] == {"organization": str(world["acme"].pk), "count": 2}
    assert {r["organization"]: r["count"] for r in body["by_organization"]} == {
        str(world["acme"].pk): 2, str(world["globex"].pk): 1, None: 1}
    assert {r["owner"]: r["count"] for r in body["by_owner"]} == {admin_user.pk: 2, None: 2}


@pytest.mark.parametrize("period, buckets", [
    ("day", [("2030-01-01T00:00:00Z", 2), ("2030-01-09T00:00:00Z", 1), ("2030-02-15T00:00:00Z", 1)]),
    ("week", [("2029-12-31T00:00:00Z", 2), ("2030-01-07T00:00:00Z", 1), ("2030-02-11T00:00:00Z", 1)]),
    ("month", [("2030-01-01T00:00:00Z", 3), ("2030-02-01T00:00:00Z", 1)]),
])
def test_new_contacts_per_period(api, world, period, buckets):
    body = report(api, period=period, start="2029-12-01T00:00:00Z", end="2030-03-01T00:00:00Z")
    series = body["new_contacts"]
    assert series["period"] == period
    assert series["start"] == "2029-12-01T00:00:00Z" and series["end"] == "2030-03-01T00:00:00Z"
    assert [(b["start"], b["count"]) for b in series["buckets"]] == buckets


def test_range_excludes_outside_rows(api, world):
    body = report(api, start="2030-01-02T00:00:00Z", end="2030-02-01T00:00:00Z")
    assert [(b["start"], b["count"]) for b in body["new_contacts"]["buckets"]] == [("2030-01-09T00:00:00Z", 1)]
    assert body["total"] == 4  # the counts cover every contact matching the filters, the series only the range


def test_list_filters_apply(api, world, admin_user):
    body = report(api, status="active")
    assert body["total"] == 2 and body["by_status"] == {"active": 2} and body["by_type"] == {"customer": 2}
    body = report(api, organization=str(world["globex"].pk))
    assert body["by_status"] == {"new": 1}
    body = report(api, owner=admin_user.pk, period="month", start="2030-01-01T00:00:00Z",
                  end="2030-12-31T00:00:00Z")
    assert body["total"] == 2 and sum(b["count"] for b in body["new_contacts"]["buckets"]) == 2
    body = report(api, search="nobody-matches-this")
    assert body["total"] == 0 and body["by_status"] == {} and body["new_contacts"]["buckets"] == []


def test_default_range_is_the_last_30_days(api):
    ContactFactory()
    body = report(api)
    start = dt.datetime.fromisoformat(body["new_contacts"]["start"])
    end = dt.datetime.fromisoformat(body["new_contacts"]["end"])
    assert end - start == dt.timedelta(days=30) and abs(end - timezone.now()) < dt.timedelta(minutes=1)
    assert sum(b["count"] for b in body["new_contacts"]["buckets"]) == 1


@pytest.mark.parametrize("params, field", [
    ({"period": "year"}, "period"), ({"start": "soon"}, "start"),
    ({"start": "2030-02-01T00:00:00Z", "end": "2030-01-01T00:00:00Z"}, "start"),
    ({"status": "bogus"}, "status"), ({"colour": "red"}, "colour"), ({"organization": "x"}, "organization"),
])
def test_bad_report_parameters_are_400(api, params, field):
    assert_problem(api.get(URL, params), 400, field)


def test_report_needs_credentials(anon):
    assert_problem(anon.get(URL), 401)


def test_report_query_count(api, world, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):  # token, grouping sets, series
        report(api, status="active,new")
