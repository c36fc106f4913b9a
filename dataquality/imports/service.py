"""Import jobs: upload (stored, hashed, detected), preview, the run (a Celery task calls import_run), undo."""
from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from contacts.models import Contact, sees_all
from contacts.services import invalidate_contacts
from contacts_project.audit import audited
from contacts_project.errors import Conflict, InvalidInput, NotFound
from contacts_project.events import emit
from contacts_project.ids import parse_uuid
from contacts_project.timefmt import iso_z

from ..duplicates import parse_policy
from ..models import ImportedContact, ImportJob, ImportRowError, ImportStatus
from . import engine, readers

PREVIEW_SHOWN = 20


def chunk_size() -> int:
    return int(getattr(settings, "IMPORT_CHUNK_ROWS", 20000))


def writers() -> int:
    return max(1, int(getattr(settings, "IMPORT_WRITERS", 2)))


def preview_rows() -> int:
    return int(getattr(settings, "IMPORT_PREVIEW_ROWS", 1000))


def import_jobs_visible_to(user) -> QuerySet[ImportJob]:
    """The imports a user may read: their own; every one for admins. An import's rows, errors and undo quote
    raw addresses and numbers from the file, so nobody else sees them (404)."""
    if sees_all(user):
        return ImportJob.objects.all()
    if user is None or not getattr(user, "is_authenticated", False):
        return ImportJob.objects.none()
    return ImportJob.objects.filter(actor_id=user.pk)


def import_get(*, job_id, user) -> ImportJob:
    """An import the user may read, else 404."""
    key = parse_uuid(job_id)
    job = import_jobs_visible_to(user).filter(pk=key).first() if key else None
    if job is None:
        raise NotFound("Import not found.")
    return job


def _job(job_id, *, lock: bool = False, actor=None) -> ImportJob:
    """The job (locked with `lock`); with an actor, only one they may read (their own, or any for admins)."""
    key = parse_uuid(job_id)
    query = ImportJob.objects if actor is None else import_jobs_visible_to(actor)
    query = query.select_for_update() if lock else query
    job = query.filter(pk=key).first() if key else None
    if job is None:
        raise NotFound("Import not found.")
    return job


