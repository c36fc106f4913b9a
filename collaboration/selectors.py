"""Collaboration reads: notes, attachments and their signed links, notifications, webhooks, the activity feed."""
from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import orjson
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.postgres.aggregates import ArrayAgg
from django.core import signing
from django.db import connection
from django.db.models import Count, QuerySet

from accounts import roles
from contacts.selectors import visible_contact
from contacts_project.errors import InvalidInput, NotFound
from contacts_project.ids import parse_uuid
from contacts_project.timefmt import iso_z

from .models import Attachment, Note, Notification, WebhookAttempt, WebhookDelivery, WebhookSubscription
from .services import note_visible

User = get_user_model()
DOWNLOAD_SALT = "collaboration.attachment-download"


# --------------------------------------------------------------------------- notes
def note_list(*, user, contact=None, organization=None, campaign=None, parent=None) -> QuerySet[Note]:
    """Notes of one target (all threads, flat; each row names its parent), oldest first by default."""
    given = {k: v for k, v in (("contact", contact), ("organization", organization), ("campaign", campaign),
                               ("parent", parent)) if v not in (None, "")}
    if len(given) != 1:
        raise InvalidInput.field("contact", "Filter by exactly one of contact, organization, campaign or parent.",
                                 "required")
    (name, value), = given.items()
    key = parse_uuid(value)
    if key is None:
        raise InvalidInput.field(name, f"Not a valid id: {value!r}.")
    if name == "contact":
        visible_contact(user, key)
    elif name == "parent":
        parent_note = Note.objects.filter(pk=key).first()
        if parent_note is None:
            raise NotFound("Note not found.")
        note_visible(user, parent_note)
    return note_base().filter(**{f"{name}_id": key})


def note_base() -> QuerySet[Note]:
    return (Note.objects.select_related("author")
            .annotate(mention_ids=ArrayAgg("mention_rows__user_id", distinct=True, default=[]))
            .annotate(reply_count=Count("replies", distinct=True)))


def note_get(*, note_id, user) -> Note:
    key = parse_uuid(note_id)
    note = note_base().filter(pk=key).first() if key else None
    if note is None:
        raise NotFound("Note not found.")
    note_visible(user, note)
    return note


def note_history(*, note_id, user) -> list[dict[str, Any]]:
    """Every version of the note's body, newest first, with who wrote it (pghistory snapshots)."""
    note = note_get(note_id=note_id, user=user)
    NoteEvent = apps.get_model("collaboration", "NoteEvent")
    events = NoteEvent.objects.filter(pgh_obj_id=note.pk).select_related("pgh_context").order_by("-pgh_id")[:500]
    rows = []
    for event in events:
        meta = (event.pgh_context.metadata if event.pgh_context_id else {}) or {}
        rows.append({"at": iso_z(event.pgh_created_at), "event": event.pgh_label, "body": event.body,
                     "editor": {"id": meta.get("user"), "username": meta.get("username")} if meta.get("user")
                     else None})
    return rows


# --------------------------------------------------------------------------- attachments
def attachment_get(*, attachment_id, user) -> Attachment:
    key = parse_uuid(attachment_id)
    attachment = Attachment.objects.select_related("note").filter(pk=key).first() if key else None
    if attachment is None:
        raise NotFound("Attachment not found.")
    attachment_check(attachment, user)
    return attachment


def attachment_check(attachment: Attachment, user) -> None:
    if attachment.contact_id is not None:
        visible_contact(user, attachment.contact_id)
    elif attachment.note_id is not None:
        note_visible(user, attachment.note)


def attachment_list(*, user, contact=None, organization=None, note=None) -> QuerySet[Attachment]:
    given = {k: v for k, v in (("contact", contact), ("organization", organization), ("note", note))
             if v not in (None, "")}
    if len(given) != 1:
        raise InvalidInput.field("contact", "Filter by exactly one of contact, organization or note.", "required")
    (name, value), = given.items()
    key = parse_uuid(value)
    if key is None:
        raise InvalidInput.field(name, f"Not a valid id: {value!r}.")
    if name == "contact":
        visible_contact(user, key)
    elif name == "note":
        note_get(note_id=key, user=user)
    return Attachment.objects.filter(**{f"{name}_id": key})


