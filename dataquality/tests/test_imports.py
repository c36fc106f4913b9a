"""CSV and vCard imports: detection, mapping, preview, the Celery job, progress, errors, undo, dedupe."""
import codecs
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from contacts.validation import normalize_email, normalize_phone
from dataquality.imports import normalize, readers
from dataquality.imports.service import import_run
from dataquality.models import ImportJob
from dataquality.privacy import contact_erase
from dataquality.tasks import import_run_task, import_undo_task

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures" / "vcard"

GOOGLE = ("First Name,Middle Name,Last Name,Organization Name,Organization Title,Labels,E-mail 1 - Label,"
          "E-mail 1 - Value,E-mail 2 - Label,E-mail 2 - Value,Phone 1 - Label,Phone 1 - Value,Notes,Birthday\n"
          "Ada,,Lovelace,Analytical Engines,Countess,* myContacts ::: VIP,* Home,ada@example.org,Work,"
          "ada@engines.example,Mobile,(415) 555-0101,Math,1815-12-10\n"
          "Alan,,Turing,Bletchley,,* myContacts,,alan@example.org,,,,+44 20 7946 0958,,\n")
OUTLOOK = ("First Name,Last Name,Company,Job Title,E-mail Address,Mobile Phone,Business Phone,Categories\n"
           "Grace,Hopper,Navy,Rear Admiral,grace@navy.example,415-555-0102,415-555-0103,Pioneers;Navy\n")
HUBSPOT = ("Record ID,First Name,Last Name,Email,Phone Number,Company Name,Job Title,Lifecycle Stage\n"
           "1,Linus,Torvalds,linus@kernel.example,+1 415 555 0104,Linux,Maintainer,customer\n")


