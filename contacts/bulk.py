"""Bulk actions over a filter or an id list, run as a Celery job in all-or-nothing batches.

`bulk_action_start` validates everything up front (400 naming the field) and records a BulkAction;
the task `contacts.bulk.run_action` (queue `bulk`) fixes the target ids, then applies one batch per
transaction with set-based SQL (one UPDATE or INSERT ... SELECT per batch, never one per row). Row
triggers still fire, so each contact's history shows the change with the job's audit context, and the
contact caches are invalidated after each batch commits. A batch that fails rolls back entirely and is
reported as failed; the others go on. The job row records progress and the per-batch results, and is
written in the same transaction as its batch, so a re-delivered task resumes where the last commit left off.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.http import QueryDict
from django.utils import timezone

from contacts_project.audit import audited
from contacts_project.errors import ApplicationError, FieldError, InvalidInput, NotFound
from contacts_project.ids import parse_uuid
from contacts_project.timefmt import iso_z
from organization.models import Category, Organization

from .choices import ALLOWED_TRANSITIONS, ContactStatus
from .filters import ContactFilter
from .models import BulkAction, Contact, ContactCategory, ContactGroup, GroupMembership
from .selectors import contact_list, editable_contacts, sees_all
from .services import invalidate_contacts
from .validation import normalize_tags

logger = logging.getLogger(__name__)
User = get_user_model()

ACTIONS = ("add_tags", "remove_tags", "set_category", "set_owner", "set_status", "move_organization",
           "add_to_group")
PARAMS = {
    "add_tags": {"tags"}, "remove_tags": {"tags"}, "set_category": {"category", "mode"}, "set_owner": {"owner"},
    "set_status": {"status", "reason"}, "move_organization": {"organization"}, "add_to_group": {"group"},
}
CATEGORY_MODES = ("add", "replace", "remove")
LEASE = timedelta(minutes=10)  # a running job without a heartbeat for this long may be picked up again
SAMPLE = 100  # ids listed per batch for skipped contacts

CONTACT = Contact._meta.db_table
CATEGORY_LINK = ContactCategory._meta.db_table
MEMBERSHIP = GroupMembership._meta.db_table


def _setting(name: str, default: int) -> int:
    return getattr(settings, name, default)


# --------------------------------------------------------------------------- validation
def _clean_params(action: str, params: Any) -> dict:
    if action not in ACTIONS:
        raise InvalidInput.field("action", f"Unknown action {action!r}; choose one of {list(ACTIONS)}.",
                                 "invalid_choice")
    if not isinstance(params, dict):
        raise InvalidInput.field("params", "Expected an object.")
    unknown = sorted(set(params) - PARAMS[action])
    if unknown:
        raise InvalidInput(f"Unknown parameter {unknown[0]!r} for {action}.", errors=[
            FieldError(f"params.{name}", "unknown_field", f"Not a parameter of {action}; "
                                                          f"it takes {sorted(PARAMS[action])}.") for name in unknown])

    def need(name: str):
        if name not in params:
            raise InvalidInput.field(f"params.{name}", f"{action} needs {name}.", "required")
        return params[name]

    if action in ("add_tags", "remove_tags"):
        try:
            tags = normalize_tags(need("tags"))
        except ValueError as exc:
            raise InvalidInput.field("params.tags", str(exc))
        if not tags:
            raise InvalidInput.field("params.tags", "Give at least one tag.", "required")
        return {"tags": tags}
    if action == "set_category":
        key = parse_uuid(need("category"))
        if key is None or not Category.objects.filter(pk=key).exists():
            raise InvalidInput.field("params.category", f"No category with id {params['category']!r}.",
                                     "does_not_exist")
        mode = params.get("mode", "add")
        if mode not in CATEGORY_MODES:
            raise InvalidInput.field("params.mode", f"mode is one of {list(CATEGORY_MODES)}.", "invalid_choice")
        return {"category": str(key), "mode": mode}
    if action == "set_owner":
        owner = need("owner")
        if owner is None:
            return {"owner": None}
        if not isinstance(owner, int) or isinstance(owner, bool) or not User.objects.filter(
                pk=owner, is_active=True).exists():
            raise InvalidInput.field("params.owner", f"No active user with id {owner!r}.", "does_not_exist")
        return {"owner": owner}
    if action == "set_status":
        status = need("status")
        if status not in ContactStatus.values:
            raise InvalidInput.field("params.status", f"{status!r} is not a status; choose one of "
                                                      f"{ContactStatus.values}.", "invalid_choice")
        reason = params.get("reason", "")
        if not isinstance(reason, str) or len(reason) > 500:
            raise InvalidInput.field("params.reason", "The reason is text of at most 500 characters.")
        return {"status": status, "reason": reason}
    if action == "move_organization":
        value = need("organization")
        if value is None:
            return {"organization": None}
        key = parse_uuid(value)
        if key is None or not Organization.objects.filter(pk=key).exists():
            raise InvalidInput.field("params.organization", f"No organization with id {value!r}.", "does_not_exist")
        return {"organization": str(key)}
    # add_to_group
    key = parse_uuid(need("group"))
    if key is None or not ContactGroup.objects.filter(pk=key).exists():
        raise InvalidInput.field("params.group", f"No group with id {params['group']!r}.", "does_not_exist")
    return {"group": str(key)}


def filter_queryset(filter_params: dict, *, user):
    """The contacts a filter object selects (the contact list's query parameters, `q` and `view` included)."""
    if not isinstance(filter_params, dict):
        raise InvalidInput.field("filter", "Expected an object of contact list filters.")
    data = QueryDict(mutable=True)
    for key, value in filter_params.items():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, (dict, list)) for v in values):
            raise InvalidInput.field(f"filter.{key}", "Filter values are text, numbers or lists of them.")
        data.setlist(key, ["true" if v is True else "false" if v is False else str(v) for v in values])
    for name in ("cursor", "page_size", "ordering", "format"):
        if name in data:
            raise InvalidInput.field(f"filter.{name}", "Not a filter.", "unknown_filter")
    try:
        # bulk actions change contacts: only those the user may change (visibility)
        filterset = ContactFilter(data, queryset=editable_contacts(user) if user is not None else contact_list(),
                                  user=user)
        if not filterset.is_valid():
            raise InvalidInput("Invalid filter.", errors=[
                FieldError(f"filter.{name}", "invalid", " ".join(str(m) for m in messages))
                for name, messages in filterset.errors.items()])
        return filterset.qs
    except InvalidInput as exc:
        # name the fields inside `filter`
        raise InvalidInput(exc.detail, errors=[FieldError(f"filter.{e.field}", e.code, e.message) for e in exc.errors],
                           extra=exc.extra)


