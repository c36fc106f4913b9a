import datetime as dt

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from communications.models import Communication
from contacts.models import ContactCategory, GroupMembership
from contacts.tests.factories import CategoryFactory, ContactFactory, GroupFactory, OrganizationFactory
from planning import segments
from planning.models import Segment, SegmentChange, SegmentMembership

pytestmark = pytest.mark.django_db
URL = "/api/v1/segments/"


def create(api, rules, **extra):
    return api.post(URL, {"name": "S", "rules": rules, **extra}, format="json")


def ids(response):
    return {row["id"] for row in response.json()["results"]}


def test_and_or_not_fields_tags_and_custom_fields(api):
    vip = ContactFactory(status="active", tags=["vip"], custom_fields={"tier": "gold"})
    partner = ContactFactory(status="active", type_id=None, custom_fields={"tier": "silver"})
    ContactFactory(status="archived", tags=["vip"])
    rules = {"and": [{"field": "status", "op": "eq", "value": "active"},
                     {"or": [{"tag": "vip"}, {"field": "custom.tier", "op": "eq", "value": "silver"}]},
                     {"not": {"field": "type", "op": "eq", "value": "vendor"}}]}
    segment = create(api, rules).json()
    assert ids(api.get(f"{URL}{segment['id']}/contacts/")) == {str(vip.pk), str(partner.pk)}


def test_category_with_descendants_group_and_organization_subtree():
    root = CategoryFactory(name="Partners")
    child = CategoryFactory(name="Resellers", parent=root)
    in_child = ContactFactory()
    ContactCategory.objects.create(contact=in_child, category=child)
    assert set(segments.segment_queryset({"category": str(root.pk)})) == {in_child}
    assert not segments.segment_queryset({"category": str(root.pk), "descendants": False}).exists()

    parent = OrganizationFactory()
    subsidiary = OrganizationFactory(parent=parent)
    employee = ContactFactory(organization=subsidiary)
    assert set(segments.segment_queryset({"organization": str(parent.pk), "descendants": True})) == {employee}

    group = GroupFactory()
    GroupMembership.objects.create(group=group, contact=employee)
    assert set(segments.segment_queryset({"group": str(group.pk)})) == {employee}


def test_communication_events_and_not_contacted():
    now = timezone.now()
    opener, quiet = ContactFactory(last_contacted_at=now), ContactFactory(last_contacted_at=now - dt.timedelta(days=40))
    campaign = "0190a6f0-0000-7000-8000-0000000000aa"
    Communication.objects.create(contact=opener, type="email", status="opened", campaign_id=campaign)
    assert set(segments.segment_queryset({"event": "opened", "campaign": campaign})) == {opener}
    assert set(segments.segment_queryset({"event": "opened", "within_days": 7})) == {opener}
    assert set(segments.segment_queryset({"not_contacted_for_days": 30})) == {quiet}


def test_segments_inside_segments_and_cycles_refused(api):
    active = ContactFactory(status="active", tags=["vip"])
    ContactFactory(status="active")
    inner = create(api, {"field": "status", "op": "eq", "value": "active"}).json()
    outer = create(api, {"and": [{"segment": inner["id"]}, {"tag": "vip"}]}).json()
    assert ids(api.get(f"{URL}{outer['id']}/contacts/")) == {str(active.pk)}
    cycle = api.patch(f"{URL}{inner['id']}/", {"rules": {"segment": outer["id"]}}, format="json")
    assert cycle.status_code == 400
    assert cycle.json()["errors"][0]["code"] == "cycle"
    self_ref = api.patch(f"{URL}{inner['id']}/", {"rules": {"segment": inner["id"]}}, format="json")
    assert self_ref.status_code == 400
    assert api.delete(f"{URL}{inner['id']}/").status_code == 409  # used by outer


@pytest.mark.parametrize("rules, path", [
    ({"field": "colour", "op": "eq", "value": "red"}, "rules.field"),
    ({"and": [{"tag": "vip"}, {"field": "priority", "op": "eq", "value": "high"}]}, "rules.and[1].value"),
    ({"field": "status", "op": "like", "value": "a"}, "rules.op"),
    ({"or": []}, "rules.or"),
    ({"category": "not-an-id"}, "rules.category"),
    ({"tag": "vip", "group": "x"}, "rules"),
    ({"event": "teleported"}, "rules.event"),
    ({"not_contacted_for_days": 0}, "rules.not_contacted_for_days"),
    ({"segment": "0190a6f0-0000-7000-8000-000000000000"}, "rules.segment"),
    ([], "rules"),
])
def test_bad_rules_are_400_with_the_path(api, rules, path):
    response = create(api, rules)
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == path
    assert not Segment.objects.exists()


