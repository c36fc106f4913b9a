"""Planning writes: lists, segments (with materialization), priority rules and tasks."""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone

from contacts.choices import Priority
from contacts.filters import ContactFilter
from contacts.models import Contact, sees_all
from contacts.selectors import visible_contacts
from contacts.services import invalidate_contacts
from contacts_project.audit import audited
from contacts_project.errors import Conflict, Errors, FieldError, InvalidInput, NotFound
from contacts_project.events import EventType, emit
from contacts_project.ids import parse_uuid

from . import segments
from .choices import TaskKind, TaskStatus
from .models import ContactList, ListJob, ListMembership, PriorityRule, Segment, SegmentChange, SegmentMembership, Task

User = get_user_model()
LIST_SYNC_MAX = 10000  # up to this many ids are applied in the request; more (or a filter) run as a job
LIST_JOB_MAX = 100000



# --------------------------------------------------------------------------- lists
def list_create(*, data: dict[str, Any], actor=None) -> ContactList:
    errors = Errors()
    name = errors.text(data, "name", 200, required=True)
    description = errors.text(data, "description", 10000) or ""
    errors.raise_if_any()
    with transaction.atomic(), audited(actor, "list.create"):
        return ContactList.objects.create(name=name, description=description, owner_id=getattr(actor, "pk", None))


def list_update(*, list_id, data: dict[str, Any], actor=None) -> ContactList:
    errors = Errors()
    values = {k: v for k in ("name", "description")
              if k in data and (v := errors.text(data, k, 200 if k == "name" else 10000, required=k == "name"))
              is not None}
    errors.raise_if_any()
    with transaction.atomic(), audited(actor, "list.update"):
        contact_list = _locked(ContactList, list_id, "List")
        for key, value in values.items():
            setattr(contact_list, key, value)
        if values:
            contact_list.save(update_fields=[*values, "updated_at"])
    return contact_list


def list_delete(*, list_id, actor=None) -> None:
    with transaction.atomic(), audited(actor, "list.delete"):
        contact_list = _locked(ContactList, list_id, "List")
        members = list(contact_list.memberships.values_list("contact_id", flat=True))
        contact_list.delete()
        invalidate_contacts(members)


def _locked(model, pk, label: str):
    key = parse_uuid(pk)
    obj = model.objects.select_for_update().filter(pk=key).first() if key else None
    if obj is None:
        raise NotFound(f"{label} not found.")
    return obj


def contacts_from_filter(filter_params: Any, *, field: str = "filter"):
    """The contacts a list-style filter selects (the same parameters as GET /contacts/)."""
    if not isinstance(filter_params, dict):
        raise InvalidInput.field(field, "Expected an object of contact-list filters, e.g. {\"status\": \"active\"}.")
    params = {k: ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in filter_params.items()}
    try:
        filterset = ContactFilter(params, queryset=Contact.objects.all())
    except InvalidInput as exc:
        raise InvalidInput(exc.detail, errors=[FieldError(f"{field}.{e.field}", e.code, e.message) for e in exc.errors])
    if not filterset.is_valid():
        raise InvalidInput("Invalid filter.", errors=[
            FieldError(f"{field}.{name}", "invalid", " ".join(map(str, messages)))
            for name, messages in filterset.errors.items()])
    return filterset.qs


def _membership_sql(list_id, contacts_sql: str, params: list, add: bool) -> list:
    """One statement; returns the ids of the contacts whose membership changed."""
    table, contact_table = ListMembership._meta.db_table, Contact._meta.db_table
    with connection.cursor() as cursor:
        if add:
            cursor.execute(
                f"INSERT INTO {table} (contact_list_id, contact_id, added_at) "
                f"SELECT %s, c.id, now() FROM {contact_table} c WHERE c.id IN ({contacts_sql}) "
                f"ON CONFLICT (contact_list_id, contact_id) DO NOTHING RETURNING contact_id", [list_id, *params])
        else:
            cursor.execute(f"DELETE FROM {table} WHERE contact_list_id = %s AND contact_id IN ({contacts_sql}) "
                           f"RETURNING contact_id", [list_id, *params])
        return [row[0] for row in cursor.fetchall()]