def _clean_ids(ids: Any) -> list:
    limit = _setting("BULK_ACTION_MAX_IDS", 100_000)
    if not isinstance(ids, list) or not ids:
        raise InvalidInput.field("ids", "Give a non-empty list of contact ids.", "required")
    if len(ids) > limit:
        raise InvalidInput.field("ids", f"At most {limit} ids; use a filter for more.", "max_length")
    parsed = [parse_uuid(v) for v in ids]
    malformed = [str(v) for v, p in zip(ids, parsed) if p is None]
    if malformed:
        raise InvalidInput.field("ids", f"Not contact ids: {malformed[:20]}.", "invalid")
    unique = list(dict.fromkeys(parsed))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT u.id FROM unnest(%s::uuid[]) AS u(id) "
                       f"WHERE NOT EXISTS (SELECT 1 FROM {CONTACT} c WHERE c.id = u.id) LIMIT 101", [unique])
        missing = [str(row[0]) for row in cursor.fetchall()]
    if missing:
        raise InvalidInput(f"{len(missing)}{'+' if len(missing) > 100 else ''} contact ids do not exist; "
                           "nothing was started.",
                           errors=[FieldError("ids", "does_not_exist", f"No contacts with ids {missing[:20]}.")],
                           extra={"missing": missing[:100]})
    return unique


