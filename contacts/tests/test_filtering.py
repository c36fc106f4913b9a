"""Every contact filter, custom fields, the `q` language (with positioned errors) and saved views."""
import datetime as dt

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.models import Contact, ContactCategory, SavedView
from contacts.query_language import QuerySyntaxError, compile_query
from contacts.tests.factories import CategoryFactory, ContactFactory, ContactTypeFactory, GroupFactory
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db
URL = "/api/v1/contacts/"


def ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def people():
    ContactTypeFactory(key="vendor", label="Vendor")
    ContactTypeFactory(key="customer", label="Customer")
    partners = CategoryFactory(name="Partners")
    resellers = CategoryFactory(name="Resellers", parent=partners)
    vip_active = ContactFactory(first_name="Zoë", last_name="Müller", status="active", tags=["vip"],
                                type_id="customer", custom_fields={"tier": "gold", "seats": 50})
    reseller = ContactFactory(last_name="Reseller", status="active", type_id="customer",
                              custom_fields={"tier": "silver", "seats": 5})
    ContactCategory.objects.create(contact=reseller, category=resellers)
    vendor = ContactFactory(last_name="Vendor", status="active", tags=["vip"], type_id="vendor")
    inactive = ContactFactory(last_name="Sleeper", status="inactive", tags=["vip"])
    old = timezone.now() - dt.timedelta(days=400)
    Contact.objects.filter(pk=inactive.pk).update(created_at=old, last_contacted_at=old)
    Contact.objects.filter(pk=vip_active.pk).update(last_contacted_at=timezone.now())
    return {"vip_active": vip_active, "reseller": reseller, "vendor": vendor, "inactive": inactive,
            "partners": partners}


def test_the_issue_example_compiles_to_sql(api, people, django_assert_max_num_queries):
    q = "status:active AND (tag:vip OR category:partners) AND NOT type:vendor"
    with django_assert_max_num_queries(5):  # auth, category by name, its subtree, type check, the page
        r = api.get(URL, {"q": q})
    assert ids(r) == {str(people["vip_active"].pk), str(people["reseller"].pk)}


@pytest.mark.parametrize("q, expected", [
    ("tag:vip -status:inactive", {"vip_active", "vendor"}),
    ("status:active,inactive type:none", {"inactive"}),
    ('last_name:"müller"', {"vip_active"}),
    ("last_name:res*", {"reseller"}),
    ("custom.tier:gold OR custom.tier:silver", {"vip_active", "reseller"}),
    ("custom.seats>=10", {"vip_active"}),
    ("custom.seats:5", {"reseller"}),
    ("created_at<2025-12-31 OR last_contacted_at>=2099-01-01", {"inactive"}),
    ("has:last_contacted_at NOT last_contacted_at<2000-01-01 tag:vip", {"vip_active", "inactive"}),
    ("muller", {"vip_active"}),  # free text is `search`: accents and case ignored
    ("category_exact:partners", set()),
    ("NOT (tag:vip OR has:categories)", set()),
])
def test_q_expressions(api, people, q, expected):
    assert ids(api.get(URL, {"q": q})) == {str(people[name].pk) for name in expected}


@pytest.mark.parametrize("q, position, code", [
    ("status:active AND", 18, "unexpected_end"),
    ("status:active AND (tag:vip", 19, "unbalanced"),
    ("status:active) ", 14, "unbalanced"),
    ("colour:red", 1, "unknown_field"),
    ("status:gone", 1, "invalid_choice"),
    ("tag:vip AND created_at>2026-13-01", 13, "invalid_date"),
    ('tag:"vip', 5, "unterminated_quote"),
    ("category:nowhere", 1, "does_not_exist"),
    ("type:alien", 1, "does_not_exist"),
    ("()", 2, "unexpected_token"),
    ("tag:", 5, "missing_value"),
    ("status>active", 1, "invalid_operator"),
])
def test_q_errors_are_400_on_q_with_the_position(api, people, q, position, code):
    body = assert_problem(api.get(URL, {"q": q}), 400, "q", code)
    assert body["position"] == position
    assert f"position {position}" in body["errors"][0]["message"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet='ab:()" -<>=,.*ORANDNOT\\', max_size=40))
def test_any_input_compiles_or_is_a_positioned_400(text):
    try:
        condition = compile_query(text)
    except QuerySyntaxError as exc:
        assert 1 <= exc.position <= len(text) + 1
        assert exc.errors[0].field == "q"
    else:
        list(Contact.objects.filter(condition)[:1])  # valid SQL