def list_change_members(*, list_id, add: bool, contact_ids: list | None = None, filter_params: dict | None = None,
                        actor=None) -> dict:
    """Add or remove members by ids or by a contact filter, as one set-based statement.

    One unknown id changes nothing. Returns the number of rows that changed.
    """
    if (contact_ids is None) == (filter_params is None):
        raise InvalidInput.field("contact_ids", "Give either contact_ids or filter.", "required")
    if contact_ids is not None:
        if not isinstance(contact_ids, list):
            raise InvalidInput.field("contact_ids", "Expected a list of contact ids.")
        if len(contact_ids) > LIST_JOB_MAX:
            raise InvalidInput.field("contact_ids", f"At most {LIST_JOB_MAX} ids per call.", "max_length")
        parsed = [parse_uuid(v) for v in contact_ids]
        if None in parsed:
            bad = [str(v) for v, p in zip(contact_ids, parsed) if p is None][:20]
            raise InvalidInput.field("contact_ids", f"Not contact ids: {bad}.")
        unique = list(dict.fromkeys(parsed))
        if not unique:
            return {"list": str(_get_list(list_id).pk), "added" if add else "removed": 0}
        # the actor's scope, applied when this runs (in the request or in the list job): unseen ids do not exist
        scope = Contact.objects.all() if actor is None else Contact.objects.visible_to(actor)
        found = scope.filter(pk__in=unique).count()
        if found != len(unique):
            existing = set(scope.filter(pk__in=unique).values_list("pk", flat=True))
            missing = [str(p) for p in unique if p not in existing]
            raise InvalidInput.field("contact_ids", f"No contacts with ids {missing[:20]}; nothing was changed.",
                                     "does_not_exist")
        contacts = Contact.objects.filter(pk__in=unique)
    else:
        contacts = contacts_from_filter(filter_params)
        if actor is not None:
            contacts = contacts.visible_to(actor)
    sql, params = contacts.order_by().values("pk").query.sql_with_params()
    with transaction.atomic(), audited(actor, "list.add_contacts" if add else "list.remove_contacts"):
        contact_list = _locked(ContactList, list_id, "List")
        changed = _membership_sql(contact_list.pk, sql, list(params), add)
        ContactList.objects.filter(pk=contact_list.pk).update(updated_at=timezone.now())
        invalidate_contacts(changed)  # the contact detail shows its lists
        transaction.on_commit(lambda: _after_membership_change(contact_list.pk))
    return {"list": str(contact_list.pk), "added" if add else "removed": len(changed)}


def _after_membership_change(list_id) -> None:
    """Segments that use this list go stale: refresh the materialized ones."""
    from .tasks import refresh_segment

    for segment_id in Segment.objects.filter(materialized=True, rules__icontains=str(list_id)) \
            .values_list("pk", flat=True):
        refresh_segment.delay(str(segment_id))


def list_job_create(*, list_id, add: bool, contact_ids: list | None = None, filter_params: dict | None = None,
                    actor=None) -> ListJob:
    """Queue a large membership change; the request only checks the input's shape."""
    if (contact_ids is None) == (filter_params is None):
        raise InvalidInput.field("contact_ids", "Give either contact_ids or filter.", "required")
    if filter_params is not None:
        contacts_from_filter(filter_params)  # a bad filter is a 400 now, not a failed job later
    contact_list = _get_list(list_id)
    params = {"contact_ids": contact_ids} if contact_ids is not None else {"filter": filter_params}
    with transaction.atomic():
        job = ListJob.objects.create(contact_list=contact_list, add=add, params=params,
                                     actor_id=getattr(actor, "pk", None))
        transaction.on_commit(lambda: _enqueue_list_job(job.pk))
    return job


def _get_list(list_id) -> ContactList:
    key = parse_uuid(list_id)
    contact_list = ContactList.objects.filter(pk=key).first() if key else None
    if contact_list is None:
        raise NotFound("List not found.")
    return contact_list


def _enqueue_list_job(job_id) -> None:
    from .tasks import run_list_job

    run_list_job.delay(str(job_id))


