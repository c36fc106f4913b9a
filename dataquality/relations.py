"""Generic relations to Contact, for merges and privacy: every table with a foreign key to Contact is handled
without naming it (rows move on merge, are exported, are deleted on erasure, and their audit snapshots are
dropped). Apps that need more add entries to `contacts_project.registry` (privacy_exporters, privacy_erasers,
privacy_erased_tables, merge_hooks, retention_purgers)."""
from __future__ import annotations

from collections.abc import Iterable

from django.db import models


def is_event_model(model) -> bool:
    from pghistory.models import Event

    return issubclass(model, Event)


def event_models_of(model) -> list:
    """The pghistory event tables that snapshot `model`'s rows."""
    events = getattr(model, "pgh_event_models", None) or {}
    return list(events.values()) if isinstance(events, dict) else []


def contact_relations(exclude: Iterable = ()) -> list[tuple[type[models.Model], models.Field]]:
    """(model, field) for every foreign key or one-to-one to Contact, audit event tables left out."""
    from contacts.models import Contact

    excluded = set(exclude)
    out = []
    for rel in Contact._meta.related_objects:
        if rel.many_to_many or rel.related_model in excluded or is_event_model(rel.related_model):
            continue
        out.append((rel.related_model, rel.field))
    return out


def label(model) -> str:
    return model._meta.label_lower