def bulk_action_start(*, action: str, params: Any = None, filter: Any = None, ids: Any = None,
                      confirm: bool = False, actor=None) -> BulkAction:
    """Validate and record a bulk action; the worker runs it after commit. Over the confirmation
    threshold (BULK_ACTION_CONFIRM_THRESHOLD) the caller must send `confirm: true`."""
    cleaned = _clean_params(action, params if params is not None else {})
    if (filter is None) == (ids is None):
        raise InvalidInput.field("filter", "Give either `filter` or `ids`, not both or neither.", "required")
    threshold = _setting("BULK_ACTION_CONFIRM_THRESHOLD", 10_000)
    user = actor if getattr(actor, "is_authenticated", False) else None
    if ids is not None:
        contact_ids = _clean_ids(ids)
        if user is not None and not sees_all(user):  # ids the user may not change do not exist for them
            allowed = set(editable_contacts(user, Contact.objects.filter(pk__in=contact_ids))
                          .values_list("pk", flat=True))
            hidden = [str(c) for c in contact_ids if c not in allowed]
            if hidden:
                raise InvalidInput(f"{len(hidden)} contact ids do not exist; nothing was started.",
                                   errors=[FieldError("ids", "does_not_exist", f"No contacts with ids {hidden[:20]}.")],
                                   extra={"missing": hidden[:100]})
        total = len(contact_ids)
    else:
        queryset = filter_queryset(filter, user=user)
        contact_ids = []
        # a bounded count: never more than threshold + 1 rows, whatever the filter matches
        total = queryset.order_by().values("pk")[: threshold + 1].count()
    if total > threshold and confirm is not True:
        raise InvalidInput.field("confirm", f"This action would change more than {threshold} contacts; "
                                            "send \"confirm\": true to run it.", "confirmation_required")
    with transaction.atomic(), audited(actor, f"contacts.bulk.{action}.start"):
        job = BulkAction.objects.create(action=action, params=cleaned, filter=filter, contact_ids=contact_ids,
                                        total=total, created_by=user,
                                        batch_size=_setting("BULK_ACTION_BATCH_SIZE", 5000))
        transaction.on_commit(lambda: run_action.delay(str(job.pk)))
    return job


def bulk_action_get(*, job_id, user=None) -> BulkAction:
    key = parse_uuid(job_id)
    query = BulkAction.objects.defer("contact_ids")
    if user is not None and not getattr(user, "is_superuser", False):
        query = query.filter(created_by=user)
    job = query.filter(pk=key).first() if key else None
    if job is None:
        raise NotFound("Bulk action not found.")
    return job


# --------------------------------------------------------------------------- the set-based handlers
def _rows(sql: str, params: list) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _touch(ids: list) -> None:
    """Bump updated_at so each contact's history records the change (with the job's audit context)."""
    if ids:
        # clock_timestamp, not now(): a second change in the same transaction must still differ (and be recorded)
        _rows(f"UPDATE {CONTACT} SET updated_at = clock_timestamp() WHERE id = ANY(%s) RETURNING id", [ids])


def _add_tags(ids: list, params: dict) -> dict:
    tags = params["tags"]
    changed = _rows(
        f"UPDATE {CONTACT} SET tags = tags || ARRAY(SELECT t FROM unnest(%s::varchar[]) WITH ORDINALITY u(t, i) "
        f"WHERE NOT t = ANY(tags) ORDER BY i)::varchar[], updated_at = now() "
        f"WHERE id = ANY(%s) AND NOT tags @> %s::varchar[] RETURNING id", [tags, ids, tags])
    return {"changed": changed}


def _remove_tags(ids: list, params: dict) -> dict:
    tags = params["tags"]
    changed = _rows(
        f"UPDATE {CONTACT} SET tags = ARRAY(SELECT t FROM unnest(tags) WITH ORDINALITY u(t, i) "
        f"WHERE t <> ALL(%s::varchar[]) ORDER BY i)::varchar[], updated_at = now() "
        f"WHERE id = ANY(%s) AND tags && %s::varchar[] RETURNING id", [tags, ids, tags])
    return {"changed": changed}


def _set_category(ids: list, params: dict) -> dict:
    category, mode = params["category"], params["mode"]
    touched: set = set()
    if mode in ("replace", "remove"):
        condition = "category_id <> %s" if mode == "replace" else "category_id = %s"
        touched.update(_rows(f"DELETE FROM {CATEGORY_LINK} WHERE contact_id = ANY(%s) AND {condition} "
                             f"RETURNING contact_id", [ids, category]))
    if mode in ("add", "replace"):
        touched.update(_rows(
            f"INSERT INTO {CATEGORY_LINK} (contact_id, category_id) SELECT id, %s FROM {CONTACT} "
            f"WHERE id = ANY(%s) ON CONFLICT (contact_id, category_id) DO NOTHING RETURNING contact_id",
            [category, ids]))
    changed = list(touched)
    _touch(changed)
    return {"changed": changed}


