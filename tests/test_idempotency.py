import datetime as dt

import pytest
from django.utils import timezone

from contacts.models import Contact
from contacts_project.models import IdempotencyKey
from contacts_project.tasks import purge_idempotency_keys

pytestmark = pytest.mark.django_db

URL = "/api/v1/contacts/"


def post(api, body, key):
    return api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_same_key_same_body_returns_first_response_and_writes_once(api):
    body = {"first_name": "Ada", "email": "ada@example.com"}
    first = post(api, body, "k-1")
    second = post(api, body, "k-1")
    assert first.status_code == 201
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Contact.objects.count() == 1


def test_same_key_other_body_is_422(api):
    assert post(api, {"first_name": "Ada"}, "k-2").status_code == 201
    response = post(api, {"first_name": "Grace"}, "k-2")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert Contact.objects.count() == 1


def test_errors_are_replayed_too_but_server_errors_are_not_stored(api):
    bad = {"first_name": "Ada", "email": "nope"}
    assert post(api, bad, "k-3").status_code == 400
    assert post(api, bad, "k-3").status_code == 400
    assert IdempotencyKey.objects.get(key="k-3").status_code == 400


def test_keys_are_scoped_to_the_caller(api, django_user_model):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    other_user = django_user_model.objects.create_superuser("other", "o@example.com", "pw-other-123456")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=other_user).key}")
    assert post(api, {"first_name": "Ada"}, "shared").status_code == 201
    assert post(other, {"first_name": "Ada"}, "shared").json()["id"] != \
        post(api, {"first_name": "Ada"}, "shared").json()["id"]
    assert Contact.objects.count() == 2


def test_a_key_in_progress_is_409_and_an_abandoned_one_is_taken_over(api):
    scope_row = post(api, {"first_name": "Ada"}, "k-4")
    assert scope_row.status_code == 201
    record = IdempotencyKey.objects.get(key="k-4")
    record.status_code = None
    record.save()
    assert post(api, {"first_name": "Ada"}, "k-4").status_code == 409
    IdempotencyKey.objects.filter(pk=record.pk).update(created_at=timezone.now() - dt.timedelta(minutes=5))
    assert post(api, {"first_name": "Ada"}, "k-4").status_code in (201, 400)  # 400: the first already wrote


def test_expired_keys_are_purged_and_reusable(api):
    assert post(api, {"first_name": "Ada"}, "k-5").status_code == 201
    IdempotencyKey.objects.update(created_at=timezone.now() - dt.timedelta(hours=25))
    assert post(api, {"first_name": "Grace"}, "k-5").status_code == 201  # a new request after 24 h
    IdempotencyKey.objects.update(created_at=timezone.now() - dt.timedelta(hours=25))
    assert purge_idempotency_keys() == 1


def test_overlong_key_is_400(api):
    response = post(api, {"first_name": "Ada"}, "x" * 300)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
