"""An installation from before the apps were re-roomed upgrades in place: a database filled at the earlier
migration state (teams in organization, API tokens in collaboration, saved views in organization, imports and
duplicates in contacts) migrates forward with every row still there, read through the models' new homes."""
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("contacts", "0010_drop_name_and_domain_indexes"), ("organization", "0003_lean_indexes"),
          ("collaboration", "0002_lean_indexes"), ("accounts", None), ("dataquality", None)]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state([(app, name) for app, name in targets if name]).apps


@pytest.mark.django_db(transaction=True)
def test_rows_written_before_the_moves_are_found_after_them():
    old = migrate(BEFORE)
    User = old.get_model("auth", "User")
    user = User.objects.create(username="legacy", password="!")
    team = old.get_model("organization", "Team").objects.create(name="Sales")
    old.get_model("organization", "TeamMembership").objects.create(team=team, user=user, role="member")
    old.get_model("collaboration", "ApiToken").objects.create(user=user, name="phone", prefix="ctk_ab",
                                                              digest="d" * 64)
    old.get_model("organization", "SavedView").objects.create(name="Hot leads", owner=user,
                                                              params={"status": "active"})
    contact = old.get_model("contacts", "Contact").objects.create(first_name="Ada", email="ada@example.com",
                                                                  team=team)
    old.get_model("contacts", "ImportJob").objects.create(format="csv", path="imports/x.csv", content_hash="h",
                                                          actor=user)
    other = old.get_model("contacts", "Contact").objects.create(first_name="Ada", email="ada2@example.com")
    old.get_model("contacts", "DuplicateCandidate").objects.create(contact_a=contact, contact_b=other, score=0.9,
                                                                   reasons=["name"])

    executor = MigrationExecutor(connection)
    new = migrate(executor.loader.graph.leaf_nodes())

    team = new.get_model("accounts", "Team").objects.get(name="Sales")
    assert new.get_model("accounts", "TeamMembership").objects.get(team=team).user.username == "legacy"
    assert new.get_model("accounts", "ApiToken").objects.get(name="phone").user.username == "legacy"
    assert new.get_model("contacts", "SavedView").objects.get(name="Hot leads").params == {"status": "active"}
    assert new.get_model("contacts", "Contact").objects.get(email="ada@example.com").team_id == team.pk
    assert new.get_model("dataquality", "ImportJob").objects.get(path="imports/x.csv").actor.username == "legacy"
    assert new.get_model("dataquality", "DuplicateCandidate").objects.get().contact_a.email == "ada@example.com"
