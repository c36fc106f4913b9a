"""Streamed exports (CSV, vCard 4.0, JSContact), GDPR access and erasure, retention, legal hold."""
import csv
import datetime as dt
import io
import json

import pytest
import vobject
from django.apps import apps
from django.utils import timezone
from rest_framework.test import APIClient

from contacts.models import Contact
from contacts.tests.factories import ContactFactory, OrganizationFactory
from contacts_project.registry import register, unregister
from dataquality import relations
from dataquality.models import DataAccessLog, DuplicateCandidate, ErasedIdentity
from dataquality.privacy import identity_hash, retention_purge

pytestmark = pytest.mark.django_db
Communication = apps.get_model("communications", "Communication")
ContactEvent = apps.get_model("contacts", "ContactEvent")


def body(response) -> str:
    return b"".join(response.streaming_content).decode()


def staff(django_user_model, *perms):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user(f"staff{len(perms)}", password="pw-staff-123456")
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    client = APIClient()
    client.force_authenticate(user)
    client.user = user
    return client


# --------------------------------------------------------------------------- export
def test_csv_export_is_streamed_filtered_and_formula_safe(api):
    org = OrganizationFactory(name="=cmd|' /C calc'!A0")
    ContactFactory(first_name="=HYPERLINK(\"x\")", last_name="@SUM", email="a@example.com", organization=org,
                   tags=["vip"], status="active")
    ContactFactory(first_name="Other", email="b@example.com", status="archived")
    response = api.get("/api/v1/contacts/export/?format=csv&status=active")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body(response))))
    assert len(rows) == 1
    row = rows[0]
    assert row["first_name"] == "'=HYPERLINK(\"x\")" and row["last_name"] == "'@SUM"
    assert row["organization"].startswith("'=") and row["phone"].startswith("'+")
    assert row["tags"] == "vip"


def test_vcard_and_jscontact_exports(api):
    ContactFactory(first_name="Zoë", last_name="Ångström", email="z@example.com", job_title="A, B; C",
                   custom_fields={"notes": "x" * 200})
    text = body(api.get("/api/v1/contacts/export/?format=vcf"))
    assert "VERSION:4.0" in text and "\r\n " in text  # folded long line
    card = vobject.readOne(text)
    assert card.n.value.given == "Zoë" and card.email.value == "z@example.com"
    assert card.title.value == "A, B; C"
    data = json.loads(body(api.get("/api/v1/contacts/export/?format=json")))
    assert data[0]["@type"] == "Card" and data[0]["emails"]["e1"]["address"] == "z@example.com"
    assert data[0]["name"]["components"][0] == {"kind": "given", "value": "Zoë"}


def test_export_bad_format_unknown_filter_and_permission(api, django_user_model):
    assert api.get("/api/v1/contacts/export/?format=xlsx").status_code == 400
    assert api.get("/api/v1/contacts/export/?colour=red").status_code == 400
    assert staff(django_user_model).get("/api/v1/contacts/export/").status_code == 403
    assert staff(django_user_model, "export_contacts").get("/api/v1/contacts/export/").status_code == 200
    assert DataAccessLog.objects.filter(action="bulk_export").count() == 1


