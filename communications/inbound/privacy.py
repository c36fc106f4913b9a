"""Received mail and SMS in a contact's privacy export and erasure (contacts_project.registry)."""
from __future__ import annotations

from django.db.models import Q

from contacts_project.timefmt import iso_z

from .models import InboundMessage


def _rows(contact_id, identity: dict | None = None):
    match = Q(contact_id=contact_id)
    for key in ("email", "phone"):
        value = (identity or {}).get(key)
        if value:
            match |= Q(from_address__iexact=value)
    return InboundMessage.objects.filter(match)


def export_inbound(contact_id) -> list[dict]:
    return [{"received_at": iso_z(row["received_at"]), "source": row["source"], "kind": row["kind"],
             "subject": row["subject"], "from": row["from_address"]}
            for row in _rows(contact_id).order_by("received_at").values("received_at", "source", "kind", "subject",
                                                                        "from_address")]


def erase_inbound(contact_id, identity: dict) -> int:
    """The raw messages and what was read from them go; suppressions keep only their hash (elsewhere)."""
    deleted, _ = _rows(contact_id, identity).delete()
    return deleted