# --------------------------------------------------------------------------- segments
def _clean_segment(data: dict, errors: Errors, segment_id=None) -> dict:
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "name":
            name = errors.text(data, "name", 200, required=True)
            if name is not None:
                values["name"] = name
        elif key == "description":
            values["description"] = errors.text(data, "description", 10000) or ""
        elif key == "rules":
            try:
                segments.compile_rules(value, segment_id=segment_id)
            except InvalidInput as exc:
                errors.items.extend(exc.errors)
            else:
                values["rules"] = value
        elif key == "materialized":
            if not isinstance(value, bool):
                errors.add("materialized", "Expected true or false.")
            else:
                values["materialized"] = value
        elif key == "refresh_interval_minutes":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10080:
                errors.add("refresh_interval_minutes", "Expected a whole number of minutes from 1 to 10080.")
            else:
                values["refresh_interval_minutes"] = value
        else:
            errors.add(key, "Unknown field.", "unknown_field")
    return values


def segment_create(*, data: dict[str, Any], actor=None) -> Segment:
    errors = Errors()
    if "rules" not in data:
        errors.add("rules", "This field is required.", "required")
    values = _clean_segment({"name": data.get("name"), **data}, errors)
    errors.raise_if_any()
    with transaction.atomic(), audited(actor, "segment.create"):
        segment = Segment.objects.create(**values, owner_id=getattr(actor, "pk", None))
        if segment.materialized:
            transaction.on_commit(lambda: _enqueue_refresh(segment.pk))
    return segment


def segment_update(*, segment_id, data: dict[str, Any], actor=None) -> Segment:
    with transaction.atomic(), audited(actor, "segment.update"):
        segment = _locked(Segment, segment_id, "Segment")
        errors = Errors()
        values = _clean_segment(data, errors, segment_id=segment.pk)
        errors.raise_if_any()
        for key, value in values.items():
            setattr(segment, key, value)
        if values:
            segment.save(update_fields=[*values, "updated_at"])
        if segment.materialized and ("rules" in values or "materialized" in values):
            transaction.on_commit(lambda: _enqueue_refresh(segment.pk))
    return segment


def segment_delete(*, segment_id, actor=None) -> None:
    with transaction.atomic(), audited(actor, "segment.delete"):
        segment = _locked(Segment, segment_id, "Segment")
        users = [s.name for s in Segment.objects.filter(rules__icontains=str(segment.pk)).exclude(pk=segment.pk)]
        if users:
            raise Conflict(f"Other segments include this one: {users[:10]}.", extra={"segments": users[:50]})
        segment.delete()


def _enqueue_refresh(segment_id) -> None:
    from .tasks import refresh_segment

    refresh_segment.delay(str(segment_id))


def segment_refresh(*, segment_id) -> dict:
    """Materialize a segment: one statement inserts joiners, deletes leavers and records both.

    Row-locks the segment so two refreshes never interleave.
    """
    with transaction.atomic():
        segment = _locked(Segment, segment_id, "Segment")
        target = segments.segment_queryset(segment.rules, segment_id=segment.pk).order_by().values("id")
        target_sql, target_params = target.query.sql_with_params()
        members, changes = SegmentMembership._meta.db_table, SegmentChange._meta.db_table
        sql = (
            f"WITH target AS ({target_sql}), "
            f"added AS (INSERT INTO {members} (segment_id, contact_id, joined_at) "
            f"  SELECT %s, t.id, now() FROM target t "
            f"  ON CONFLICT (segment_id, contact_id) DO NOTHING RETURNING contact_id), "
            f"removed AS (DELETE FROM {members} m WHERE m.segment_id = %s "
            f"  AND NOT EXISTS (SELECT 1 FROM target t WHERE t.id = m.contact_id) RETURNING contact_id), "
            f"logged AS (INSERT INTO {changes} (segment_id, contact_id, joined, at) "
            f"  SELECT %s, contact_id, true, now() FROM added "
            f"  UNION ALL SELECT %s, contact_id, false, now() FROM removed RETURNING joined) "
            f"SELECT count(*) FILTER (WHERE joined), count(*) FILTER (WHERE NOT joined), "
            f"  (SELECT count(*) FROM target) FROM logged"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*target_params, segment.pk, segment.pk, segment.pk, segment.pk])
            joined, left, total = cursor.fetchone()
        segment.refreshed_at = timezone.now()
        segment.member_count = total
        segment.save(update_fields=["refreshed_at", "member_count"])
    return {"segment": str(segment.pk), "joined": joined, "left": left, "members": total}


