"""One error format everywhere (RFC 9457 problem details): every error kind, the token endpoint, throttling."""
import pytest
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.test import RequestFactory
from rest_framework import exceptions as drf
from rest_framework.authtoken.models import Token

from contacts.tests.factories import ContactFactory
from contacts_project import errors
from contacts_project.errors import Conflict, FieldError, InvalidInput
from contacts_project.throttling import AnonRateThrottle, TokenObtainThrottle, UserRateThrottle
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db


def test_400_401_404_405_409_413_415_share_one_format(api, anon):
    contact = ContactFactory(status="archived")
    assert_problem(api.post("/api/v1/contacts/", {"email": "nope"}), 400, "email", "invalid")
    assert_problem(anon.get("/api/v1/contacts/"), 401)
    assert_problem(api.get("/api/v1/contacts/not-a-uuid/"), 404)
    assert_problem(api.get("/api/v1/no-such-endpoint/"), 404)
    assert_problem(anon.get("/no-such-page/"), 404)
    assert_problem(api.delete("/api/v1/contacts/"), 405)
    body = assert_problem(api.post(f"/api/v1/contacts/{contact.pk}/status/", {"status": "inactive"}), 409)
    assert body["type"].endswith("/conflict")
    raw = b'{"a": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    assert_problem(api.generic("POST", "/api/v1/groups/", raw, content_type="application/json"), 413)
    assert_problem(api.generic("POST", "/api/v1/groups/", b"name=x", content_type="text/plain"), 415)


def test_non_numeric_content_length_is_400(api):
    response = api.generic("POST", "/api/v1/contacts/", b"{}", content_type="application/json",
                           CONTENT_LENGTH="lots")
    assert_problem(response, 400)


def test_the_error_handlers_directly():
    request = RequestFactory().get("/")
    for view, status in ((errors.not_found_view, 404), (errors.bad_request_view, 400),
                         (errors.permission_denied_view, 403)):
        response = view(request)
        assert response.status_code == status and response["Content-Type"] == "application/problem+json"
    assert errors.server_error_view(request).status_code == 500


@pytest.mark.parametrize("exc, status, field", [
    (InvalidInput.field("email", "bad", "invalid"), 400, "email"),
    (Conflict("state", errors=[FieldError("status", "conflict", "no")]), 409, "status"),
    (DjangoValidationError({"phone": ["bad phone"]}), 400, "phone"),
    (DjangoValidationError("plain"), 400, "non_field_errors"),
    (Http404(), 404, None),
    (PermissionDenied(), 403, None),
    (drf.ValidationError({"contacts": [{"email": ["bad"]}, {}]}), 400, "contacts[0].email"),
    (drf.ValidationError(["top level"]), 400, "non_field_errors"),
    (drf.ValidationError("just text"), 400, "non_field_errors"),
    (drf.ParseError("bad json"), 400, "body"),
    (drf.NotAuthenticated(), 401, None),
    (drf.MethodNotAllowed("PUT"), 405, None),
    (drf.Throttled(wait=12.3), 429, None),
    (RuntimeError("boom"), 500, None),
])
def test_exception_handler_maps_every_kind(exc, status, field):
    response = errors.problem_exception_handler(exc, {})
    assert response.status_code == status
    assert response.data["status"] == status and response.data["detail"]
    if field:
        assert field in {e["field"] for e in response.data["errors"]}, response.data
    if status == 429:
        assert response["Retry-After"] == "14"
    if status == 401:
        assert response["WWW-Authenticate"]


def test_flatten_nested_errors():
    flat = errors.flatten_drf_errors({"a": {"non_field_errors": ["x"]}, "b": [[{"c": ["y"]}]]})
    assert {e["field"] for e in flat} == {"a", "b[0][0].c"}


# --------------------------------------------------------------------------- token endpoint and throttles
def test_token_endpoint(anon, admin_user):
    response = anon.post("/api/v1/auth/token/", {"username": "admin", "password": "pw-admin-123456"})
    assert response.status_code == 200
    token = response.json()["token"]
    assert Token.objects.get(user=admin_user).key == token
    anon.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert anon.get("/api/v1/contacts/").status_code == 200
    assert_problem(anon.post("/api/v1/auth/token/", {"username": "admin", "password": "wrong"}), 400)
    assert_problem(anon.post("/api/v1/auth/token/", {"username": "admin"}), 400, "password")


def test_token_endpoint_is_throttled_per_address(anon, admin_user, monkeypatch):
    monkeypatch.setattr(TokenObtainThrottle, "THROTTLE_RATES", {"token": "2/min"})
    for _ in range(2):
        anon.post("/api/v1/auth/token/", {"username": "admin", "password": "wrong"})
    response = anon.post("/api/v1/auth/token/", {"username": "admin", "password": "pw-admin-123456"})
    body = assert_problem(response, 429)
    assert body["type"].endswith("/throttled")
    assert 1 <= int(response["Retry-After"]) <= 61


def test_authenticated_requests_are_throttled_per_user(api, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "100/min"})
    for _ in range(3):
        assert api.get("/api/v1/contacts/").status_code == 200
    response = api.get("/api/v1/contacts/")
    assert_problem(response, 429)
    assert int(response["Retry-After"]) >= 1


def test_anonymous_requests_are_throttled(anon, monkeypatch):
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/min", "user": "100/min"})
    # DRF checks permissions before throttles, so a public endpoint shows the anonymous rate
    statuses = [anon.get("/api/v1/docs/", HTTP_ACCEPT="text/html").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
