"""The import engine: rows are cleaned in Python, COPYed into a temporary staging table, then matched,
de-duplicated and merged into contacts with a few set-based statements per chunk.

A chunk runs in three short transactions on one connection: classify (reads only, into the session's
staging table), create the organizations it names (serialized by an advisory lock, so two writers never
create the same one twice), then write the contacts and commit with the job's counters and the chunk's
number (`chunks_done` is the checkpoint: a restarted job skips the chunks already committed, whatever
order they committed in). New contacts are inserted with pghistory's per-row trigger switched off and
their audit events written by one INSERT … SELECT (same rows, same context: the import job).

Chunks are written by IMPORT_WRITERS threads, each on its own connection, while the calling thread reads
and cleans the file: PostgreSQL's per-row index work is the bound, and one backend only uses one core.
What keeps concurrent chunks from racing each other: an email (or, when the policy looks for phone
duplicates, a phone) seen earlier in the file makes a later row a `duplicate_in_file` before any SQL
(`FileDuplicates`), so two chunks never insert the same email; organizations are created under a lock;
counters are added, not overwritten. Imports that update existing contacts write one chunk after the
other (rows matching one contact must apply in file order).
"""
from __future__ import annotations

import contextlib
import functools
import gc
import queue
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pgtrigger
from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Func, Value

from contacts.choices import Priority
from contacts.models import Contact, sees_all
from contacts_project.bulk_insert import array_literal
from contacts_project.ids import uuid7_hex_block

from ..models import ErasedIdentity, ImportJob
from ..privacy import identity_hash_sql
from . import normalize, readers

STAGE = ("id", "row_no", "action", "first_name", "last_name", "email", "email_lower", "phone", "job_title",
         "org_name", "status", "tags", "custom", "timezone", "locale")
FAILED_ACTIONS = {"reject": ("duplicate", "Rejected: duplicate of contact {match}."),
                  "exists": ("unique", "A contact with this email already exists ({match}).")}
SKIPPED_ACTIONS = {"skip": ("duplicate_skipped", "Skipped: duplicate of contact {match}."),
                   "dup_in_file": ("duplicate_in_file",
                                   "Skipped: the same email (or phone) appears earlier in the file."),
                   "erased": ("erased", "Skipped: this person's data was erased; re-import needs new consent."),
                   "conflict": ("duplicate_skipped", "Skipped: a contact with this email was created meanwhile.")}
IN_FILE_DUPLICATE = "in_file_duplicate"


def matches_phones(policy: str) -> bool:
    """A shared phone is only a duplicate when the caller asks us to look for duplicates."""
    return policy != "create"


ORGANIZATIONS_LOCK = 0x1D0C0A65  # pg_advisory_xact_lock key: one import at a time creates organizations


# --------------------------------------------------------------------------- row stream
def cleaned_rows(job: ImportJob, detected: readers.Detected, path: str) -> Iterator[tuple[int, Any, list]]:
    """(row number, values or None, [RowError]) for every data row, in file order."""
    lenient = job.format == "vcard"
    source: Iterable = (readers.vcard_rows(path, detected) if job.format == "vcard"
                        else readers.csv_rows(path, detected, job.mapping))
    for number, raw in source:
        if isinstance(raw, Exception):
            yield number, None, [normalize.RowError("", "unreadable", f"Unreadable vCard: {raw}"[:500])]
            continue
        try:
            values, warnings = normalize.clean_row(raw, lenient_contact_points=lenient)
        except normalize.RowError as exc:
            yield number, None, [exc]
            continue
        yield number, values, warnings


def chunks(rows: Iterator, size: int) -> Iterator[list]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class FileDuplicates:
    """Emails, and phones when the policy looks for phone duplicates, of the rows kept so far in the file.

    A later row with one of them is a duplicate within the file (skipped, whatever the chunk boundaries),
    which is also what lets chunks be written concurrently: no two of them insert the same email. Keys
    are 64-bit hashes (about 70 MB for a million rows, not the strings).
    """

    def __init__(self, policy: str):
        self.phones = matches_phones(policy)
        self._seen: set[int] = set()

    def mark(self, batch: list) -> list:
        seen = self._seen
        for _, values, _ in batch:
            if values is None:
                continue
            keys = []
            if values["email"]:
                keys.append(hash(values["email"].lower()))
            if self.phones and values["phone"]:
                keys.append(hash(("phone", values["phone"])))
            if any(key in seen for key in keys):
                values[IN_FILE_DUPLICATE] = True
            else:
                seen.update(keys)
        return batch


