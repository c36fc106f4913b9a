"""Roles as groups, named API tokens (listed, revoked, carrying their user's rights), teams and members."""
import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import ApiToken, TeamMembership
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db


def test_setup_roles_made_the_four_groups_with_graded_permissions():
    perms = {g.name: set(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()}
    assert {"admin", "manager", "member", "viewer"} <= set(perms)
    assert "view_contact" in perms["viewer"] and "change_contact" not in perms["viewer"]
    assert "change_contact" in perms["member"] and "change_team" not in perms["member"]
    assert "change_team" in perms["manager"] and "add_webhooksubscription" not in perms["manager"]
    assert perms["member"] < perms["manager"] < perms["admin"]


def test_setup_roles_command_is_idempotent():
    from django.core.management import call_command

    call_command("setup_roles")
    call_command("setup_roles")
    assert Group.objects.filter(name="viewer").count() == 1


def test_named_tokens_are_created_listed_by_prefix_used_and_revoked(make_user, client_for):
    user = make_user("ann")
    client = client_for(user)
    created = client.post("/api/v1/auth/tokens/", {"name": "ci"}, format="json")
    assert created.status_code == 201, created.content
    key = created.json()["key"]
    assert key.startswith("ctk_") and ApiToken.objects.get(name="ci").digest != key  # only a digest is kept

    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    me = other.get("/api/v1/users/me/")
    assert me.status_code == 200 and me.json()["username"] == "ann"

    listed = client.get("/api/v1/auth/tokens/").json()
    ci = next(t for t in listed if t["name"] == "ci")
    assert ci["prefix"] == key[:12] and ci["last_used_at"] is not None and "key" not in ci

    assert client.delete(f"/api/v1/auth/tokens/{ci['id']}/").status_code == 204
    assert_problem(other.get("/api/v1/users/me/"), 401)


def test_token_name_must_be_unique_and_someone_elses_token_is_404(make_user, client_for):
    ann, bob = make_user("ann"), make_user("bob")
    client = client_for(ann)
    client.post("/api/v1/auth/tokens/", {"name": "x"}, format="json")
    assert_problem(client.post("/api/v1/auth/tokens/", {"name": "x"}, format="json"), 400, "name", "unique")
    assert_problem(client.post("/api/v1/auth/tokens/", {"name": "y", "scope": 1}, format="json"), 400, "scope")
    bobs = client_for(bob)
    token_id = ApiToken.objects.filter(user=ann, name="x").get().pk
    assert_problem(bobs.delete(f"/api/v1/auth/tokens/{token_id}/"), 404)


def test_login_token_still_works_and_can_be_revoked(make_user):
    user = make_user("carl")
    anon = APIClient()
    response = anon.post("/api/v1/auth/token/", {"username": "carl", "password": "pw-123456789"}, format="json")
    assert response.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert [t["id"] for t in client.get("/api/v1/auth/tokens/").json()] == ["login"]
    assert client.delete("/api/v1/auth/tokens/login/").status_code == 204
    assert not Token.objects.filter(user=user).exists()


def test_a_token_carries_its_users_rights(make_user, client_for, teams):
    viewer = client_for(make_user("vic", "viewer", teams=[teams[0]]))
    assert_problem(viewer.post("/api/v1/contacts/", {"first_name": "A", "team": str(teams[0].pk)},
                               format="json"), 403)
    member = client_for(make_user("meg", "member", teams=[teams[0]]))
    assert member.post("/api/v1/contacts/", {"first_name": "A", "team": str(teams[0].pk)},
                       format="json").status_code == 201


def test_teams_admin_creates_manager_manages_members_member_cannot(make_user, client_for, api):
    response = api.post("/api/v1/teams/", {"name": "Sales"}, format="json")
    assert response.status_code == 201, response.content
    team_id = response.json()["id"]
    assert_problem(api.post("/api/v1/teams/", {"name": "sales"}, format="json"), 400, "name", "unique")
    manager, member, newbie = make_user("mia", "manager"), make_user("max", "member"), make_user("ned", "member")
    assert api.post(f"/api/v1/teams/{team_id}/members/", {"user": manager.pk, "role": "manager"},
                    format="json").status_code == 200
    assert api.post(f"/api/v1/teams/{team_id}/members/", {"user": member.pk}, format="json").status_code == 200

    as_manager = client_for(manager)
    assert as_manager.post(f"/api/v1/teams/{team_id}/members/", {"user": newbie.pk, "role": "viewer"},
                           format="json").status_code == 200
    assert as_manager.patch(f"/api/v1/teams/{team_id}/", {"name": "Sales EU"}, format="json").status_code == 200
    assert_problem(as_manager.post(f"/api/v1/teams/{team_id}/members/", {"user": newbie.pk, "role": "admin"},
                                   format="json"), 403)
    assert_problem(as_manager.post("/api/v1/teams/", {"name": "Other"}, format="json"), 403)

    as_member = client_for(member)
    assert_problem(as_member.post(f"/api/v1/teams/{team_id}/members/", {"user": newbie.pk}, format="json"), 403)
    assert_problem(as_member.patch(f"/api/v1/teams/{team_id}/", {"name": "Mine"}, format="json"), 403)
    assert_problem(api.post(f"/api/v1/teams/{team_id}/members/", {"user": 999999}, format="json"), 400, "user")
    assert_problem(api.post(f"/api/v1/teams/{team_id}/members/", {"user": newbie.pk, "role": "boss"},
                            format="json"), 400, "role")

    members = api.get(f"/api/v1/teams/{team_id}/members/").json()
    assert {(m["username"], m["role"]) for m in members} == {("mia", "manager"), ("max", "member"), ("ned", "viewer")}
    assert as_manager.delete(f"/api/v1/teams/{team_id}/members/{newbie.pk}/").status_code == 204
    assert not TeamMembership.objects.filter(user=newbie).exists()
    assert api.get("/api/v1/teams/").json()["results"][0]["member_count"] == 2


def test_users_admin_sets_roles_others_cannot(make_user, client_for, api):
    created = api.post("/api/v1/users/", {"username": "zoe", "role": "viewer", "password": "long-enough-pw"},
                       format="json")
    assert created.status_code == 201 and created.json()["role"] == "viewer"
    zoe_id = created.json()["id"]
    assert api.patch(f"/api/v1/users/{zoe_id}/", {"role": "manager"}, format="json").json()["role"] == "manager"
    assert_problem(api.patch(f"/api/v1/users/{zoe_id}/", {"role": "king"}, format="json"), 400, "role")
    member = client_for(make_user("max", "member"))
    assert_problem(member.patch(f"/api/v1/users/{zoe_id}/", {"role": "admin"}, format="json"), 403)
    assert member.get("/api/v1/users/?search=zo").json()["results"][0]["username"] == "zoe"
