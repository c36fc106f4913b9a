"""Planning reads: list and segment members, the priority score, tasks, call plans."""
from __future__ import annotations

import datetime as dt

from django.db.models import Exists, F, FloatField, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone

from contacts.models import Contact, scoped_by_contact
from contacts.selectors import contact_list, sees_all, visible_contacts
from contacts_project.errors import NotFound
from contacts_project.ids import parse_uuid

from . import segments
from .choices import TaskStatus
from .models import ContactList, ListMembership, Segment, SegmentChange, SegmentMembership, Task

# The RFC's open question 4 (engagement) meets priorities: one comparable number per contact.
#   score = 25 × priority (0–3)  +  min(engagement_score, 50)  +  25 × exp(−days since last engagement / 30)
# Priority dominates (a level is worth 25 points), engagement adds up to 50, and recent engagement up to
# 25 more, halving roughly every three weeks. Documented in docs/planning.md.
PRIORITY_SCORE_SQL = (
    "(25 * contacts_contact.priority + LEAST(contacts_contact.engagement_score, 50) + "
    "COALESCE(25 * exp(-GREATEST(extract(epoch FROM (now() - contacts_contact.last_engaged_at)), 0) / 2592000.0), 0))"
)


def with_priority_score(queryset: QuerySet[Contact]) -> QuerySet[Contact]:
    return queryset.annotate(priority_score=RawSQL(PRIORITY_SCORE_SQL, [], output_field=FloatField()))


def _get(model, pk, label: str):
    key = parse_uuid(pk)
    obj = model.objects.filter(pk=key).first() if key else None
    if obj is None:
        raise NotFound(f"{label} not found.")
    return obj


def list_list() -> QuerySet[ContactList]:
    return ContactList.objects.all()


def list_get(*, list_id) -> ContactList:
    return _get(ContactList, list_id, "List")


def list_contacts(*, list_id, user=None) -> QuerySet[Contact]:
    """The list's members (with `user`: only those the user may see)."""
    the_list = list_get(list_id=list_id)
    return with_priority_score(contact_list(user).filter(
        Exists(ListMembership.objects.filter(contact_list=the_list, contact_id=OuterRef("pk")))))


def segment_list() -> QuerySet[Segment]:
    return Segment.objects.all()


def segment_get(*, segment_id) -> Segment:
    return _get(Segment, segment_id, "Segment")


def segment_contacts(*, segment_id, live: bool | None = None, user=None) -> QuerySet[Contact]:
    """Members: from the materialized table when the segment is materialized (and not asked live), else the
    rules compiled to one query."""
    segment = segment_get(segment_id=segment_id)
    if segment.materialized and segment.refreshed_at and not live:
        members = contact_list(user).filter(
            Exists(SegmentMembership.objects.filter(segment=segment, contact_id=OuterRef("pk"))))
    else:
        members = contact_list(user).filter(segments.compile_rules(segment.rules, segment_id=segment.pk))
    return with_priority_score(members)


def segment_changes(*, segment_id, user) -> QuerySet[SegmentChange]:
    """Who joined or left the segment, limited to the contacts `user` may see (None: a system job)."""
    segment = segment_get(segment_id=segment_id)
    changes = SegmentChange.objects.filter(segment=segment)
    return changes if user is None else scoped_by_contact(changes, user, field="contact_id")


def task_list(user=None) -> QuerySet[Task]:
    """Tasks with their contact; with `user`, those about contacts the user may see and those assigned to them."""
    queryset = Task.objects.select_related("contact")
    if user is None or sees_all(user):
        return queryset
    return queryset.filter(Q(contact__in=visible_contacts(user, Contact.objects.all()).values("pk"))
                           | Q(assignee_id=user.pk))


def task_get(*, task_id) -> Task:
    return _get(Task, task_id, "Task")


def tasks_due_today(queryset: QuerySet[Task], *, now: dt.datetime | None = None) -> QuerySet[Task]:
    now = now or timezone.now()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return queryset.filter(status=TaskStatus.OPEN, due_at__gte=start, due_at__lt=start + dt.timedelta(days=1))


def tasks_overdue(queryset: QuerySet[Task], *, now: dt.datetime | None = None) -> QuerySet[Task]:
    return queryset.filter(status=TaskStatus.OPEN, due_at__lt=now or timezone.now())


def call_plan(contacts: QuerySet[Contact]) -> QuerySet[Contact]:
    """Contacts ordered by priority score with their next open task (one query)."""
    next_task = Task.objects.filter(contact_id=OuterRef("pk"), status=TaskStatus.OPEN).order_by("due_at")
    return contacts.annotate(
        next_task_id=Subquery(next_task.values("id")[:1]),
        next_task_title=Subquery(next_task.values("title")[:1]),
        next_task_due_at=Subquery(next_task.values("due_at")[:1]),
    ).order_by(F("priority_score").desc(nulls_last=True), "id")
