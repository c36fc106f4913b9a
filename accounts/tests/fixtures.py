"""Users of each role, teams, and API clients authenticated with their own named tokens (imported by the
conftest of every app whose tests need them)."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts import roles, services
from accounts.models import Team, TeamMembership


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