def prefetched(batches: Iterator[list]) -> Iterator[list]:
    """The batches of `batches`, each read and cleaned by a thread while the caller works on the previous one:
    parsing (Python) overlaps with the database's work on the chunk before (psycopg releases the GIL while
    it waits), so an import costs max(parse, SQL) instead of their sum. The thread touches no database; a
    reader error is raised here, and the reader stops with the caller (at most one batch ahead)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-reader") as reader:
        upcoming = reader.submit(next, batches, None)
        while (batch := upcoming.result()) is not None:
            upcoming = reader.submit(next, batches, None)
            yield batch


# --------------------------------------------------------------------------- SQL
def _event_columns() -> list[str]:
    event = apps.get_model("contacts", "ContactEvent")
    return [f.column for f in event._meta.concrete_fields if not f.name.startswith("pgh_")]


def _insert_trigger_ignore() -> str:
    Contact = apps.get_model("contacts", "Contact")
    (_, trigger), = pgtrigger.registered("contacts.Contact:insert_insert")
    pgid = trigger.get_pgid(Contact)
    return "{" + f"{Contact._meta.db_table}:{pgid},{pgid}" + "}"


def _stage(cursor, rows: list[tuple[int, dict]]) -> None:
    cursor.execute("DROP TABLE IF EXISTS import_stage")  # left by a chunk whose connection broke mid-way
    cursor.execute("""
        CREATE TEMP TABLE import_stage (
            id uuid, row_no int, first_name text, last_name text, email text, email_lower text, phone text,
            job_title text, org_name text, status text, tags text[], custom jsonb, timezone text, locale text,
            action text NOT NULL, match_id uuid, org_id uuid
        )""")  # kept across the chunk's three transactions; dropped when the chunk ends
    ids = uuid7_hex_block(len(rows))  # time-ordered like every id (new rows land at the end of the index)
    with cursor.cursor.copy(f"COPY import_stage ({', '.join(STAGE)}) FROM STDIN") as copy:
        copy.write(_copy_text(ids, rows))
    # the planner needs the row count and rough distributions, not a 30,000-row sample per chunk
    cursor.execute("SET LOCAL default_statistics_target = 10")
    cursor.execute("ANALYZE import_stage")


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@functools.lru_cache(maxsize=4096)  # files repeat the same few tag sets
def _array_literal(tags: tuple[str, ...]) -> str:
    return array_literal(tags)


def _copy_text(ids: list[str], rows: list[tuple[int, dict]]) -> str:
    """The staging rows in COPY's text format, built in one pass: psycopg's per-row adaptation (arrays
    above all) cost more than the parsing. Phones (E.164), statuses, zones and locales are validated
    and need no escaping; free text, emails, tags and the JSON do."""
    lines = []
    for key, (number, v) in zip(ids, rows):
        email = v["email"].translate(_COPY_ESCAPES)
        lines.append("\t".join((
            key, str(number), "dup_in_file" if v.get(IN_FILE_DUPLICATE) else "create",
            v["first_name"].translate(_COPY_ESCAPES), v["last_name"].translate(_COPY_ESCAPES), email,
            email.lower(), v["phone"], v["job_title"].translate(_COPY_ESCAPES),
            v["organization"].translate(_COPY_ESCAPES), v["status"],
            _array_literal(tuple(v["tags"])).translate(_COPY_ESCAPES),
            orjson.dumps(v["custom"]).decode().translate(_COPY_ESCAPES), v["timezone"], v["locale"])))
    lines.append("")
    return "\n".join(lines)


def _classify(cursor, policy: str, actor=None) -> None:
    """Decide each staged row's action: create, update, skip, reject… (duplicates by exact email, then phone).
    A duplicate the job's actor may not change (read when the chunk runs) is skipped, never updated."""
    if ErasedIdentity.objects.exists():
        email_hash, email_params = identity_hash_sql("email", "s.email_lower")
        phone_hash, phone_params = identity_hash_sql("phone", "s.phone")
        cursor.execute(f"""
            UPDATE import_stage s SET action = 'erased'
             WHERE EXISTS (SELECT 1 FROM contacts_erasedidentity e
                            WHERE (s.email_lower <> '' AND e.digest = {email_hash})
                               OR (s.phone <> '' AND e.digest = {phone_hash}))""", [*email_params, *phone_params])
    # one index probe per staged row (a join would read every contact once per chunk). No ORDER BY … LIMIT:
    # before the table's first ANALYZE (a first import) the planner would walk the primary key for it.
    cursor.execute("""
        UPDATE import_stage s SET match_id = (SELECT c.id FROM contacts_contact c
                                               WHERE lower(c.email::text) = s.email_lower AND c.email::text <> '')
         WHERE s.action = 'create' AND s.email_lower <> ''""")
    if matches_phones(policy):
        cursor.execute("""
            UPDATE import_stage s SET match_id = (SELECT (array_agg(c.id ORDER BY c.id))[1] FROM contacts_contact c
                                                   WHERE c.phone = s.phone AND c.phone <> '')
             WHERE s.action = 'create' AND s.match_id IS NULL AND s.phone <> ''""")
    target = {"create": "exists", "skip": "skip", "update": "update", "reject": "reject"}[policy]
    cursor.execute("UPDATE import_stage SET action = %s WHERE action = 'create' AND match_id IS NOT NULL", [target])
    if target == "update" and actor is not None and not sees_all(actor):
        editable = Contact.objects.editable_by(actor).order_by().values("pk")
        sql, params = editable.query.sql_with_params() if not editable.query.is_empty() else ("SELECT NULL::uuid", ())
        cursor.execute(f"UPDATE import_stage SET action = 'skip' WHERE action = 'update' AND match_id NOT IN ({sql})",
                       list(params))