def _set_owner(ids: list, params: dict) -> dict:
    changed = _rows(f"UPDATE {CONTACT} SET owner_id = %s, updated_at = now() "
                    f"WHERE id = ANY(%s) AND owner_id IS DISTINCT FROM %s RETURNING id",
                    [params["owner"], ids, params["owner"]])
    return {"changed": changed}


def _set_status(ids: list, params: dict) -> dict:
    """Only moves the lifecycle table allows; the others are reported as skipped, never changed."""
    target = params["status"]
    sources = sorted(source for source, targets in ALLOWED_TRANSITIONS.items() if target in targets)
    changed = _rows(f"UPDATE {CONTACT} SET status = %s, status_changed_at = now(), updated_at = now() "
                    f"WHERE id = ANY(%s) AND status = ANY(%s) RETURNING id", [target, ids, sources])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, status FROM {CONTACT} WHERE id = ANY(%s) AND status <> %s "
                       f"AND NOT status = ANY(%s)", [ids, target, sources])
        disallowed = cursor.fetchall()
    by_status: dict[str, int] = {}
    for _, status in disallowed:
        by_status[status] = by_status.get(status, 0) + 1
    return {"changed": changed, "skipped": [str(row[0]) for row in disallowed],
            "skipped_reason": {s: f"{s} → {target} is not an allowed transition ({n} contacts)"
                               for s, n in sorted(by_status.items())}}


def _move_organization(ids: list, params: dict) -> dict:
    changed = _rows(f"UPDATE {CONTACT} SET organization_id = %s, updated_at = now() "
                    f"WHERE id = ANY(%s) AND organization_id IS DISTINCT FROM %s RETURNING id",
                    [params["organization"], ids, params["organization"]])
    return {"changed": changed}


def _add_to_group(ids: list, params: dict) -> dict:
    changed = _rows(
        f"INSERT INTO {MEMBERSHIP} (group_id, contact_id, added_at) SELECT %s, id, now() FROM {CONTACT} "
        f"WHERE id = ANY(%s) ON CONFLICT (group_id, contact_id) DO NOTHING RETURNING contact_id",
        [params["group"], ids])
    if changed:
        ContactGroup.objects.filter(pk=params["group"]).update(updated_at=timezone.now())
    return {"changed": changed}


HANDLERS = {
    "add_tags": _add_tags, "remove_tags": _remove_tags, "set_category": _set_category, "set_owner": _set_owner,
    "set_status": _set_status, "move_organization": _move_organization, "add_to_group": _add_to_group,
}