@pytest.fixture(autouse=True)
def media(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def upload(api, content, name="contacts.csv", **fields):
    data = {"file": SimpleUploadedFile(name, content if isinstance(content, bytes) else content.encode())}
    data.update({k: v for k, v in fields.items()})
    return api.post("/api/v1/contacts/imports/", data, format="multipart")


def run(api, content, name="contacts.csv", **fields):
    """Upload, then run the queued Celery task in-process (the broker got the real message on commit)."""
    from django.test import TestCase  # noqa: F401

    response = upload(api, content, name, **fields)
    assert response.status_code == 202, response.json()
    import_run_task.apply(args=[response.json()["id"]])
    return api.get(f"/api/v1/contacts/imports/{response.json()['id']}/").json()


def test_google_export_mapping_and_fields(api):
    job = run(api, GOOGLE)
    assert job["status"] == "done"
    assert job["progress"] == {"rows_done": 2, "created": 2, "updated": 0, "skipped": 0, "failed": 0}
    assert job["mapping"]["E-mail 1 - Value"] == "email" and job["mapping"]["E-mail 2 - Value"] == "other_email"
    ada = Contact.objects.get(email="ada@example.org")
    assert (ada.first_name, ada.last_name, ada.job_title, ada.phone) == ("Ada", "Lovelace", "Countess", "+14155550101")
    assert ada.organization.name == "Analytical Engines" and ada.tags == ["vip"]
    assert ada.custom_fields == {"other_emails": "ada@engines.example", "notes": "Math", "birthday": "1815-12-10"}
    assert Contact.objects.get(email="alan@example.org").phone == "+442079460958"


def test_outlook_and_hubspot_exports(api):
    run(api, OUTLOOK)
    grace = Contact.objects.get(email="grace@navy.example")
    assert grace.phone == "+14155550102" and grace.custom_fields["other_phones"] == "+14155550103"
    assert grace.tags == ["pioneers", "navy"] and grace.job_title == "Rear Admiral"
    mapping = readers.suggest_mapping(HUBSPOT.splitlines()[0].split(","))
    assert mapping == {"First Name": "first_name", "Last Name": "last_name", "Email": "email",
                       "Phone Number": "phone", "Company Name": "organization", "Job Title": "job_title"}
    run(api, HUBSPOT)
    assert Contact.objects.get(email="linus@kernel.example").status == "new"


def test_apple_style_headers_are_suggested():
    headers = ["First name", "Last name", "Email", "Phone", "Organization", "Job Title", "Note"]
    assert set(readers.suggest_mapping(headers).values()) == {
        "first_name", "last_name", "email", "phone", "organization", "job_title", "notes"}


@pytest.mark.parametrize("encoding,delimiter", [("utf-8", ","), ("utf-8-sig", ";"), ("utf-16", "\t"),
                                                ("latin-1", ";"), ("utf-8", "|")])
def test_encodings_and_delimiters(api, encoding, delimiter):
    text = f"first_name{delimiter}last_name{delimiter}email\nJosé{delimiter}Müller{delimiter}jose@example.com\n"
    job = run(api, text.encode(encoding))
    assert job["progress"]["created"] == 1, job
    assert Contact.objects.get().last_name == "Müller" and Contact.objects.get().first_name == "José"
    assert job["delimiter"] == delimiter


def test_bad_rows_are_row_errors_and_the_rest_go_on(api):
    text = ("first_name,last_name,email,phone\nGood,One,good@example.com,\nBad,Email,not-an-email,\n"
            "Bad,Phone,bp@example.com,12\nGood,Two,good2@example.com,+14155550105\n")
    job = run(api, text)
    assert job["progress"] == {"rows_done": 4, "created": 2, "updated": 0, "skipped": 0, "failed": 2}
    assert {(e["row"], e["field"]) for e in job["errors"]} == {(2, "email"), (3, "phone")}
    report = api.get(f"/api/v1/contacts/imports/{job['id']}/errors/")
    assert report.status_code == 200 and report["Content-Type"].startswith("text/csv")
    lines = b"".join(report.streaming_content).decode().splitlines()
    assert lines[0] == "row,field,code,message" and len(lines) == 3


def test_unknown_mapping_field_is_400(api):
    response = upload(api, "a,b\n1,2\n", mapping='{"a": "first_name", "b": "shoe_size"}')
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "mapping.b"
    response = upload(api, "a,b\n1,2\n", mapping='{"zzz": "first_name"}')
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "unknown_column"


def test_not_csv_or_vcard_is_400_saying_what_was_detected(api):
    response = upload(api, b"%PDF-1.7\n%binary", name="contacts.pdf")
    assert response.status_code == 400 and "PDF" in response.json()["detail"]
    response = upload(api, b"PK\x03\x04zipzip", name="contacts.xlsx")
    assert response.status_code == 400 and "ZIP" in response.json()["detail"]
    response = upload(api, b"<html><body>hi</body></html>\n", name="x.csv")
    assert response.status_code == 400 and "HTML" in response.json()["detail"]
    assert not ImportJob.objects.exists()


def test_upload_over_the_limit_is_413(api, settings):
    settings.MAX_UPLOAD_BODY = 1000
    response = upload(api, "first_name,email\n" + "x,y@example.com\n" * 200)
    assert response.status_code == 413


def test_preview_then_commit(api):
    existing = ContactFactory(email="known@example.com", job_title="")
    text = ("first_name,last_name,email,job_title\nKnown,Person,KNOWN@example.com,Boss\nNew,Person,new@example.com,\n"
            "Broken,Row,nope,\n")
    response = upload(api, text, dry_run="true", on_duplicate="update")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "preview"
    assert body["preview"]["counts"] == {"rows": 3, "create": 1, "update": 1, "skip": 0, "fail": 1}
    rows = {r["row"]: r for r in body["preview"]["rows"]}
    assert rows[1]["action"] == "update" and rows[1]["duplicate_of"] == str(existing.pk)
    assert rows[3]["errors"][0]["field"] == "email"
    assert Contact.objects.count() == 1  # nothing written
    response = api.post(f"/api/v1/contacts/imports/{body['id']}/commit/", {}, format="json")
    assert response.status_code == 202
    import_run_task.apply(args=[body["id"]])
    existing.refresh_from_db()
    assert existing.job_title == "Boss" and Contact.objects.count() == 2
    # committing twice is a conflict
    assert api.post(f"/api/v1/contacts/imports/{body['id']}/commit/", {}, format="json").status_code == 409


@pytest.mark.parametrize("policy,expected", [
    ("skip", {"created": 0, "updated": 0, "skipped": 1, "failed": 0}),
    ("reject", {"created": 0, "updated": 0, "skipped": 0, "failed": 1}),
    ("create", {"created": 0, "updated": 0, "skipped": 0, "failed": 1}),  # the email is unique
])
def test_on_duplicate_policies(api, policy, expected):
    existing = ContactFactory(email="dupe@example.com")
    job = run(api, "first_name,email\nD,dupe@example.com\n", on_duplicate=policy)
    assert {k: job["progress"][k] for k in expected} == expected
    if policy == "reject":
        assert job["errors"][0]["code"] == "duplicate" and str(existing.pk) in job["errors"][0]["message"]


def test_duplicates_within_the_file_and_phone_match(api):
    ContactFactory(email="", phone="+14155550106", first_name="Phone", last_name="Only")
    text = "first_name,email,phone\nA,a@example.com,\nA again,A@example.com,\nP,,415 555 0106\n"
    job = run(api, text, on_duplicate="skip")
    assert job["progress"]["created"] == 1 and job["progress"]["skipped"] == 2


def test_same_file_twice_creates_nothing(api):
    first = run(api, GOOGLE)
    response = upload(api, GOOGLE)
    assert response.status_code == 200 and response.json()["id"] == first["id"]
    assert response.json()["duplicate_upload"] is True
    assert Contact.objects.count() == 2


def test_undo_deletes_created_and_restores_updated(api):
    existing = ContactFactory(email="keep@example.com", job_title="Old")
    job = run(api, "first_name,email,job_title\nK,keep@example.com,New\nN,n@example.com,\n", on_duplicate="update")
    existing.refresh_from_db()
    assert existing.job_title == "New"
    response = api.post(f"/api/v1/contacts/imports/{job['id']}/undo/")
    assert response.status_code == 202
    import_undo_task.apply(args=[job["id"], api.user.pk])
    existing.refresh_from_db()
    assert existing.job_title == "Old" and not Contact.objects.filter(email="n@example.com").exists()
    assert api.get(f"/api/v1/contacts/imports/{job['id']}/").json()["status"] == "undone"
    # the same file may be imported again once undone
    assert upload(api, "first_name,email,job_title\nK,keep@example.com,New\nN,n@example.com,\n").status_code == 202


def test_import_audit_trail_records_the_import(api):
    job = run(api, "first_name,email\nAud,audit@example.com\n")
    contact = Contact.objects.get(email="audit@example.com")
    history = api.get(f"/api/v1/contacts/{contact.pk}/history/").json()["results"]
    assert history[0]["event"] == "created" and history[0]["action"] == "contact.import"
    assert history[0]["changes"]["email"]["after"] == "audit@example.com"
    assert job["status"] == "done"


def test_erased_person_is_not_imported_again(api):
    contact = ContactFactory(email="gone@example.com", phone="+14155550107")
    contact_erase(contact_id=contact.pk)
    job = run(api, "first_name,email,phone\nG,GONE@example.com,\nH,,+1 415 555 0107\nI,fine@example.com,\n")
    assert job["progress"]["created"] == 1 and job["progress"]["skipped"] == 2
    assert {e["code"] for e in job["errors"]} == {"erased"}


def test_job_resumes_after_its_last_committed_chunk(api, settings):
    settings.IMPORT_CHUNK_ROWS = 2
    response = upload(api, "first_name,email\n" + "".join(f"P{i},p{i}@example.com\n" for i in range(5)))
    job_id = response.json()["id"]
    # a worker died after committing the first chunk: the job is still 'running' with rows_done = 2
    Contact.objects.create(first_name="P0", email="p0@example.com")
    Contact.objects.create(first_name="P1", email="p1@example.com")
    ImportJob.objects.filter(pk=job_id).update(status="running", rows_done=2, created=2)
    job = import_run(job_id=job_id)
    assert (job.status, job.rows_done, job.created, job.skipped) == ("done", 5, 5, 0)
    assert Contact.objects.count() == 5
    assert import_run(job_id=job_id).created == 5  # done: a second delivery does nothing


def test_progress_list_and_detail_query_counts(api, django_assert_max_num_queries):
    run(api, GOOGLE)
    run(api, OUTLOOK)
    with django_assert_max_num_queries(4):
        listing = api.get("/api/v1/contacts/imports/").json()
    assert len(listing["results"]) == 2
    with django_assert_max_num_queries(4):
        assert api.get(f"/api/v1/contacts/imports/{listing['results'][0]['id']}/").status_code == 200


def test_import_needs_permission(anon, django_user_model):
    from rest_framework.test import APIClient

    user = django_user_model.objects.create_user("clerk", password="pw-clerk-123456")
    client = APIClient()
    client.force_authenticate(user)
    assert upload(client, GOOGLE).status_code == 403
    assert upload(anon, GOOGLE).status_code == 401


# --------------------------------------------------------------------------- vCard
@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.vcf")))
def test_real_vcards_import_without_crashing(api, name):
    job = run(api, (FIXTURES / name).read_bytes(), name=name)
    assert job["status"] == "done", job
    assert job["progress"]["failed"] == 0 and job["progress"]["created"] >= 1


def test_vcard_fields_land(api):
    run(api, (FIXTURES / "John_Doe_IPHONE.vcf").read_bytes(), name="iphone.vcf")
    john = Contact.objects.get(email="john.doe@ibm.com")
    assert (john.first_name, john.last_name, john.job_title) == ("John", "Doe", "Money Counter")
    assert john.phone == "+19055551234" and john.organization.name == "IBM"
    assert john.custom_fields["birthday"] == "2012-06-06" and john.custom_fields["nickname"] == "Johny"
    assert "+19057771234" in john.custom_fields["other_phones"]
    assert "Silicon Alley 5" in john.custom_fields["address"]


def test_vcard_21_quoted_printable_folded_and_outlook(api):
    run(api, (FIXTURES / "outlook-2007.vcf").read_bytes(), name="outlook.vcf")
    mike = Contact.objects.get(email="mike.angstadt@gmail.com")
    assert mike.organization.name == "TheCompany" and mike.job_title == "TheJobTitle"
    assert mike.custom_fields["notes"].startswith("This is the NOTE field")
    assert "I assume it encodes" in mike.custom_fields["notes"]  # quoted-printable soft breaks joined
    assert mike.custom_fields["birthday"] == "1922-03-10"
    run(api, (FIXTURES / "John_Doe_ANDROID.vcf").read_bytes(), name="android.vcf")
    assert Contact.objects.filter(last_name="Ñ Ñ Ñ Ñ").exists()  # UTF-8 in quoted-printable
    bob = Contact.objects.get(email="bob@company.com")
    assert bob.first_name == "Ñ Ñ Ñ" and bob.organization.name.startswith("ÑÑÑ")


def test_vcard_40_rfc6350_and_gmail_list(api):
    run(api, (FIXTURES / "rfc6350-example.vcf").read_bytes(), name="rfc.vcf")
    simon = Contact.objects.get(email="simon.perreault@viagenie.ca")
    assert simon.phone == "+14186569254" and simon.custom_fields["birthday"] == "--02-03"
    assert simon.organization.name == "Viagenie"
    job = run(api, (FIXTURES / "gmail-list.vcf").read_bytes(), name="gmail.vcf")
    assert job["progress"]["created"] == 3


def test_broken_vcard_is_a_row_error_not_a_crash(api):
    text = ("BEGIN:VCARD\nVERSION:3.0\nN:Ok;Card;;;\nEMAIL:ok@example.com\nEND:VCARD\n"
            "BEGIN:VCARD\nVERSION:3.0\nN:Bro;\nBDAY;VALUE=date:\nEMAIL\nEND:VCARD\n"
            "BEGIN:VCARD\nVERSION:3.0\nFN:Last One\nEND:VCARD\n")
    job = run(api, text, name="x.vcf")
    assert job["status"] == "done" and job["progress"]["created"] >= 2


# --------------------------------------------------------------------------- fast paths
@hsettings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789 ()-.+", min_size=1, max_size=18))
def test_fast_phone_matches_phonenumbers(raw):
    try:
        expected = normalize_phone(raw)
    except ValueError:
        expected = None
    try:
        got = normalize.fast_phone(raw)
    except ValueError:
        got = None
    assert got == expected


@hsettings(max_examples=300, deadline=None)
@given(st.from_regex(r"[A-Za-z0-9._%+-]{1,12}@[A-Za-z0-9.-]{1,12}\.[A-Za-z]{2,4}", fullmatch=True))
def test_fast_email_matches_django(raw):
    from django.core.exceptions import ValidationError

    try:
        expected = normalize_email(raw)
    except ValidationError:
        expected = None
    try:
        got = normalize.fast_email(raw)
    except ValidationError:
        got = None
    assert got == expected


def test_formula_guard_is_undone_on_import():
    assert normalize.unguard("'=SUM(A1)") == "=SUM(A1)" and normalize.unguard("'hello") == "'hello"


def test_utf16_without_bom_is_detected(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes("first_name,email\nA,a@example.com\n".encode("utf-16-le"))
    detected = readers.detect(str(path))
    assert (detected.format, detected.encoding) == ("csv", "utf-16-le")
    assert codecs.lookup(detected.encoding)
    assert io  # keep io for readers of this test module


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.vcf")))
def test_fast_vcard_path_reads_what_vobject_reads(name):
    for _, text in readers.vcard_blocks(str(FIXTURES / name), "utf-8"):
        fast = normalize.clean_row(readers.vcard_to_row_fast(text), lenient_contact_points=True)[0]
        full = normalize.clean_row(readers.vcard_to_row(text), lenient_contact_points=True)[0]
        # vobject cuts an unescaped vCard 2.1 NOTE at its first comma; the fast path keeps all of it
        fast_note, full_note = fast["custom"].pop("notes", ""), full["custom"].pop("notes", "")
        assert " ".join(full_note.split()) in " ".join(fast_note.split())
        assert fast == full