def _organization_names(cursor) -> list[str]:
    cursor.execute("SELECT DISTINCT org_name FROM import_stage WHERE org_name <> '' AND action IN ('create', 'update')")
    return [name for (name,) in cursor.fetchall()]


def _ensure_organizations(job: ImportJob, names: list[str]) -> None:
    """Organizations by name, any case; the ones not found are created, in a transaction of their own under
    an advisory lock (concurrent chunks would otherwise both create "Acme")."""
    if not names:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ORGANIZATIONS_LOCK])
        _set_audit_context(cursor, job)
        cursor.execute("""
            INSERT INTO organization_organization (id, name, domain, created_at, updated_at)
            SELECT gen_random_uuid(), min(n), '', now(), now() FROM unnest(%s::text[]) n
             WHERE NOT EXISTS (SELECT 1 FROM organization_organization o WHERE lower(o.name) = lower(n))
             GROUP BY lower(n)""", [names])


def _link_organizations(cursor) -> None:
    cursor.execute("""
        UPDATE import_stage s SET org_id = o.id
          FROM (SELECT DISTINCT ON (lower(name)) id, lower(name) AS lname FROM organization_organization
                 WHERE lower(name) IN (SELECT lower(org_name) FROM import_stage WHERE org_name <> '')
                 ORDER BY lower(name), created_at, id) o
         WHERE s.org_name <> '' AND lower(s.org_name) = o.lname""")