def test_preview_and_explain(api):
    match = ContactFactory(status="active", priority=2)
    miss = ContactFactory(status="inactive", priority=2)
    rules = {"and": [{"field": "status", "op": "eq", "value": "active"},
                     {"field": "priority", "op": "gte", "value": 2}]}
    preview = api.post(f"{URL}preview/", {"rules": rules}, format="json").json()
    assert preview["count"] == 1 and preview["sample"][0]["id"] == str(match.pk)
    segment = create(api, rules).json()
    explained = api.get(f"{URL}{segment['id']}/explain/?contact={miss.pk}").json()
    assert explained["matches"] is False
    assert [r["met"] for r in explained["rules"]] == [False, True]
    assert api.get(f"{URL}{segment['id']}/explain/").status_code == 400


def test_derived_segment_rows_follow_deletes_without_database_foreign_keys(api, django_capture_on_commit_callbacks,
                                                                          celery_eager):
    """Membership and change rows have no foreign-key checks in the database (they cost a first
    materialization half its time): deleting a contact or a segment still removes its rows, and a refresh
    removes a member whose contact went away behind the ORM's back."""
    from django.db import connection

    kept, deleted, vanished = (ContactFactory(status="active") for _ in range(3))
    with django_capture_on_commit_callbacks(execute=True):
        segment = create(api, {"field": "status", "op": "eq", "value": "active"}, materialized=True).json()
    assert SegmentMembership.objects.count() == 3
    assert api.delete(f"/api/v1/contacts/{deleted.pk}/").status_code == 204
    assert not SegmentMembership.objects.filter(contact_id=deleted.pk).exists()
    with connection.cursor() as cursor:  # as a raw cleanup would: no cascade at all
        cursor.execute("DELETE FROM contacts_contact WHERE id = %s", [vanished.pk])
    result = api.post(f"{URL}{segment['id']}/refresh/").json()
    assert (result["left"], result["members"]) == (1, 1)
    assert set(SegmentMembership.objects.values_list("contact_id", flat=True)) == {kept.pk}
    assert api.delete(f"{URL}{segment['id']}/").status_code == 204
    assert not SegmentMembership.objects.exists() and not SegmentChange.objects.exists()


def test_materialized_refresh_records_joins_and_leaves(api, django_capture_on_commit_callbacks, celery_eager):
    first = ContactFactory(status="active")
    with django_capture_on_commit_callbacks(execute=True):
        segment = create(api, {"field": "status", "op": "eq", "value": "active"}, materialized=True).json()
    assert set(SegmentMembership.objects.values_list("contact_id", flat=True)) == {first.pk}
    second = ContactFactory(status="active")
    first.status = "archived"
    first.save()
    result = api.post(f"{URL}{segment['id']}/refresh/").json()
    assert (result["joined"], result["left"], result["members"]) == (1, 1, 1)
    changes = api.get(f"{URL}{segment['id']}/changes/").json()["results"]
    assert {(c["contact_id"], c["joined"]) for c in changes} == {(str(first.pk), True), (str(first.pk), False),
                                                                 (str(second.pk), True)}
    assert api.post(f"{URL}{segment['id']}/refresh/").json()["joined"] == 0  # a refresh is idempotent
    assert SegmentChange.objects.count() == 3


@pytest.mark.parametrize("rules", [{"tag": "\x00"}, {"field": "last_name", "op": "eq", "value": "a\x00b"},
                                   {"field": "tags", "op": "in", "value": ["ok", "\x00"]}])
def test_nul_in_rule_text_is_a_rule_error(rules):
    """Found by the property test below: PostgreSQL text cannot hold NUL, so it is refused before any query."""
    with pytest.raises(segments.RuleError):
        segments.segment_queryset(rules).exists()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
                    lambda children: st.lists(children, max_size=3) | st.dictionaries(
                        st.sampled_from(["and", "or", "not", "field", "op", "value", "tag", "event"]), children,
                        max_size=3), max_leaves=8))
def test_arbitrary_rules_never_crash(rules):
    try:
        segments.segment_queryset(rules).exists()
    except segments.RuleError:
        pass
