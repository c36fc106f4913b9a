"""Data-quality reads, scoped to the user: the duplicate review queue, a pair, a merge record."""
from __future__ import annotations

from django.db.models import QuerySet

from contacts.models import Contact
from contacts.selectors import check_contact_access, sees_all, visible_contact_ids, visible_contacts
from contacts_project.errors import NotFound
from contacts_project.ids import parse_uuid

from .models import DuplicateCandidate, MergeRecord


def duplicate_queue(*, user, status: str) -> QuerySet:
    """The review queue: pairs in `status` of which the user sees both contacts."""
    queryset = DuplicateCandidate.objects.filter(status=status).select_related("contact_a", "contact_b")
    if sees_all(user):
        return queryset
    visible = visible_contacts(user, Contact.objects.all()).values("pk")
    return queryset.filter(contact_a__in=visible, contact_b__in=visible)


def check_duplicate_access(user, pair_id) -> None:
    """404 for a pair one of whose contacts the user may not see (an unknown pair is the service's 404)."""
    key = parse_uuid(pair_id)
    pair = DuplicateCandidate.objects.filter(pk=key).values_list("contact_a_id", "contact_b_id").first() \
        if key else None
    if pair is not None and len(visible_contact_ids(user, pair)) != 2:
        raise NotFound("Duplicate pair not found.")


def merge_record_get(*, merge_id, user, write: bool = False) -> MergeRecord:
    """A merge record whose surviving contact the user may see (`write`: change); 404 otherwise."""
    key = parse_uuid(merge_id)
    record = MergeRecord.objects.filter(pk=key).first() if key else None
    if record is None:
        raise NotFound("Merge not found.")
    try:
        check_contact_access(user, record.survivor_key, write=write)
    except NotFound:
        raise NotFound("Merge not found.")
    return record