def test_export_round_trips_through_import(api, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    ContactFactory(first_name="-minus", last_name="Plus", email="rt@example.com", phone="+14155550110")
    exported = body(api.get("/api/v1/contacts/export/?format=csv")).encode()
    Contact.objects.all().delete()
    from django.core.files.uploadedfile import SimpleUploadedFile

    from dataquality.tasks import import_run_task

    response = api.post("/api/v1/contacts/imports/", {"file": SimpleUploadedFile("e.csv", exported)},
                        format="multipart")
    import_run_task.apply(args=[response.json()["id"]])
    contact = Contact.objects.get()
    assert (contact.first_name, contact.phone) == ("-minus", "+14155550110")


# --------------------------------------------------------------------------- access
def test_privacy_export_has_everything(api):
    contact = ContactFactory(email="me@example.com")
    Communication.objects.create(contact=contact, type="email", content="secret message")
    api.patch(f"/api/v1/contacts/{contact.pk}/", {"job_title": "Chef"}, format="json")
    register("privacy_exporters", "test.extra", lambda cid: {"seen": str(cid)})
    try:
        data = api.get(f"/api/v1/contacts/{contact.pk}/privacy/export/").json()
    finally:
        unregister("privacy_exporters", "test.extra")
    assert data["contact"]["email"] == "me@example.com"
    assert data["related"]["communications.communication"][0]["content"] == "secret message"
    assert {h["action"] for h in data["audit"]} >= {"contact.update"}
    assert data["hooks"]["test.extra"] == {"seen": str(contact.pk)}
    assert DataAccessLog.objects.filter(action="privacy_export", contact_key=contact.pk).exists()


def test_privacy_endpoints_are_permission_checked(django_user_model):
    contact = ContactFactory()
    client = staff(django_user_model)
    assert client.get(f"/api/v1/contacts/{contact.pk}/privacy/export/").status_code == 403
    assert client.post(f"/api/v1/contacts/{contact.pk}/privacy/erase/", {}, format="json").status_code == 403
    allowed = staff(django_user_model, "export_personal_data", "erase_personal_data")
    contact.owner = allowed.user  # the permission acts on contacts the user may see
    contact.save(update_fields=["owner"])
    assert allowed.get(f"/api/v1/contacts/{contact.pk}/privacy/export/").status_code == 200
    assert allowed.post(f"/api/v1/contacts/{contact.pk}/privacy/erase/", {}, format="json").status_code == 200


# --------------------------------------------------------------------------- erasure
def test_erase_removes_personal_data_everywhere(api, django_capture_on_commit_callbacks):
    contact = ContactFactory(first_name="Eve", last_name="Adams", email="eve@example.com", phone="+14155550111",
                             job_title="Spy", tags=["secret"], custom_fields={"notes": "x"})
    other = ContactFactory(first_name="Evelyn", last_name="Adams")
    a, b = sorted([contact.pk, other.pk])
    DuplicateCandidate.objects.create(contact_a_id=a, contact_b_id=b, score=0.7, reasons=[])
    message = Communication.objects.create(contact=contact, type="email", content="hello Eve")
    api.patch(f"/api/v1/contacts/{contact.pk}/", {"job_title": "Agent"}, format="json")
    api.get(f"/api/v1/contacts/{contact.pk}/")  # warm the cache
    calls = []
    register("privacy_erasers", "test.suppression", lambda cid, identity: calls.append(identity) or 1)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(f"/api/v1/contacts/{contact.pk}/privacy/erase/", {"reason": "Art. 17 request"},
                                format="json")
    finally:
        unregister("privacy_erasers", "test.suppression")
    assert response.status_code == 200
    contact.refresh_from_db()
    assert (contact.first_name, contact.last_name, contact.email, contact.phone, contact.job_title) == \
        ("Erased", "", "", "", "")
    assert contact.tags == [] and contact.custom_fields == {} and contact.status == "archived"
    assert api.get(f"/api/v1/contacts/{contact.pk}/").json()["email"] == ""  # cache invalidated
    assert not Communication.objects.filter(pk=message.pk).exists()
    assert not DuplicateCandidate.objects.exists()
    assert calls[0]["email_hash"] == identity_hash("email", "eve@example.com")
    assert ErasedIdentity.objects.filter(digest=identity_hash("phone", "+14155550111")).exists()
    # the audit keeps that an erasure happened, not the data
    events = ContactEvent.objects.filter(pgh_obj_id=contact.pk)
    assert events.count() >= 3
    assert not events.filter(email="eve@example.com").exists() and not events.filter(first_name="Eve").exists()
    assert not events.filter(job_title__in=["Spy", "Agent"]).exists()
    history = api.get(f"/api/v1/contacts/{contact.pk}/history/").json()["results"]
    assert history[0]["action"] == "contact.erase"
    CommEvent = relations.event_models_of(Communication)
    assert all(not m.objects.filter(pgh_obj_id=message.pk).exists() for m in CommEvent)


def test_legal_hold_blocks_erasure_and_purge(api):
    contact = ContactFactory()
    old = Communication.objects.create(contact=contact, type="email", content="keep me")
    free = ContactFactory()
    purged = Communication.objects.create(contact=free, type="email", content="old news", subject="hi")
    Communication.objects.filter(pk__in=[old.pk, purged.pk]).update(created_at=timezone.now() - dt.timedelta(days=800))
    assert api.post(f"/api/v1/contacts/{contact.pk}/legal-hold/", {"reason": "Litigation 42"},
                    format="json").status_code == 200
    response = api.post(f"/api/v1/contacts/{contact.pk}/privacy/erase/", {}, format="json")
    assert response.status_code == 409 and "legal hold" in response.json()["detail"]
    from dataquality.tasks import retention_purge_task

    result = retention_purge_task.apply().get()
    assert result["communications.Communication"] == 1
    old.refresh_from_db()
    purged.refresh_from_db()
    assert old.content == "keep me" and (purged.content, purged.subject) == ("", "")
    assert retention_purge()["communications.Communication"] == 0  # idempotent
    assert api.delete(f"/api/v1/contacts/{contact.pk}/legal-hold/").status_code == 204
    assert api.post(f"/api/v1/contacts/{contact.pk}/privacy/erase/", {}, format="json").status_code == 200


def test_erase_unknown_contact_is_404(api):
    assert api.post("/api/v1/contacts/00000000-0000-0000-0000-000000000000/privacy/erase/", {},
                    format="json").status_code == 404
