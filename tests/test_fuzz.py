"""API fuzzing: schemathesis against our own OpenAPI schema, every operation, authenticated.

Runs in-process through the WSGI app against the real test database. Bounded (FUZZ_EXAMPLES per
operation, default 8) so it fits in `make test`; `make soak` / FUZZ_EXAMPLES=200 runs it longer.
Checks: no 5xx, responses match the schema (body, status code, content type).
"""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from contacts_project.wsgi import application

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)


@pytest.fixture(autouse=True)
def keep_test_connection():
    """Requests through the WSGI app would close the test's database connection when they finish (Django's
    test client avoids this the same way)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_token(django_user_model):
    user, _ = django_user_model.objects.get_or_create(username="fuzzer", defaults={"is_superuser": True,
                                                                                    "is_staff": True})
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_operations(case, fuzz_token):
    response = case.call(headers={"Authorization": f"Token {fuzz_token}"})
    case.validate_response(response, checks=CHECKS)
