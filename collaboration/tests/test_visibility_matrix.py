"""The visibility matrix: each role × each endpoint × own-team / other-team / shared contact.

A member or manager sees the contacts of their teams, those they own and those shared with them; a viewer
reads the same but writes nothing; an admin (role) sees everything. What one may not see is 404 — and it
never shows up in lists, search, exports, group/list/segment members, reports or counts."""
import pytest
from django.core.cache import cache as django_cache

from contacts.models import ContactGroup, ContactShare, GroupMembership
from contacts.tests.factories import ContactFactory
from planning.models import ContactList, ListMembership, Segment
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db
ROLES = ["admin", "manager", "member", "viewer"]


@pytest.fixture
def world(make_user, client_for, teams, admin_user):
    red, blue = teams
    own = ContactFactory(team=red, first_name="Own", last_name="Red", email="own@red.example", status="active")
    other = ContactFactory(team=blue, first_name="Other", last_name="Blue", email="other@blue.example",
                           status="active")
    shared = ContactFactory(team=blue, first_name="Shared", last_name="Blue", email="shared@blue.example",
                            status="active")
    group = ContactGroup.objects.create(name="Everyone")
    GroupMembership.objects.bulk_create([GroupMembership(group=group, contact=c) for c in (own, other, shared)])
    the_list = ContactList.objects.create(name="All")
    ListMembership.objects.bulk_create([ListMembership(contact_list=the_list, contact=c) for c in (own, other, shared)])
    segment = Segment.objects.create(name="Active", rules={"field": "status", "op": "eq", "value": "active"})
    clients = {}
    for role in ROLES:
        user = make_user(f"{role}1", role, teams=[red], team_role=role if role != "admin" else "member")
        ContactShare.objects.create(contact=shared, user=user)
        clients[role] = client_for(user)
    return {"own": own, "other": other, "shared": shared, "group": group, "list": the_list, "segment": segment,
            "clients": clients, "admin": admin_user}


def ids(response) -> set:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def expected(role, world) -> set:
    visible = {world["own"], world["shared"]} | ({world["other"]} if role == "admin" else set())
    return {str(c.pk) for c in visible}


@pytest.mark.parametrize("role", ROLES)
def test_lists_search_members_and_exports_show_only_visible_contacts(world, role):
    client, want = world["clients"][role], expected(role, world)
    assert ids(client.get("/api/v1/contacts/")) == want
    assert ids(client.get("/api/v1/contacts/?search=blue")) == want - {str(world["own"].pk)}
    assert ids(client.get(f"/api/v1/groups/{world['group'].pk}/contacts/")) == want
    assert ids(client.get(f"/api/v1/lists/{world['list'].pk}/contacts/")) == want
    assert ids(client.get(f"/api/v1/segments/{world['segment'].pk}/contacts/?live=true")) == want
    export = client.get("/api/v1/contacts/export/?format=json")
    if role == "viewer":  # bulk export is its own permission (contacts.export_contacts), not a viewer's
        assert_problem(export, 403)
        return
    assert export.status_code == 200
    body = b"".join(export.streaming_content) if export.streaming else export.content
    assert (b"other@blue.example" in body) == (role == "admin")
    assert b"own@red.example" in body and b"shared@blue.example" in body
    csv = client.get("/api/v1/contacts/export/?format=csv")
    body = b"".join(csv.streaming_content) if csv.streaming else csv.content
    assert (b"other@blue.example" in body) == (role == "admin")


@pytest.mark.parametrize("role", ROLES)
def test_report_counts_only_visible_contacts(world, role):
    report = world["clients"][role].get("/api/v1/reports/contacts/")
    assert report.status_code == 200
    assert report.json()["total"] == len(expected(role, world))
    assert report.json()["by_status"] == {"active": len(expected(role, world))}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("which", ["own", "other", "shared"])
def test_reads_of_one_contact(world, role, which):
    client, contact = world["clients"][role], world[which]
    status = 404 if which == "other" and role != "admin" else 200
    for path in ("", "history/", "activity/", "communications/", "preferences/"):
        response = client.get(f"/api/v1/contacts/{contact.pk}/{path}")
        assert response.status_code == status, (path, response.content)
    notes = client.get(f"/api/v1/notes/?contact={contact.pk}")
    assert notes.status_code == status
    if status == 404:
        assert_problem(client.get(f"/api/v1/contacts/{contact.pk}/"), 404)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("which", ["own", "other", "shared"])
