"""Users of each role, teams, and API clients authenticated with their own named tokens."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from collaboration import roles, services
from organization.models import Team, TeamMembership


@pytest.fixture(autouse=True)
def _fresh_subscription_memo():
    """Tests create subscriptions straight in the DB too: forget the memoised subscribed event types."""
    services._SUBSCRIBED.update(at=-1e9)
    yield
    services._SUBSCRIBED.update(at=-1e9)


@pytest.fixture
def make_user(django_user_model):
    def make(username: str, role: str | None = "member", *, teams=(), team_role: str = "member", email: str = ""):
        user = django_user_model.objects.create_user(username, email or f"{username}@example.com", "pw-123456789")
        roles.set_role(user, role)
        for team in teams:
            TeamMembership.objects.create(team=team, user=user, role=team_role)
        return user
    return make


@pytest.fixture
def client_for():
    def make(user) -> APIClient:
        _, key = services.token_create(user=user, name=f"test-{user.pk}-{id(user)}")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        client.user = user
        return client
    return make


@pytest.fixture
def teams(db):
    return Team.objects.create(name="Red"), Team.objects.create(name="Blue")


@pytest.fixture
def campaign(db, admin_user):
    from communications.models import MessageTemplate
    from planning.models import Campaign

    template = MessageTemplate.objects.create(name="T", channel="email", subject="Hi", text_body="Hello")
    return Campaign.objects.create(name="Spring", message_template=template, owner=admin_user)