def segment_preview(*, rules: Any, sample: int = 20, user=None) -> dict:
    """Count and a sample for unsaved rules (the count is exact: segments are for targeting); with `user`,
    over the contacts that user may see."""
    queryset = visible_contacts(user, segments.segment_queryset(rules))
    return {"count": queryset.count(), "sample": list(queryset.order_by("-created_at", "-id")[:sample])}


# --------------------------------------------------------------------------- priorities
def priority_rules_apply(*, actor=None) -> int:
    """Set each contact's priority from the active priority rules (later rules win); set-based."""
    changed = 0
    with transaction.atomic(), audited(actor, "priority.apply_rules"):
        for rule in PriorityRule.objects.filter(is_active=True).select_related("segment").order_by("order"):
            targets = segments.segment_queryset(rule.segment.rules, segment_id=rule.segment_id) \
                .exclude(priority=rule.priority)
            ids = list(targets.values_list("pk", flat=True)[:500000])
            changed += Contact.objects.filter(pk__in=ids).update(priority=rule.priority, updated_at=timezone.now())
            invalidate_contacts(ids)
    return changed


def priority_rule_create(*, data: dict[str, Any], actor=None) -> PriorityRule:
    segment_id = parse_uuid(data.get("segment"))
    if segment_id is None or not Segment.objects.filter(pk=segment_id).exists():
        raise InvalidInput.field("segment", f"No segment with id {data.get('segment')!r}.", "does_not_exist")
    if data.get("priority") not in Priority.values:
        raise InvalidInput.field("priority", f"Priority is one of {Priority.values}.", "invalid_choice")
    with transaction.atomic(), audited(actor, "priority_rule.create"):
        return PriorityRule.objects.create(segment_id=segment_id, priority=data["priority"],
                                           order=int(data.get("order") or 0))


# --------------------------------------------------------------------------- tasks
TASK_FIELDS = ("contact", "kind", "title", "notes", "assignee", "due_at", "repeat_every_days")


def _clean_task(data: dict, errors: Errors, instance: Task | None, actor=None) -> dict:
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "contact":
            contact = parse_uuid(value)  # a contact the actor may not see does not exist for them
            if contact is None or not visible_contacts(actor, Contact.objects.all()).filter(pk=contact).exists():
                errors.add("contact", f"No contact with id {value!r}.", "does_not_exist")
            else:
                values["contact_id"] = contact
        elif key == "kind":
            if value not in TaskKind.values:
                errors.add("kind", f"Kind is one of {TaskKind.values}.", "invalid_choice")
            else:
                values["kind"] = value
        elif key == "title":
            title = errors.text(data, "title", 200, required=True)
            if title is not None:
                values["title"] = title
        elif key in ("notes", "outcome"):
            values[key] = errors.text(data, key, 20000) or ""
        elif key == "assignee":
            if value is None:
                values["assignee_id"] = None
            elif isinstance(value, bool) or not isinstance(value, int) or \
                    not User.objects.filter(pk=value, is_active=True).exists():
                errors.add("assignee", f"No active user with id {value!r}.", "does_not_exist")
            else:
                values["assignee_id"] = value
        elif key == "due_at":
            if not isinstance(value, dt.datetime):
                errors.add("due_at", "Expected a date-time.", "invalid")
            else:
                values["due_at"] = value
        elif key == "repeat_every_days":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650):
                errors.add("repeat_every_days", "Expected a whole number of days from 1 to 3650, or null.")
            else:
                values["repeat_every_days"] = value
        else:
            errors.add(key, "Unknown field.", "unknown_field")
    return values


def task_create(*, data: dict[str, Any], actor=None) -> Task:
    errors = Errors()
    for required in ("contact", "title", "due_at"):
        if required not in data:
            errors.add(required, "This field is required.", "required")
    values = _clean_task(data, errors, None, actor)
    errors.raise_if_any()
    values.setdefault("assignee_id", getattr(actor, "pk", None))
    with transaction.atomic(), audited(actor, "task.create"):
        task = Task.objects.create(**values, created_by_id=getattr(actor, "pk", None))
        _notify_assignment(task.pk, actor)
    return task


def task_check_editable(task: Task, actor) -> None:
    """Under the task's row lock: its assignee, or someone who may change its contact (403 otherwise: they
    see it, as the task list shows tasks of visible contacts and tasks assigned to them)."""
    if actor is None or sees_all(actor) or task.assignee_id == getattr(actor, "pk", None):
        return
    if not Contact.objects.editable_by(actor).filter(pk=task.contact_id).exists():
        raise PermissionDenied("You may read this contact's tasks but not change them.")