def test_plain_filters_cover_every_field(api, people, admin_user):
    p = people
    Contact.objects.filter(pk=p["reseller"].pk).update(owner=admin_user, job_title="Buyer", engagement_score=7.5)
    group = GroupFactory()
    group.contacts.add(p["vendor"])
    checks = [
        ({"custom__tier": "gold"}, {"vip_active"}),
        ({"custom__seats": "5"}, {"reseller"}),
        ({"custom__tier": "gold", "status": "active"}, {"vip_active"}),
        ({"owner": admin_user.pk}, {"reseller"}),
        ({"job_title": "buyer"}, {"reseller"}),
        ({"engagement_score_min": 7}, {"reseller"}),
        ({"last_name": "VENDOR"}, {"vendor"}),
        ({"group": str(group.pk)}, {"vendor"}),
        ({"tag": "vip", "type": "vendor"}, {"vendor"}),
        ({"last_contacted_before": (timezone.now() - dt.timedelta(days=1)).isoformat()}, {"inactive"}),
        ({"created_before": (timezone.now() - dt.timedelta(days=300)).isoformat()}, {"inactive"}),
        ({"search": "zoe"}, {"vip_active"}),
    ]
    for params, expected in checks:
        assert ids(api.get(URL, params)) == {str(p[name].pk) for name in expected}, params
    assert_problem(api.get(URL, {"colour": "red"}), 400, "colour", "unknown_filter")
    assert_problem(api.get(URL, {"custom__bad key": "x"}), 400, "custom__bad key")


def test_list_query_count_is_pinned_for_filters(api, people, django_assert_max_num_queries):
    for params in ({"status": "active"}, {"tag": "vip"}, {"custom__tier": "gold"},
                   {"category": str(people["partners"].pk)}, {"search": "müller"}):
        with django_assert_max_num_queries(3):
            assert api.get(URL, params).status_code == 200


# --------------------------------------------------------------------------- saved views
def test_saved_views_crud_visibility_and_use_everywhere(api, people, django_user_model, celery_eager,
                                                        django_capture_on_commit_callbacks):
    r = api.post("/api/v1/views/", {"name": "VIP customers", "params": {"status": "active"}, "q": "tag:vip"})
    assert r.status_code == 201, r.content
    view_id = r.json()["id"]
    expected = {str(people["vip_active"].pk), str(people["vendor"].pk)}
    assert ids(api.get(URL, {"view": view_id})) == expected
    assert ids(api.get(URL, {"view": view_id, "type": "vendor"})) == {str(people["vendor"].pk)}  # AND
    report = api.get("/api/v1/reports/contacts/", {"view": view_id})
    assert report.status_code == 200 and report.json()["total"] == 2
    with django_capture_on_commit_callbacks(execute=True):
        job = api.post("/api/v1/contacts/actions/", {"action": "add_tags", "params": {"tags": ["seen"]},
                                                     "filter": {"view": view_id}})
    assert job.status_code == 202, job.content
    assert api.get(f"/api/v1/contacts/actions/{job.json()['id']}/").json()["changed"] == 2
    # another user sees shared views only
    other = django_user_model.objects.create_user("other", password="pw-other-123456")
    # the admin role sees every contact, so only the view's sharing decides what `other` gets
    from django.contrib.auth.models import Group

    from contacts.selectors import ADMIN_ROLE

    other.groups.add(Group.objects.get_or_create(name=ADMIN_ROLE)[0])
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(other)
    assert client.get(f"/api/v1/views/{view_id}/").status_code == 404
    assert_problem(client.get(URL, {"view": view_id}), 400, "view", "does_not_exist")
    assert api.patch(f"/api/v1/views/{view_id}/", {"shared": True}).status_code == 200
    assert client.get(f"/api/v1/views/{view_id}/").status_code == 200
    assert ids(client.get(URL, {"view": view_id})) == expected
    assert client.delete(f"/api/v1/views/{view_id}/").status_code == 404  # shared is read-only for others
    mine = client.post("/api/v1/views/", {"name": "Mine", "q": "status:new"})
    assert mine.status_code == 201
    assert {v["name"] for v in client.get("/api/v1/views/").json()["results"]} == {"VIP customers", "Mine"}
    assert api.delete(f"/api/v1/views/{view_id}/").status_code == 204
    assert not SavedView.objects.filter(pk=view_id).exists()


def test_saved_view_bad_input(api):
    assert_problem(api.post("/api/v1/views/", {"name": "x", "q": "status:active AND"}), 400, "filter.q")
    assert_problem(api.post("/api/v1/views/", {"name": "x", "params": {"colour": "red"}}), 400, "filter.colour")
    assert_problem(api.post("/api/v1/views/", {"name": "x", "params": {"view": "y"}}), 400, "params.view")
    assert_problem(api.post("/api/v1/views/", {"name": "x", "owner": 3}), 400, "owner")
    assert api.post("/api/v1/views/", {"name": "Dup"}).status_code == 201
    assert_problem(api.post("/api/v1/views/", {"name": "dup"}), 400, "name", "unique")
    assert_problem(api.get(URL, {"view": "00000000-0000-0000-0000-000000000000"}), 400, "view")