def test_writes_to_one_contact(world, role, which):
    client, contact = world["clients"][role], world[which]
    patch = client.patch(f"/api/v1/contacts/{contact.pk}/", {"job_title": "Boss"}, format="json")
    status_change = client.post(f"/api/v1/contacts/{contact.pk}/status/", {"status": "inactive"}, format="json")
    note = client.post("/api/v1/notes/", {"contact": str(contact.pk), "body": "hello"}, format="json")
    if role == "viewer":
        expected_status = 403  # no write permission at all (nothing revealed about existence)
    elif which == "other" and role != "admin":
        expected_status = 404
    elif which == "shared":
        expected_status = 403 if role != "admin" else 200  # shared read-only
    else:
        expected_status = 200
    assert patch.status_code == expected_status, patch.content
    assert status_change.status_code == expected_status, status_change.content
    if role == "viewer":
        assert note.status_code == 403
    elif which == "other" and role != "admin":
        assert_problem(note, 400, "contact", "does_not_exist")  # an unseen contact does not exist
    else:
        assert note.status_code == 201


@pytest.mark.parametrize("role", ["manager", "member"])
def test_delete_and_bulk_actions_only_reach_visible_editable_contacts(world, role):
    client = world["clients"][role]
    assert_problem(client.delete(f"/api/v1/contacts/{world['other'].pk}/"), 404)
    body = assert_problem(client.post("/api/v1/contacts/actions/", {
        "action": "add_tags", "params": {"tags": ["x"]}, "ids": [str(world["other"].pk)]}, format="json"),
        400, "ids", "does_not_exist")
    assert str(world["other"].pk) in body["missing"]
    started = client.post("/api/v1/contacts/actions/", {"action": "add_tags", "params": {"tags": ["x"]},
                                                        "filter": {"status": "active"}}, format="json")
    assert started.status_code in (201, 202), started.content
    assert started.json()["total"] == 1  # the own-team one; shared is read-only, other unseen
    assert client.delete(f"/api/v1/contacts/{world['own'].pk}/").status_code == 204


def test_viewer_in_a_team_reads_but_cannot_change_its_contacts(make_user, client_for, teams):
    red, _ = teams
    contact = ContactFactory(team=red)
    client = client_for(make_user("mixed", "member", teams=[red], team_role="viewer"))
    assert client.get(f"/api/v1/contacts/{contact.pk}/").status_code == 200
    assert_problem(client.patch(f"/api/v1/contacts/{contact.pk}/", {"job_title": "x"}, format="json"), 403)


def test_owner_sees_their_contact_and_shares_grant_edit(make_user, client_for, teams, world):
    outsider = make_user("solo", "member")
    client = client_for(outsider)
    mine = ContactFactory(owner=outsider)
    assert ids(client.get("/api/v1/contacts/")) == {str(mine.pk)}
    member = world["clients"]["member"]
    # the member may change the own-team contact, so may share it; not the read-only shared one
    assert member.post(f"/api/v1/contacts/{world['own'].pk}/shares/", {"user": outsider.pk, "can_edit": True},
                       format="json").status_code == 200
    assert_problem(member.post(f"/api/v1/contacts/{world['shared'].pk}/shares/", {"user": outsider.pk},
                               format="json"), 403)
    assert_problem(member.post(f"/api/v1/contacts/{world['other'].pk}/shares/", {"user": outsider.pk},
                               format="json"), 404)
    assert client.patch(f"/api/v1/contacts/{world['own'].pk}/", {"job_title": "Shared"},
                        format="json").status_code == 200
    assert member.delete(f"/api/v1/contacts/{world['own'].pk}/shares/{outsider.pk}/").status_code == 204
    assert_problem(client.get(f"/api/v1/contacts/{world['own'].pk}/"), 404)


def test_the_cached_detail_is_never_served_to_someone_who_may_not_see_it(world):
    admin = world["clients"]["admin"]
    other = world["other"]
    assert admin.get(f"/api/v1/contacts/{other.pk}/").status_code == 200  # warms the cache
    assert django_cache.get  # the detail is cached for everyone...
    assert_problem(world["clients"]["member"].get(f"/api/v1/contacts/{other.pk}/"), 404)  # ...but checked first


def test_list_query_count_is_pinned_for_members(world, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):  # token, its last-used stamp (first use), role, teams, page
        assert len(ids(world["clients"]["member"].get("/api/v1/contacts/"))) == 2