def _update(cursor, job_id) -> int:
    # in id order: another import updating some of the same contacts waits instead of deadlocking
    cursor.execute("""
        SELECT 1 FROM contacts_contact
         WHERE id = ANY(ARRAY(SELECT match_id FROM import_stage WHERE action = 'update'))
         ORDER BY id FOR UPDATE""")
    cursor.execute("""
        INSERT INTO contacts_importedcontact (job_id, contact_id, created, before)
        SELECT DISTINCT ON (c.id) %s, c.id, false,
               jsonb_build_object('first_name', c.first_name, 'last_name', c.last_name, 'email', c.email,
                                  'phone', c.phone, 'job_title', c.job_title, 'organization_id', c.organization_id,
                                  'tags', to_jsonb(c.tags), 'custom_fields', c.custom_fields,
                                  'timezone', c.timezone, 'locale', c.locale)
          FROM import_stage s JOIN contacts_contact c ON c.id = s.match_id WHERE s.action = 'update'""", [job_id])
    # given values win, empty cells keep what the contact has; the email only fills an empty one
    cursor.execute("""
        UPDATE contacts_contact c SET
            first_name = coalesce(nullif(s.first_name, ''), c.first_name),
            last_name = coalesce(nullif(s.last_name, ''), c.last_name),
            email = CASE WHEN c.email = '' AND s.email <> '' AND NOT EXISTS (
                              SELECT 1 FROM contacts_contact o
                               WHERE lower(o.email::text) = s.email_lower AND o.email::text <> '')
                         THEN s.email ELSE c.email END,
            phone = coalesce(nullif(s.phone, ''), c.phone),
            job_title = coalesce(nullif(s.job_title, ''), c.job_title),
            organization_id = coalesce(s.org_id, c.organization_id),
            tags = ARRAY(SELECT DISTINCT unnest(c.tags || s.tags)),
            custom_fields = c.custom_fields || s.custom,
            timezone = coalesce(nullif(s.timezone, ''), c.timezone),
            locale = coalesce(nullif(s.locale, ''), c.locale),
            updated_at = now()
          FROM (SELECT DISTINCT ON (match_id) * FROM import_stage WHERE action = 'update' ORDER BY match_id, row_no) s
         WHERE c.id = s.match_id""")
    return cursor.rowcount


def _insert(cursor, job_id) -> int:
    """New contacts, their import records and audit events (under the import's context, whose id is the job's)."""
    columns = _event_columns()
    cursor.execute("SELECT set_config('pgtrigger.ignore', %s, true)", [_insert_trigger_ignore()])
    cursor.execute(f"""
        WITH ins AS (
            INSERT INTO contacts_contact (id, first_name, last_name, email, phone, job_title, organization_id,
                                          status, tags, custom_fields, timezone, locale, priority,
                                          engagement_score, created_at, updated_at, status_changed_at)
            SELECT id, first_name, last_name, email, phone, job_title, org_id, status, tags, custom,
                   timezone, locale, %s, 0, clock_timestamp(), clock_timestamp(), now()
              FROM import_stage WHERE action = 'create' ORDER BY id
            ON CONFLICT ((lower(email::text))) WHERE NOT (email::text = '') DO NOTHING
            RETURNING *
        ), rec AS (
            INSERT INTO contacts_importedcontact (job_id, contact_id, created) SELECT %s, id, true FROM ins
        )
        INSERT INTO contacts_contactevent (pgh_created_at, pgh_label, pgh_obj_id, pgh_context_id,
                                           {', '.join(f'"{c}"' for c in columns)})
        SELECT now(), 'insert', id, %s, {', '.join(f'"{c}"' for c in columns)} FROM ins""",
                   [Priority.NORMAL, job_id, job_id])
    inserted = cursor.rowcount
    cursor.execute("SELECT set_config('pgtrigger.ignore', '{}', true)")
    return inserted


def _record_errors(cursor, job_id, errors: list[tuple[int, normalize.RowError]]) -> None:
    if not errors:
        return
    with cursor.cursor.copy("COPY contacts_importrowerror (job_id, row, field, code, message) FROM STDIN") as copy:
        for number, error in errors:
            copy.write_row((job_id, number, error.field[:100], error.code[:40], error.message))


def _staged_outcomes(cursor, job_id) -> None:
    """Row errors for the rows SQL failed or skipped, with the contact they duplicate (one statement)."""
    outcomes = [(action, code, *message.split("{match}", 1)) if "{match}" in message else (action, code, message, "")
                for action, (code, message) in {**FAILED_ACTIONS, **SKIPPED_ACTIONS}.items()]
    values = ", ".join(["(%s, %s, %s, %s)"] * len(outcomes))
    cursor.execute(f"""
        INSERT INTO contacts_importrowerror (job_id, row, field, code, message)
        SELECT %s, s.row_no, CASE WHEN s.email <> '' THEN 'email' ELSE 'phone' END, o.code,
               o.head || coalesce(s.match_id::text, '') || o.tail
          FROM import_stage s JOIN (VALUES {values}) o(action, code, head, tail) ON o.action = s.action""",
                   [job_id, *[value for outcome in outcomes for value in outcome]])