def task_update(*, task_id, data: dict[str, Any], actor=None) -> Task:
    with transaction.atomic(), audited(actor, "task.update"):
        task = _locked(Task, task_id, "Task")
        task_check_editable(task, actor)
        if task.status != TaskStatus.OPEN and set(data) - {"notes", "outcome"}:
            raise Conflict(f"The task is {task.status}; only notes and outcome can change.")
        errors = Errors()
        values = _clean_task(data, errors, task, actor)
        errors.raise_if_any()
        reassigned = "assignee_id" in values and values["assignee_id"] != task.assignee_id
        for key, value in values.items():
            setattr(task, key, value)
        if "due_at" in values:
            task.reminded_at = None
            values["reminded_at"] = None
        if values:
            task.save(update_fields=[*values, "updated_at"])
        if reassigned:
            _notify_assignment(task.pk, actor)
    return task


def task_complete(*, task_id, outcome: str = "", status: str = TaskStatus.DONE, actor=None) -> Task:
    """Close a task with its outcome; a recurring follow-up schedules its next occurrence."""
    if status not in (TaskStatus.DONE, TaskStatus.CANCELLED):
        raise InvalidInput.field("status", "A task is closed as done or cancelled.", "invalid_choice")
    if not isinstance(outcome, str) or len(outcome) > 20000:
        raise InvalidInput.field("outcome", "Expected text of at most 20,000 characters.")
    with transaction.atomic(), audited(actor, "task.complete", status=status):
        task = _locked(Task, task_id, "Task")
        task_check_editable(task, actor)
        if task.status != TaskStatus.OPEN:
            raise Conflict(f"The task is already {task.status}.", extra={"status": task.status})
        now = timezone.now()
        task.status, task.outcome, task.completed_at = status, outcome, now
        task.save(update_fields=["status", "outcome", "completed_at", "updated_at"])
        if status == TaskStatus.DONE and task.kind in (TaskKind.CALL, TaskKind.MEETING, TaskKind.EMAIL):
            Contact.objects.filter(pk=task.contact_id).update(last_contacted_at=now)
            invalidate_contacts([task.contact_id])
        if task.repeat_every_days and status == TaskStatus.DONE:
            Task.objects.create(contact_id=task.contact_id, kind=task.kind, title=task.title, notes=task.notes,
                                assignee_id=task.assignee_id, due_at=now + dt.timedelta(days=task.repeat_every_days),
                                repeat_every_days=task.repeat_every_days, created_by_id=task.created_by_id)
    return task


def task_delete(*, task_id, actor=None) -> None:
    with transaction.atomic(), audited(actor, "task.delete"):
        task = _locked(Task, task_id, "Task")
        task_check_editable(task, actor)
        task.delete()


def _notify_assignment(task_id, actor) -> None:
    emit(EventType.TASK_ASSIGNED, {"task_id": str(task_id), "actor_id": getattr(actor, "pk", None)})


def tasks_claim_due_reminders(*, now: dt.datetime | None = None, batch: int = 500) -> list:
    """Claim open tasks that fell due and were not reminded yet (SKIP LOCKED: two beats never double-remind)."""
    now = now or timezone.now()
    table = Task._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET reminded_at = %s WHERE id IN (SELECT id FROM {table} WHERE status = 'open' "
            f"AND reminded_at IS NULL AND due_at <= %s ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED) "
            f"RETURNING id", [now, now, batch])
        return [row[0] for row in cursor.fetchall()]


def recurring_followups_reschedule() -> int:
    """"Every N days after last contact": an open recurring task moves to last_contacted_at + N when the
    contact was reached some other way since it was scheduled (set-based)."""
    table, contacts = Task._meta.db_table, Contact._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} t SET due_at = c.last_contacted_at + make_interval(days => t.repeat_every_days), "
            f"reminded_at = NULL, updated_at = now() FROM {contacts} c "
            f"WHERE c.id = t.contact_id AND t.status = 'open' AND t.repeat_every_days IS NOT NULL "
            f"AND c.last_contacted_at IS NOT NULL "
            f"AND c.last_contacted_at + make_interval(days => t.repeat_every_days) > t.due_at")
        return cursor.rowcount
