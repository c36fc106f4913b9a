"""Attachments: storage API, size and type limits, signed expiring downloads, files removed with their owner."""
import time

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from collaboration.models import Attachment
from contacts.tests.factories import ContactFactory, OrganizationFactory
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                          "OPTIONS": {"location": str(tmp_path)}}}
    return tmp_path


def upload(client, target: dict, name="brief.pdf", content=b"%PDF-1.4 hello", **extra):
    return client.post("/api/v1/attachments/", {"file": SimpleUploadedFile(name, content), **target, **extra},
                       format="multipart")


def test_upload_list_and_download_through_a_signed_link(api, anon):
    contact = ContactFactory()
    response = upload(api, {"contact": str(contact.pk)})
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["content_type"] == "application/pdf" and data["size"] == 14 and len(data["sha256"]) == 64
    stored = Attachment.objects.get().file
    assert stored.storage.exists(stored.name)

    listed = api.get(f"/api/v1/attachments/?contact={contact.pk}").json()["results"]
    assert [a["id"] for a in listed] == [data["id"]]
    download = anon.get(data["download_url"])  # the link itself is the credential
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 hello"
    assert 'filename="brief.pdf"' in download["Content-Disposition"]


def test_attachments_on_organizations_and_notes(api):
    org = OrganizationFactory()
    assert upload(api, {"organization": str(org.pk)}, name="logo.png", content=b"\x89PNG....").status_code == 201
    note = api.post("/api/v1/notes/", {"organization": str(org.pk), "body": "see file"}, format="json").json()
    assert upload(api, {"note": note["id"]}, name="minutes.txt", content=b"minutes").status_code == 201
    assert len(api.get(f"/api/v1/attachments/?note={note['id']}").json()["results"]) == 1


def test_too_large_is_413_and_forbidden_type_is_400(api, settings):
    settings.ATTACHMENT_MAX_BYTES = 10
    contact = ContactFactory()
    body = assert_problem(upload(api, {"contact": str(contact.pk)}, content=b"x" * 11), 413, "file", "too_large")
    assert body["limit"] == 10
    settings.ATTACHMENT_MAX_BYTES = 1000
    assert_problem(upload(api, {"contact": str(contact.pk)}, name="run.exe", content=b"MZ..."), 400, "file",
                   "forbidden_type")
    assert_problem(upload(api, {"contact": str(contact.pk)}, name="fake.pdf", content=b"\x7fELF..."), 400, "file",
                   "forbidden_type")
    assert_problem(upload(api, {}), 400, "contact")
    assert_problem(api.post("/api/v1/attachments/", {"contact": str(contact.pk)}, format="multipart"), 400, "file")
    assert not Attachment.objects.exists()


def test_tampered_or_expired_links_are_404(api, anon, settings):
    contact = ContactFactory()
    url = upload(api, {"contact": str(contact.pk)}).json()["download_url"]
    token = url.rstrip("/").rsplit("/", 1)[1]
    tampered = url.replace(token, token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"))
    assert_problem(anon.get(tampered), 404)
    assert_problem(anon.get("/api/v1/attachments/download/not-a-token/"), 404)
    settings.ATTACHMENT_URL_MAX_AGE = 1
    time.sleep(2.1)
    assert_problem(anon.get(url), 404)


def test_deleting_the_owner_deletes_the_files_after_commit(api, django_capture_on_commit_callbacks):
    contact = ContactFactory()
    upload(api, {"contact": str(contact.pk)})
    name = Attachment.objects.get().file.name
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/v1/contacts/{contact.pk}/").status_code == 204
    assert not Attachment.objects.exists()
    assert not default_storage.exists(name)


def test_deleting_an_attachment_removes_its_file(api, django_capture_on_commit_callbacks):
    org = OrganizationFactory()
    data = upload(api, {"organization": str(org.pk)}).json()
    name = Attachment.objects.get().file.name
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/v1/attachments/{data['id']}/").status_code == 204
    assert not default_storage.exists(name)
    assert_problem(api.get(f"/api/v1/attachments/{data['id']}/"), 404)