def ensure_context(job: ImportJob) -> uuid.UUID:
    """The import's audit context (every event the import writes points to it)."""
    Context = apps.get_model("pghistory", "Context")
    meta = {"action": "contact.import", "import": str(job.id), "format": job.format}
    if job.actor_id:
        meta.update({"user": job.actor_id, "username": job.actor.get_username()})
    Context.objects.get_or_create(id=job.id, defaults={"metadata": meta})
    return job.id


def _set_audit_context(cursor, job: ImportJob) -> None:
    """Per-row triggers (updates) attach to the import's audit context."""
    meta = {"action": "contact.import", "import": str(job.id)}
    cursor.execute("SELECT set_config('pghistory.context_id', %s, true), "
                   "set_config('pghistory.context_metadata', %s, true)", [str(job.id), orjson.dumps(meta).decode()])


def process_chunk(job: ImportJob, batch: list[tuple[int, Any, list]], *, dry_run: bool = False,
                  index: int | None = None) -> dict[str, Any]:
    """Stage, classify and (unless dry_run) merge one chunk; returns its counts (and per-row actions on a dry run).
    `index` (the chunk's number in the file) is recorded in the job's checkpoint with the counters."""
    valid = [(number, values) for number, values, _ in batch if values is not None]
    errors = [(number, error) for number, _, problems in batch for error in problems]
    failed_in_python = sum(1 for _, values, _ in batch if values is None)
    counts = {"rows": len(batch), "created": 0, "updated": 0, "skipped": 0, "failed": failed_in_python}
    if not valid:
        if dry_run:
            return {"counts": _dry_counts({}, counts), "actions": {}}
        with transaction.atomic(), connection.cursor() as cursor:
            _record_errors(cursor, job.id, errors)
            _checkpoint(job, counts, index)
        return counts
    with _chunk_transaction(), connection.cursor() as cursor:
        try:
            with transaction.atomic():  # 1. classify: reads only, into the staging table
                cursor.execute("SET LOCAL work_mem = '64MB'")  # the chunk's sorts and hashes stay in memory
                _stage(cursor, valid)
                _classify(cursor, job.on_duplicate, job.actor if job.actor_id else None)
                if dry_run:
                    cursor.execute("SELECT row_no, action, match_id FROM import_stage")
                    actions = {row: {"action": action, "duplicate_of": str(match) if match else None}
                               for row, action, match in cursor.fetchall()}
                    return {"counts": _dry_counts(actions, counts), "actions": actions}
                names = _organization_names(cursor)
            _ensure_organizations(job, names)  # 2. its own transaction, under a lock
            with transaction.atomic():  # 3. the writes, the counters and the checkpoint
                cursor.execute("SET LOCAL work_mem = '64MB'")
                _set_audit_context(cursor, job)
                _link_organizations(cursor)
                counts["updated"] = _update(cursor, job.id)
                to_create = _count(cursor, "action = 'create'")
                counts["created"] = _insert(cursor, job.id)
                if counts["created"] < to_create:  # lost a race on the email index: those rows are skipped
                    cursor.execute("""
                        UPDATE import_stage s SET action = 'conflict' WHERE action = 'create' AND NOT EXISTS (
                            SELECT 1 FROM contacts_contact c
                             WHERE lower(c.email::text) = s.email_lower AND c.email::text <> ''
                              AND c.id IN (SELECT contact_id FROM contacts_importedcontact WHERE job_id = %s))""",
                                   [job.id])
                counts["skipped"] = _count(cursor, "action IN ('skip', 'dup_in_file', 'erased', 'conflict')")
                counts["failed"] += _count(cursor, "action IN ('reject', 'exists')")
                _staged_outcomes(cursor, job.id)
                _record_errors(cursor, job.id, errors)
                _checkpoint(job, counts, index)
        finally:
            cursor.execute("DROP TABLE IF EXISTS import_stage")
    return counts


