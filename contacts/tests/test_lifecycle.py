"""The lifecycle table: every allowed move is 200, every other one is 409 naming both states."""
import itertools

import pytest
from django.utils import timezone

from contacts import services
from contacts.choices import ALLOWED_TRANSITIONS, ContactStatus
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from contacts_project.errors import Conflict, InvalidInput, NotFound
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db

STATUSES = ContactStatus.values
ALLOWED = {
    ("new", "active"), ("new", "inactive"), ("new", "archived"),
    ("active", "inactive"), ("active", "archived"),
    ("inactive", "active"), ("inactive", "archived"),
    ("archived", "active"),
}
MOVES = [(a, b) for a, b in itertools.product(STATUSES, STATUSES) if a != b]


def test_the_table_is_the_documented_one():
    assert {(a, b) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets} == ALLOWED
    assert not any(b == "new" for _, b in ALLOWED)  # nothing goes back to new


@pytest.mark.parametrize("current, target", MOVES)
def test_status_endpoint_follows_the_table(api, current, target):
    contact = ContactFactory(status=current)
    response = api.post(f"/api/v1/contacts/{contact.pk}/status/", {"status": target, "reason": "because"})
    if (current, target) in ALLOWED:
        assert response.status_code == 200, response.content
        assert response.json()["status"] == target
        assert Contact.objects.get(pk=contact.pk).status == target
    else:
        body = assert_problem(response, 409)
        assert current in body["detail"] and target in body["detail"]
        assert body["from"] == current and body["to"] == target
        assert body["allowed"] == sorted(ALLOWED_TRANSITIONS[current])
        assert Contact.objects.get(pk=contact.pk).status == current


@pytest.mark.parametrize("current, target", [m for m in MOVES if m not in ALLOWED])
def test_patch_with_a_disallowed_status_is_409_too(api, current, target):
    contact = ContactFactory(status=current, job_title="same")
    body = assert_problem(api.patch(f"/api/v1/contacts/{contact.pk}/", {"status": target, "job_title": "new"}), 409)
    assert body["from"] == current and body["to"] == target
    assert Contact.objects.get(pk=contact.pk).job_title == "same"  # nothing written


def test_patch_with_an_allowed_status_moves_it(api):
    contact = ContactFactory(status="new")
    response = api.patch(f"/api/v1/contacts/{contact.pk}/", {"status": "active"})
    assert response.status_code == 200 and response.json()["status"] == "active"
    assert Contact.objects.get(pk=contact.pk).status_changed_at is not None


def test_create_may_start_in_any_status(api):
    response = api.post("/api/v1/contacts/", {"first_name": "A", "status": "archived"})
    assert response.status_code == 201 and response.json()["status"] == "archived"


def test_same_status_is_a_no_op(api):
    contact = ContactFactory(status="active")
    response = api.post(f"/api/v1/contacts/{contact.pk}/status/", {"status": "active"})
    assert response.status_code == 200 and response.json()["status"] == "active"


@pytest.mark.parametrize("body, field", [
    ({"status": "bogus"}, "status"), ({}, "status"), ({"status": "active", "reason": "x" * 501}, "reason"),
    ({"status": "active", "why": "x"}, "why"),
])
def test_status_bad_input_is_400(api, body, field):
    contact = ContactFactory()
    assert_problem(api.post(f"/api/v1/contacts/{contact.pk}/status/", body), 400, field)
    assert Contact.objects.get(pk=contact.pk).status == "new"


def test_status_change_records_who_when_and_why_in_history(api, admin_user):
    contact = ContactFactory(status="new")
    before = timezone.now()
    assert api.post(f"/api/v1/contacts/{contact.pk}/status/",
                    {"status": "active", "reason": "Signed the contract"}).status_code == 200
    rows = api.get(f"/api/v1/contacts/{contact.pk}/history/").json()["results"]
    change = next(r for r in rows if r["action"] == "contact.status")
    assert change["actor"] == {"id": admin_user.pk, "username": "admin"}
    assert change["reason"] == "Signed the contract"
    assert change["changes"]["status"] == {"before": "new", "after": "active"}
    assert change["at"] >= before.isoformat().replace("+00:00", "Z")[:19]
    assert change["event"] == "updated"


def test_service_level_errors():
    contact = ContactFactory(status="archived")
    with pytest.raises(Conflict):
        services.contact_update_status(contact_id=contact.pk, status="inactive")
    with pytest.raises(InvalidInput):
        services.contact_update_status(contact_id=contact.pk, status="gone")
    with pytest.raises(InvalidInput):
        services.contact_update_status(contact_id=contact.pk, status="active", reason=5)
    with pytest.raises(NotFound):
        services.contact_update_status(contact_id="nope", status="active")
    restored = services.contact_update_status(contact_id=contact.pk, status="active", reason="restore")
    assert restored.status == "active"
