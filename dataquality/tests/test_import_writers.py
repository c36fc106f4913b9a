"""Imports written by several threads, each on its own connection (IMPORT_WRITERS), and their checkpoints."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contacts.models import Contact
from dataquality.imports import engine
from dataquality.imports.service import import_create, import_run
from dataquality.models import ImportJob, ImportRowError
from organization.models import Organization


@pytest.fixture(autouse=True)
def media(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def _queue(text: str, **options) -> ImportJob:
    job, _, _ = import_create(upload=SimpleUploadedFile("contacts.csv", text.encode()), **options)
    return job


def _csv(rows: int) -> tuple[str, set[str]]:
    """Every 25th row repeats the email of the row 30 before it (mostly in another chunk); organizations repeat in
    every chunk, in varying letter case; every 40th row has a bad email."""
    lines, emails = ["first_name,email,organization"], set()
    for i in range(rows):
        email = f"p{i - 30}@example.com" if i % 25 == 0 and i >= 30 else f"p{i}@example.com"
        if i % 40 == 39:
            email = "not-an-email"
        org = f"Org {i % 7}" if i % 2 else f"ORG {i % 7}"
        lines.append(f"P{i},{email},{org}")
        emails.add(email)
    return "\n".join(lines) + "\n", emails


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_import_every_row_once(settings):
    settings.IMPORT_CHUNK_ROWS, settings.IMPORT_WRITERS = 40, 2
    text, _ = _csv(400)
    job = import_run(job_id=_queue(text, on_duplicate="skip").pk)
    bad = len([i for i in range(400) if i % 40 == 39])
    repeats = len([i for i in range(30, 400) if i % 25 == 0 and (i - 30) % 40 != 39])
    assert (job.status, job.rows_done, job.failed) == ("done", 400, bad)
    assert (job.created, job.skipped) == (400 - bad - repeats, repeats)
    assert sorted(job.chunks_done) == list(range(10)) and job.chunk_rows == 40
    # each email once, each organization once although every chunk named all seven
    assert Contact.objects.count() == job.created
    assert Contact.objects.values("email").distinct().count() == job.created
    assert Organization.objects.count() == 7
    assert Contact.objects.filter(organization__isnull=True).count() == 0
    codes = set(ImportRowError.objects.filter(job=job, code="duplicate_in_file").values_list("row", flat=True))
    assert len(codes) == repeats


@pytest.mark.django_db(transaction=True)
def test_a_failing_chunk_fails_the_job_and_keeps_the_others(settings, monkeypatch):
    settings.IMPORT_CHUNK_ROWS, settings.IMPORT_WRITERS = 10, 2
    real = engine.process_chunk

    def failing(job, batch, *, dry_run=False, index=None):
        if index == 2:
            raise RuntimeError("disk on fire")
        return real(job, batch, dry_run=dry_run, index=index)

    monkeypatch.setattr(engine, "process_chunk", failing)
    job = _queue("first_name,email\n" + "".join(f"F{i},f{i}@example.com\n" for i in range(60)))
    with pytest.raises(RuntimeError, match="disk on fire"):
        import_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "disk on fire" in job.detail
    assert 2 not in job.chunks_done and job.created == 10 * len(job.chunks_done) == Contact.objects.count()


@pytest.mark.django_db
def test_resume_skips_the_committed_chunks_whatever_their_order(settings):
    settings.IMPORT_CHUNK_ROWS = 2
    job = _queue("first_name,email\n" + "".join(f"R{i},r{i}@example.com\n" for i in range(5)))
    # a worker died after the second chunk committed but not the first: rows 2 and 3 exist, 0, 1 and 4 don't
    Contact.objects.create(first_name="R2", email="r2@example.com")
    Contact.objects.create(first_name="R3", email="r3@example.com")
    ImportJob.objects.filter(pk=job.pk).update(status="running", chunk_rows=2, chunks_done=[1], rows_done=2,
                                               created=2)
    job = import_run(job_id=job.pk)
    assert (job.status, job.rows_done, job.created, job.skipped) == ("done", 5, 5, 0)
    assert sorted(job.chunks_done) == [0, 1, 2]
    assert sorted(Contact.objects.values_list("first_name", flat=True)) == ["R0", "R1", "R2", "R3", "R4"]


def test_file_duplicates_by_email_and_by_phone_when_the_policy_looks_for_them():
    def row(number, email, phone):
        return (number, {"email": email, "phone": phone}, [])

    batch = [row(1, "a@x.com", "+14155550100"), row(2, "A@x.com", ""), row(3, "b@x.com", "+14155550100"),
             row(4, "b@x.com", ""), (5, None, []), row(6, "", "")]
    marked = engine.FileDuplicates("skip").mark([(n, dict(v) if v else v, p) for n, v, p in batch])
    assert [n for n, v, _ in marked if v and v.get(engine.IN_FILE_DUPLICATE)] == [2, 3]
    # row 3 was a duplicate (by phone), so its email was never kept: row 4 is the first b@x.com
    marked = engine.FileDuplicates("create").mark([(n, dict(v) if v else v, p) for n, v, p in batch])
    assert [n for n, v, _ in marked if v and v.get(engine.IN_FILE_DUPLICATE)] == [2, 4]


@pytest.mark.django_db
def test_staging_text_keeps_tabs_backslashes_quotes_and_newlines():
    import csv
    import io

    row = {"first_name": "Tab\there", "last_name": "Back\\slash \\N", "email": "o'k+x@example.com",
           "job_title": "Line\nbreak", "company": 'Quote "Co"', "notes": '{"json": "\\n"}\r\nx',
           "categories": 'a"b;\\N;{x};null;back\\slash'}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(row))
    writer.writeheader()
    writer.writerow(row)
    job = import_run(job_id=_queue(out.getvalue()).pk)
    assert job.created == 1, list(ImportRowError.objects.filter(job=job).values_list("message", flat=True))
    contact = Contact.objects.select_related("organization").get()
    assert (contact.first_name, contact.last_name, contact.email) == (row["first_name"], row["last_name"],
                                                                      row["email"])
    assert contact.job_title == row["job_title"] and contact.organization.name == row["company"]
    assert contact.custom_fields["notes"] == row["notes"]
    assert contact.tags == ['a"b', "\\n", "{x}", "null", "back\\slash"]


@pytest.mark.django_db(transaction=True)
def test_update_import_updates_existing_contacts_and_undo_restores_them(settings):
    from dataquality.imports.service import import_undo

    settings.IMPORT_CHUNK_ROWS, settings.IMPORT_WRITERS = 10, 2
    existing = [Contact.objects.create(first_name=f"U{i}", email=f"u{i}@example.com", job_title="Old")
                for i in range(0, 60, 3)]
    text = "first_name,email,job_title\n" + "".join(f"U{i},U{i}@example.com,New {i}\n" for i in range(60))
    job = import_run(job_id=_queue(text, on_duplicate="update").pk)
    assert (job.status, job.created, job.updated, job.skipped, job.failed) == ("done", 40, 20, 0, 0)
    assert set(Contact.objects.filter(pk__in=[c.pk for c in existing]).values_list("job_title", flat=True)) == {
        f"New {i}" for i in range(0, 60, 3)}
    ImportJob.objects.filter(pk=job.pk).update(status="undoing")
    assert import_undo(job_id=job.pk).status == "undone"
    assert Contact.objects.count() == 20
    assert set(Contact.objects.values_list("job_title", flat=True)) == {"Old"}


@pytest.mark.django_db(transaction=True)
def test_update_imports_apply_rows_in_file_order(settings, monkeypatch):
    """Two rows matching one contact (by email, then by phone) in different chunks: the later row wins,
    even when the first chunk is the slower one (concurrent writers would let it commit last)."""
    import time

    settings.IMPORT_CHUNK_ROWS, settings.IMPORT_WRITERS = 2, 2
    contact = Contact.objects.create(first_name="X", email="x@example.com", phone="+14155550142", job_title="Old")
    real = engine.process_chunk

    def slow_first(job, batch, *, dry_run=False, index=None):
        if index == 0:
            time.sleep(1.5)
        return real(job, batch, dry_run=dry_run, index=index)

    monkeypatch.setattr(engine, "process_chunk", slow_first)
    text = ("first_name,email,phone,job_title\nX,x@example.com,,First\nY,y@example.com,,\n"
            "X,other@example.com,+1 415 555 0142,Second\n")
    job = import_run(job_id=_queue(text, on_duplicate="update").pk)
    assert (job.status, job.updated, job.created) == ("done", 2, 1)
    contact.refresh_from_db()
    assert contact.job_title == "Second"


@pytest.mark.django_db
def test_a_job_checkpointed_by_rows_keeps_that_checkpoint_through_a_second_failure(settings, monkeypatch):
    """Started before chunk numbers existed (rows_done set, no chunk size): resumed twice, every row once."""
    settings.IMPORT_CHUNK_ROWS = 2
    job = _queue("first_name\n" + "".join(f"N{i}\n" for i in range(6)))  # no email: nothing stops a repeat
    Contact.objects.create(first_name="N0")
    Contact.objects.create(first_name="N1")
    ImportJob.objects.filter(pk=job.pk).update(status="running", rows_done=2, created=2)
    real, calls = engine.process_chunk, []

    def dies_on_the_second_chunk(job, batch, *, dry_run=False, index=None):
        calls.append(index)
        if len(calls) == 2:
            raise RuntimeError("worker lost")
        return real(job, batch, dry_run=dry_run, index=index)

    monkeypatch.setattr(engine, "process_chunk", dies_on_the_second_chunk)
    with pytest.raises(RuntimeError):
        import_run(job_id=job.pk)
    monkeypatch.setattr(engine, "process_chunk", real)
    ImportJob.objects.filter(pk=job.pk).update(status="running")  # the worker died: the job is run again
    job = import_run(job_id=job.pk)
    assert (job.status, job.rows_done, job.created) == ("done", 6, 6)
    assert sorted(Contact.objects.values_list("first_name", flat=True)) == [f"N{i}" for i in range(6)]