# --------------------------------------------------------------------------- the job
def _claim(job_id) -> bool:
    """pending → running, or take over a running job whose worker stopped sending heartbeats."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {BulkAction._meta.db_table} SET status = 'running', started_at = COALESCE(started_at, %s), "
            f"heartbeat_at = %s WHERE id = %s AND (status = 'pending' OR (status = 'running' AND heartbeat_at < %s))",
            [now, now, job_id, now - LEASE])
        return cursor.rowcount == 1


def _snapshot(job: BulkAction) -> list:
    """Fix the target ids once (a filter is evaluated when the job starts), in id order."""
    if job.contact_ids or not job.filter:
        return list(job.contact_ids)
    queryset = filter_queryset(job.filter, user=job.created_by)
    ids = list(queryset.order_by("pk").values_list("pk", flat=True))
    BulkAction.objects.filter(pk=job.pk).update(contact_ids=ids, total=len(ids))
    return ids


def _run_batch(job_id, index: int, ids: list, action: str, params: dict, actor) -> None:
    """One transaction: apply the batch (in a savepoint) and record its result on the job row."""
    with transaction.atomic():
        job = BulkAction.objects.select_for_update().defer("contact_ids").get(pk=job_id)
        if len(job.batches) > index:
            return  # recorded by an earlier delivery of this task
        result: dict[str, Any] = {"index": index, "count": len(ids), "first_id": str(ids[0]),
                                  "last_id": str(ids[-1])}
        # the scope applies when the batch runs, not only when the job was queued: contacts the creator may no
        # longer change (unshared, moved to another team) are skipped as `not_editable`
        hidden: list = []
        if actor is not None and not sees_all(actor):
            allowed = set(Contact.objects.editable_by(actor).filter(pk__in=ids).values_list("pk", flat=True))
            hidden = [str(i) for i in ids if parse_uuid(i) not in allowed]
        targets = [i for i in ids if str(i) not in hidden] if hidden else ids
        try:
            with transaction.atomic(), audited(actor, f"contacts.bulk.{action}", bulk_action=str(job_id),
                                               batch=index, reason=params.get("reason", "")):
                outcome = HANDLERS[action](targets, params) if targets else {"changed": []}
                if hidden:
                    outcome = {**outcome, "skipped": [*outcome.get("skipped", []), *hidden],
                               "skipped_reason": outcome.get("skipped_reason") or "not_editable"}
        except (DatabaseError, ApplicationError) as exc:
            logger.warning("bulk action %s batch %s failed: %s", job_id, index, exc)
            result.update(status="failed", changed=0, error=str(exc).splitlines()[0][:500])
            job.failed += len(ids)
        else:
            changed = outcome["changed"]
            skipped = outcome.get("skipped", [])
            result.update(status="applied", changed=len(changed), unchanged=len(ids) - len(changed) - len(skipped),
                          skipped=len(skipped))
            if skipped:
                result["skipped_ids"] = skipped[:SAMPLE]
                result["skipped_reason"] = outcome["skipped_reason"]
            job.done += len(ids) - len(skipped)
            job.failed += len(skipped)
            job.changed += len(changed)
            invalidate_contacts(changed)  # after commit
        job.batches = [*job.batches, result]
        job.heartbeat_at = timezone.now()
        job.save(update_fields=["batches", "done", "failed", "changed", "heartbeat_at"])


@shared_task(name="contacts.bulk.run_action", acks_late=True)
def run_action(job_id: str) -> str:
    """Run (or resume) a bulk action. Idempotent: finished batches are recorded and skipped on a re-run."""
    if not _claim(job_id):
        return "not claimed"
    job = BulkAction.objects.select_related("created_by").get(pk=job_id)
    try:
        ids = _snapshot(job)
    except ApplicationError as exc:  # e.g. the saved view was deleted before the job started
        BulkAction.objects.filter(pk=job.pk).update(status=BulkAction.Status.FAILED, error=exc.detail,
                                                    finished_at=timezone.now())
        return "failed"
    size = max(1, job.batch_size)
    for index, start in enumerate(range(0, len(ids), size)):
        _run_batch(job.pk, index, ids[start:start + size], job.action, job.params, job.created_by)
    job.refresh_from_db(fields=["batches"])
    failed_batches = sum(1 for b in job.batches if b["status"] == "failed")
    status = BulkAction.Status.FAILED if failed_batches and failed_batches == len(job.batches) else \
        BulkAction.Status.DONE
    error = f"{failed_batches} of {len(job.batches)} batches failed and were rolled back." if failed_batches else ""
    BulkAction.objects.filter(pk=job.pk).update(status=status, error=error, finished_at=timezone.now(),
                                                heartbeat_at=timezone.now())
    return status


def bulk_action_to_dict(job: BulkAction) -> dict:
    applied = [b for b in job.batches if b.get("status") == "applied"]
    failed = [b for b in job.batches if b.get("status") == "failed"]
    return {
        "id": str(job.pk), "action": job.action, "params": job.params, "filter": job.filter, "status": job.status,
        "total": job.total, "done": job.done, "failed": job.failed, "changed": job.changed,
        "batch_size": job.batch_size,
        "batches": {"total": -(-job.total // max(1, job.batch_size)) if job.total else 0,
                    "applied": len(applied), "failed": len(failed)},
        "results": job.batches, "error": job.error,
        "created_by": job.created_by_id,
        "created_at": iso_z(job.created_at),
        "started_at": iso_z(job.started_at),
        "finished_at": iso_z(job.finished_at),
    }