def download_token(attachment: Attachment, user) -> str:
    """Signed (SECRET_KEY, salted) and timestamped: who may download which file; expires after max_age."""
    return signing.dumps({"a": str(attachment.pk), "u": user.pk}, salt=DOWNLOAD_SALT, compress=True)


def attachment_for_download(*, token: str) -> Attachment:
    """The attachment a download link names, if the link is intact, fresh and its user may still see it.

    Tampered, expired or no longer permitted: 404 (a link reveals nothing about what exists)."""
    try:
        data = signing.loads(token, salt=DOWNLOAD_SALT, max_age=settings.ATTACHMENT_URL_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired is a subclass
        raise NotFound("Download link not found or expired.")
    user = User.objects.filter(pk=data.get("u"), is_active=True).first()
    if user is None:
        raise NotFound("Download link not found or expired.")
    return attachment_get(attachment_id=data.get("a"), user=user)


# --------------------------------------------------------------------------- notifications
def notification_list(*, user, unread: bool | None = None, kind: str | None = None) -> QuerySet[Notification]:
    queryset = Notification.objects.filter(user=user)
    if unread is True:
        queryset = queryset.filter(read_at__isnull=True)
    elif unread is False:
        queryset = queryset.filter(read_at__isnull=False)
    if kind:
        queryset = queryset.filter(kind=kind)
    return queryset


def unread_count(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


# --------------------------------------------------------------------------- webhooks
def webhook_list(*, user) -> QuerySet[WebhookSubscription]:
    """Admins see every subscription; others (with the webhook permission) their own."""
    queryset = WebhookSubscription.objects.all()
    return queryset if roles.is_admin(user) else queryset.filter(owner=user)


def webhook_get(*, webhook_id, user) -> WebhookSubscription:
    key = parse_uuid(webhook_id)
    subscription = webhook_list(user=user).filter(pk=key).first() if key else None
    if subscription is None:
        raise NotFound("Webhook subscription not found.")
    return subscription


def webhook_deliveries(*, webhook_id, user, status: str | None = None) -> QuerySet[WebhookDelivery]:
    subscription = webhook_get(webhook_id=webhook_id, user=user)
    queryset = WebhookDelivery.objects.filter(subscription=subscription)
    return queryset.filter(status=status) if status else queryset


def webhook_delivery_get(*, webhook_id, delivery_id, user) -> tuple[WebhookDelivery, list[WebhookAttempt]]:
    key = parse_uuid(delivery_id)
    delivery = webhook_deliveries(webhook_id=webhook_id, user=user).filter(pk=key).first() if key else None
    if delivery is None:
        raise NotFound("Delivery not found.")
    return delivery, list(delivery.attempt_log.order_by("id")[:100])


# --------------------------------------------------------------------------- activity feed
def _feed_sources() -> list[tuple[str, str]]:
    """(kind, SELECT …) per source; each yields at, kind, key, data (jsonb) for one contact (%(c)s)."""
    tables = {m: apps.get_model(*m.split("."))._meta.db_table for m in (
        "communications.Communication", "collaboration.Note", "planning.Task", "contacts.ContactEvent",
        "collaboration.Attachment")}
    sources = [
        ("communication", f"""SELECT created_at AS at, 'communication' AS kind, id::text AS key,
            jsonb_build_object('id', id, 'channel', type, 'status', status, 'subject', subject,
                               'direction', direction) AS data
            FROM {tables['communications.Communication']} WHERE contact_id = %(c)s"""),
        ("note", f"""SELECT created_at, 'note', id::text,
            jsonb_build_object('id', id, 'author', author_id, 'body', left(body, 500), 'parent', parent_id)
            FROM {tables['collaboration.Note']} WHERE contact_id = %(c)s"""),
        ("attachment", f"""SELECT created_at, 'attachment', id::text,
            jsonb_build_object('id', id, 'filename', filename, 'size', size, 'uploaded_by', uploaded_by_id)
            FROM {tables['collaboration.Attachment']} WHERE contact_id = %(c)s"""),
        ("task", f"""SELECT created_at, 'task', id::text,
            jsonb_build_object('id', id, 'title', title, 'kind', kind, 'status', status, 'due_at', due_at,
                               'assignee', assignee_id)
            FROM {tables['planning.Task']} WHERE contact_id = %(c)s"""),
        ("task_completed", f"""SELECT completed_at, 'task_completed', id::text,
            jsonb_build_object('id', id, 'title', title, 'status', status, 'outcome', left(outcome, 500))
            FROM {tables['planning.Task']} WHERE contact_id = %(c)s AND completed_at IS NOT NULL"""),
        # a status change is a snapshot whose status differs from the contact's previous snapshot
        ("status_change", f"""SELECT at, 'status_change', pgh_id::text,
            jsonb_build_object('from', previous, 'to', status, 'actor', actor, 'reason', reason) FROM (
              SELECT e.pgh_created_at AS at, e.pgh_id, e.status,
                     lag(e.status) OVER (ORDER BY e.pgh_id) AS previous, e.pgh_label,
                     ctx.metadata->'user' AS actor, ctx.metadata->>'reason' AS reason
              FROM {tables['contacts.ContactEvent']} e LEFT JOIN pghistory_context ctx ON ctx.id = e.pgh_context_id
              WHERE e.pgh_obj_id = %(c)s) s
            WHERE pgh_label = 'update' AND previous IS DISTINCT FROM status"""),
    ]
    try:
        imported = apps.get_model("dataquality", "ImportedContact")
        job = apps.get_model("dataquality", "ImportJob")
    except LookupError:  # imports are another issue's; the feed includes them where they exist
        imported = job = None
    if imported is not None:
        sources.append(("import", f"""SELECT coalesce(j.finished_at, j.created_at), 'import', i.id::text,
            jsonb_build_object('import', j.id, 'filename', j.filename, 'created', i.created, 'actor', j.actor_id)
            FROM {imported._meta.db_table} i JOIN {job._meta.db_table} j ON j.id = i.job_id
            WHERE i.contact_id = %(c)s"""))
    return sources


FEED_KINDS = ("communication", "note", "attachment", "task", "task_completed", "status_change", "import")


def _encode(at: dt.datetime, key: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([at.isoformat(), key])).decode().rstrip("=")


def _decode(token: str) -> tuple[dt.datetime, str]:
    try:
        at, key = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return dt.datetime.fromisoformat(at), str(key)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise InvalidInput.field("cursor", "Invalid cursor.", "invalid_cursor")


def contact_activity(*, contact_id, user, cursor: str | None = None, limit: int = 50,
                     kinds: list[str] | None = None) -> tuple[list[dict], str | None]:
    """Communications, notes, attachments, tasks, status changes and imports of a contact, newest first.

    One UNION ALL statement; keyset pagination on (time, kind:id) so a page costs the same at any depth."""
    contact = visible_contact(user, contact_id)
    sources = [(kind, sql) for kind, sql in _feed_sources() if not kinds or kind in kinds]
    params: dict[str, Any] = {"c": contact.pk, "limit": limit + 1}
    where = ""
    if cursor:
        params["at"], params["key"] = _decode(cursor)
        where = "WHERE (at, kind || ':' || key) < (%(at)s, %(key)s)"
    union = " UNION ALL ".join(f"({sql})" for _, sql in sources)
    sql = (f"SELECT at, kind, key, data FROM ({union}) feed(at, kind, key, data) {where} "
           f"ORDER BY at DESC, kind || ':' || key DESC LIMIT %(limit)s")
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [{"at": iso_z(at), "kind": kind, "id": key, "data": data if isinstance(data, dict) else orjson.loads(data)}
             for at, kind, key, data in rows]
    next_cursor = _encode(rows[-1][0], f"{rows[-1][1]}:{rows[-1][2]}") if more and rows else None
    return items, next_cursor

