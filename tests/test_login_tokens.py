"""The login token lookup: one statement per request, and a revoked token or deactivated user stops at once."""
import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def client_for(token: Token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.mark.django_db
def test_the_token_and_its_user_are_read_in_one_statement():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    user = User.objects.create_user("reader", password="x", is_superuser=True, is_staff=True)
    client = client_for(Token.objects.create(user=user))
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/groups/")
    assert response.status_code == 200, response.content
    auth = [q["sql"] for q in queries if "authtoken_token" in q["sql"] or "auth_user" in q["sql"]]
    assert len(auth) == 1 and "auth_user" in auth[0] and "authtoken_token" in auth[0]


@pytest.mark.django_db
def test_the_request_user_is_the_full_user():
    from accounts.auth import ApiTokenAuthentication

    user = User.objects.create_user("full", email="full@example.com", password="x", first_name="Ada")
    token = Token.objects.create(user=user)
    got, got_token = ApiTokenAuthentication().authenticate_credentials(token.key)
    assert (got.pk, got.username, got.email, got.first_name, got.is_active) == (user.pk, "full",
                                                                                 "full@example.com", "Ada", True)
    assert got.check_password("x") and got_token.pk == token.pk and got_token.user is got
    assert got.date_joined == user.date_joined and got_token.created == token.created


@pytest.mark.django_db
def test_a_revoked_token_is_refused_on_the_next_request():
    user = User.objects.create_user("revoked", password="x", is_superuser=True)
    token = Token.objects.create(user=user)
    client = client_for(token)
    assert client.get("/api/v1/groups/").status_code == 200
    token.delete()
    response = client.get("/api/v1/groups/")
    assert response.status_code == 401 and "Invalid token" in response.json()["detail"]


@pytest.mark.django_db
def test_a_deactivated_user_is_refused_on_the_next_request():
    user = User.objects.create_user("leaver", password="x", is_superuser=True)
    client = client_for(Token.objects.create(user=user))
    assert client.get("/api/v1/groups/").status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = client.get("/api/v1/groups/")
    assert response.status_code == 401 and "inactive" in response.json()["detail"]