def _store(upload, job_id) -> tuple[str, str, int]:
    """Stream the upload to MEDIA_ROOT/imports/<job>/ while hashing it; returns (relative path, sha256, size)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(upload.name or "upload"))[:100] or "upload"
    relative = Path("imports") / str(job_id) / name
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with open(target, "wb") as out:
        for chunk in upload.chunks(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return str(relative), digest.hexdigest(), size


def path_of(job: ImportJob) -> str:
    return str(Path(settings.MEDIA_ROOT) / job.path)


def import_create(*, upload, mapping: Any = None, on_duplicate: str = "skip", dry_run: bool = False,
                  actor=None) -> tuple[ImportJob, dict | None, ImportJob | None]:
    """Store and check the file; returns (job, preview or None, earlier import of the same file or None).

    The same content imported before (and not undone) is not imported again: the earlier job is returned.
    """
    if upload is None:
        raise InvalidInput.field("file", "Attach the file as multipart form field `file`.", "required")
    policy = parse_policy(on_duplicate or "skip")
    job_id = ImportJob._meta.pk.default()
    relative, digest, size = _store(upload, job_id)
    full = str(Path(settings.MEDIA_ROOT) / relative)
    try:
        detected = readers.detect(full)
        headers = readers.csv_header(full, detected) if detected.format == "csv" else []
        clean_mapping = readers.validate_mapping(mapping, headers) if detected.format == "csv" else {}
        if detected.format == "csv" and mapping not in (None, "") and not clean_mapping:
            raise InvalidInput.field("mapping", "The mapping ignores every column.")
        if detected.format == "csv" and not clean_mapping:
            raise InvalidInput.field("mapping", f"No column of {headers[:30]} could be matched to a contact field; "
                                                "give a mapping.", "required")
    except InvalidInput:
        Path(full).unlink(missing_ok=True)
        raise
    earlier = None
    if not dry_run:
        earlier = ImportJob.objects.filter(content_hash=digest).exclude(
            status__in=[ImportStatus.PREVIEW, ImportStatus.UNDONE, ImportStatus.FAILED]).order_by("created_at").first()
        if earlier is not None:
            Path(full).unlink(missing_ok=True)
            return earlier, None, earlier
    with transaction.atomic(), audited(actor, "contact.import_upload", import_id=str(job_id)):
        job = ImportJob.objects.create(
            id=job_id, status=ImportStatus.PREVIEW if dry_run else ImportStatus.QUEUED, format=detected.format,
            filename=(upload.name or "")[:255], path=relative, size=size, content_hash=digest,
            encoding=detected.encoding, delimiter=detected.delimiter, mapping=clean_mapping, on_duplicate=policy,
            actor=actor if getattr(actor, "is_authenticated", False) else None)
        if not dry_run:
            enqueue_run(job)
    preview = import_preview(job=job, headers=headers) if dry_run else None
    return job, preview, None


def enqueue_run(job: ImportJob) -> None:
    from dataquality.tasks import import_run_task

    transaction.on_commit(lambda: import_run_task.delay(str(job.pk)))


def import_preview(*, job: ImportJob, headers: list[str] | None = None) -> dict[str, Any]:
    """The first rows parsed, their errors, and what would be created, updated or skipped (nothing written)."""
    detected = readers.Detected(job.format, job.encoding, job.delimiter)
    rows = engine.FileDuplicates(job.on_duplicate).mark(
        list(islice(engine.cleaned_rows(job, detected, path_of(job)), preview_rows())))
    result = engine.process_chunk(job, rows, dry_run=True)
    shown = []
    for number, values, problems in rows[:PREVIEW_SHOWN]:
        outcome = result["actions"].get(number, {"action": "fail", "duplicate_of": None})
        if values is not None:
            values = {k: v for k, v in values.items() if k != engine.IN_FILE_DUPLICATE}
        shown.append({"row": number, "values": values, "action": outcome["action"],
                      "duplicate_of": outcome["duplicate_of"],
                      "errors": [{"field": e.field, "code": e.code, "message": e.message} for e in problems]})
    return {
        "format": job.format, "encoding": job.encoding, "delimiter": job.delimiter,
        "columns": headers if headers is not None else (
            readers.csv_header(path_of(job), detected) if job.format == "csv" else []),
        "mapping": job.mapping,
        "suggested_mapping": readers.suggest_mapping(headers or []) if job.format == "csv" else {},
        "rows_examined": len(rows), "counts": result["counts"], "rows": shown,
    }


def import_commit(*, job_id, mapping: Any = None, on_duplicate: str | None = None, actor=None) -> ImportJob:
    """Run a previewed import (optionally with a corrected mapping or policy)."""
    with transaction.atomic():
        job = _job(job_id, lock=True, actor=actor)
        if job.status != ImportStatus.PREVIEW:
            raise Conflict(f"Only a previewed import can be committed; this one is {job.status}.")
        fields = ["status"]
        if mapping not in (None, "") and job.format == "csv":
            job.mapping = readers.validate_mapping(mapping, readers.csv_header(
                path_of(job), readers.Detected(job.format, job.encoding, job.delimiter)))
            fields.append("mapping")
        if on_duplicate:
            job.on_duplicate = parse_policy(on_duplicate)
            fields.append("on_duplicate")
        job.status = ImportStatus.QUEUED
        job.save(update_fields=fields)
        enqueue_run(job)
    return job


def _lock_key(job_id) -> str:
    return f"import-run:{job_id}"


def _announce_finished(job: ImportJob) -> None:
    """The importer's notification and the `import.finished` webhook."""
    emit("import.finished", {"id": str(job.pk), "status": job.status, "filename": job.filename,
                             "actor": job.actor_id, "created": job.created, "updated": job.updated,
                             "skipped": job.skipped, "failed": job.failed})


def _checkpointed_by_rows(job: ImportJob) -> bool:
    """A job started before chunk numbers existed: its committed rows are a prefix of the file, and it keeps
    that (one chunk after the other, no numbers) until it is done."""
    return bool(job.rows_done) and not job.chunk_rows


def _pending_chunks(job: ImportJob) -> Iterator[tuple[int | None, list]]:
    """(chunk number, rows) of the file not yet committed: a resumed job skips the chunks in its checkpoint
    (they still feed the in-file duplicate check). A job checkpointed by row count resumes after those rows."""
    detected = readers.Detected(job.format, job.encoding, job.delimiter)
    rows: Iterator = engine.cleaned_rows(job, detected, path_of(job))
    if _checkpointed_by_rows(job):
        for batch in engine.chunks(islice(rows, job.rows_done, None), chunk_size()):
            yield None, batch
        return
    done = set(job.chunks_done)
    duplicates = engine.FileDuplicates(job.on_duplicate)
    for index, batch in enumerate(engine.chunks(rows, job.chunk_rows)):
        duplicates.mark(batch)
        if index not in done:
            yield index, batch