def _chunk_transaction():
    """Behind PgBouncer in transaction mode the next transaction may run on another server session, where the
    staging table does not exist: there the chunk's three transactions become savepoints of one (organizations
    are then created under the lock until the chunk commits)."""
    if settings.DATABASE_POOLER == "pgbouncer" and not connection.in_atomic_block:
        return transaction.atomic()
    return contextlib.nullcontext()


def _checkpoint(job: ImportJob, counts: dict[str, int], index: int | None) -> None:
    """Add the chunk's counts to the job (added, not overwritten: chunks commit concurrently) and its number."""
    extra = {"chunks_done": Func(F("chunks_done"), Value(index), function="array_append")} if index is not None else {}
    ImportJob.objects.filter(pk=job.pk).update(
        rows_done=F("rows_done") + counts["rows"], created=F("created") + counts["created"],
        updated=F("updated") + counts["updated"], skipped=F("skipped") + counts["skipped"],
        failed=F("failed") + counts["failed"], **extra)


def write_chunks(job: ImportJob, batches: Iterator[tuple[int | None, list]], *, writers: int,
                 after_each: Callable[[], None] = lambda: None) -> None:
    """process_chunk for every (index, batch), on `writers` threads with a connection each, while this thread
    reads the next batches. Inside a transaction (a test, a dry run) other connections could not see the
    job, so everything runs here, one chunk after the other (as for `update` imports). The first failure
    stops the import."""
    ensure_context(job)
    # the rows are plain dicts and lists, freed by reference counting; the cyclic collector would walk
    # every row held in flight again and again (a third of the parsing time)
    collecting = gc.isenabled()
    gc.disable()
    try:
        # `update` writes to existing contacts: two rows matching one contact by different keys (email in one,
        # phone in another) must apply in file order, so those imports write one chunk after the other
        if writers <= 1 or connection.in_atomic_block or job.on_duplicate == "update":
            for index, batch in prefetched(batches):
                process_chunk(job, batch, index=index)
                after_each()
        else:
            _write_concurrently(job, batches, writers=writers, after_each=after_each)
    finally:
        if collecting:
            gc.enable()


def _write_concurrently(job: ImportJob, batches: Iterator[tuple[int, list]], *, writers: int,
                        after_each: Callable[[], None]) -> None:
    work: queue.Queue = queue.Queue(maxsize=1)  # bounded: memory holds a few chunks, never the file
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            while (item := work.get()) is not None:
                if not failures:
                    try:
                        process_chunk(job, item[1], index=item[0])
                    except BaseException as exc:  # noqa: BLE001 - handed to the caller below
                        failures.append(exc)
        finally:
            connection.close()  # this thread's own connection (back to the pool)

    threads = [threading.Thread(target=writer, name=f"import-writer-{n}", daemon=True) for n in range(writers)]
    for thread in threads:
        thread.start()
    # this thread parses without pause; a writer back from PostgreSQL (or feeding COPY) waits for the GIL
    # up to the switch interval (5 ms) each time, which at ~40 round trips per chunk left writers idle
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    try:
        for item in batches:
            if failures:
                break
            work.put(item)
            after_each()
    finally:
        for _ in threads:
            work.put(None)
        for thread in threads:
            thread.join()
        sys.setswitchinterval(interval)
    if failures:
        raise failures[0]


def _count(cursor, where: str) -> int:
    cursor.execute(f"SELECT count(*) FROM import_stage WHERE {where}")
    return cursor.fetchone()[0]


def _dry_counts(actions: dict, counts: dict) -> dict:
    out = {"rows": counts["rows"], "create": 0, "update": 0, "skip": 0, "fail": counts["failed"]}
    for item in actions.values():
        action = item["action"]
        if action == "create":
            out["create"] += 1
        elif action == "update":
            out["update"] += 1
        elif action in FAILED_ACTIONS:
            out["fail"] += 1
        else:
            out["skip"] += 1
    return out
