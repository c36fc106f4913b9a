"""The events other apps emit reach webhooks and notifications: a finished import notifies its importer, a
merge is announced as contact.merged, communication status changes as communication.status_changed."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from collaboration import webhooks
from collaboration.models import Notification, WebhookDelivery, WebhookSubscription
from contacts.tests.factories import ContactFactory
from dataquality.tasks import import_run_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(admin_user):
    return WebhookSubscription.objects.create(owner=admin_user, url="https://hooks.example.com/x",
                                              secret=webhooks.new_secret(),
                                              event_types=["contact.merged", "import.finished",
                                                           "communication.created", "communication.status_changed"])


def test_finished_import_notifies_the_importer_and_fires_the_webhook(api, admin_user, hook, settings, tmp_path,
                                                                     django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = str(tmp_path)
    response = api.post("/api/v1/contacts/imports/", {"file": SimpleUploadedFile(
        "people.csv", b"First Name,Last Name,Email\nAda,Lovelace,ada@example.org\n")}, format="multipart")
    assert response.status_code == 202, response.content
    with django_capture_on_commit_callbacks(execute=True):
        import_run_task.apply(args=[response.json()["id"]])
    notification = Notification.objects.get(user=admin_user, kind="import.finished")
    assert "people.csv" in notification.title and "created: 1" in notification.body
    delivery = WebhookDelivery.objects.get(event="import.finished")
    assert delivery.payload["data"]["created"] == 1


def test_merge_is_announced(api, hook, django_capture_on_commit_callbacks):
    survivor, other = ContactFactory(), ContactFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/contacts/{survivor.pk}/merge/", {"other": str(other.pk)}, format="json")
    assert response.status_code == 200, response.content
    data = WebhookDelivery.objects.get(event="contact.merged").payload["data"]
    assert data["id"] == str(survivor.pk) and data["merged"] == str(other.pk)


def test_communication_events_carry_their_contact(api, hook, django_capture_on_commit_callbacks):
    contact = ContactFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/communications/", {"contact": str(contact.pk), "type": "call",
                                                        "direction": "outbound", "content": "Talked"},
                            format="json")
    assert response.status_code == 201, response.content
    created = WebhookDelivery.objects.get(event="communication.created").payload["data"]
    assert created["contact"] == str(contact.pk) and created["channel"] == "call"