def import_run(*, job_id) -> ImportJob:
    """The task body: claim the job, stream the file in chunks, commit each with the counters. Idempotent:
    a finished job does nothing; a job whose worker died resumes after its last committed chunk."""
    lease = int(getattr(settings, "IMPORT_LEASE_SECONDS", 600))
    if not cache.add(_lock_key(job_id), "1", lease):
        return _job(job_id)  # another worker is running it
    try:
        claimed = ImportJob.objects.filter(pk=job_id, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]) \
            .update(status=ImportStatus.RUNNING, started_at=timezone.now())
        job = _job(job_id)
        if not claimed:
            return job
        by_rows = _checkpointed_by_rows(job)
        if not job.chunk_rows and not by_rows:  # fixed at the first run: a resumed job cuts the file the same way
            job.chunk_rows = chunk_size()
            job.save(update_fields=["chunk_rows"])
        try:
            engine.write_chunks(job, _pending_chunks(job), writers=1 if by_rows else writers(),
                                after_each=lambda: cache.touch(_lock_key(job_id), lease))
        except Exception as exc:
            ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.FAILED, finished_at=timezone.now(),
                                                       detail=f"{type(exc).__name__}: {exc}"[:2000])
            job.refresh_from_db()
            _announce_finished(job)
            raise
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.DONE, finished_at=timezone.now())
        job.refresh_from_db()
        _announce_finished(job)
        return job
    finally:
        cache.delete(_lock_key(job_id))


def import_request_undo(*, job_id, actor=None) -> ImportJob:
    from dataquality.tasks import import_undo_task

    with transaction.atomic():
        job = _job(job_id, lock=True, actor=actor)
        if job.status != ImportStatus.DONE:
            raise Conflict(f"Only a finished import can be undone; this one is {job.status}.")
        job.status = ImportStatus.UNDOING
        job.save(update_fields=["status"])
        transaction.on_commit(lambda: import_undo_task.delay(str(job.pk), getattr(actor, "pk", None)))
    return job


UNDO_BATCH = 2000
RESTORED = ("first_name", "last_name", "email", "phone", "job_title", "organization_id", "tags", "custom_fields",
            "timezone", "locale")


def import_undo(*, job_id, actor=None) -> ImportJob:
    """Delete the contacts the import created (with what hangs on them) and put back the values it
    overwrote, in batches. Claimed by status, so it runs once."""
    job = _job(job_id)
    if job.status != ImportStatus.UNDOING:
        return job
    with audited(actor, "contact.import_undo", import_id=str(job.pk)):
        last = 0
        while True:
            with transaction.atomic():
                batch = list(ImportedContact.objects.filter(job=job, created=True, id__gt=last)
                             .order_by("id").values_list("id", "contact_id")[:UNDO_BATCH])
                if not batch:
                    break
                last = batch[-1][0]
                ids = [cid for _, cid in batch]
                Contact.objects.filter(reports_to_id__in=ids).update(reports_to=None)
                Contact.objects.filter(pk__in=ids).delete()
                invalidate_contacts(ids)
        with transaction.atomic(), connection.cursor() as cursor:
            sets = ", ".join(
                f"{c} = CASE WHEN jsonb_typeof(i.before->'{c}') = 'null' THEN NULL ELSE "
                + ("ARRAY(SELECT jsonb_array_elements_text(i.before->'tags'))" if c == "tags"
                   else "(i.before->'custom_fields')" if c == "custom_fields"
                   else f"(i.before->>'{c}')::uuid" if c == "organization_id" else f"i.before->>'{c}'")
                + " END" for c in RESTORED)
            cursor.execute(f"""
                UPDATE contacts_contact c SET {sets}, updated_at = now()
                  FROM contacts_importedcontact i
                 WHERE i.job_id = %s AND NOT i.created AND i.before IS NOT NULL AND c.id = i.contact_id""", [job.pk])
            restored = list(ImportedContact.objects.filter(job=job, created=False).values_list("contact_id", flat=True))
            invalidate_contacts(restored)
            ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.UNDONE, undone_at=timezone.now())
    job.refresh_from_db()
    return job


def job_to_dict(job: ImportJob, *, request=None, errors: bool = True) -> dict[str, Any]:
    first_errors = list(ImportRowError.objects.filter(job=job).order_by("row", "id")[:20]) if errors else []
    report = f"/api/v1/contacts/imports/{job.pk}/errors/"
    return {
        "id": str(job.pk), "status": job.status, "format": job.format, "filename": job.filename, "size": job.size,
        "encoding": job.encoding, "delimiter": job.delimiter, "mapping": job.mapping,
        "on_duplicate": job.on_duplicate,
        "progress": {"rows_done": job.rows_done, "created": job.created, "updated": job.updated,
                     "skipped": job.skipped, "failed": job.failed},
        "errors": [{"row": e.row, "field": e.field, "code": e.code, "message": e.message} for e in first_errors],
        "error_report": request.build_absolute_uri(report) if request is not None else report,
        "detail": job.detail,
        "created_at": iso_z(job.created_at),
        "started_at": iso_z(job.started_at),
        "finished_at": iso_z(job.finished_at),
        "undone_at": iso_z(job.undone_at),
    }
