"""Hooks through which higher apps (communications, planning) take part in merges, privacy exports,
erasures and retention without contacts importing them (imports only go downwards).

By default every table with a foreign key to Contact is handled generically (rows move on merge, are
exported, are deleted on erasure, and their audit snapshots are dropped). An app registers a hook when it
needs more, e.g. communications adds the erased person's hash to its suppression list:

    # communications/apps.py
    def ready(self):
        from contacts import registry
        registry.register_eraser("communications.suppression", suppress_erased_identity)

Hook signatures:
- exporter(contact_id) -> JSON-able data, shown under its name in the privacy export;
- eraser(contact_id, identity) -> int (rows changed); identity = {"email", "phone", "email_hash", "phone_hash"};
  an eraser that handles a table itself lists it in `handles` so the generic deletion skips it;
- merge hook(survivor_id, merged_id) -> JSON-able payload kept on the merge record, and
  undo hook(survivor_id, merged_id, payload);
- retention purger(cutoff, held_contact_ids) -> int (rows purged).
All run inside the caller's transaction.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import models


@dataclass
class _Registry:
    exporters: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    erasers: dict[str, Callable[[Any, dict], int]] = field(default_factory=dict)
    erased_tables: set[str] = field(default_factory=set)
    merge_hooks: dict[str, tuple[Callable, Callable | None]] = field(default_factory=dict)
    purgers: dict[str, Callable[[dt.datetime, set], int]] = field(default_factory=dict)


hooks = _Registry()


def register_exporter(name: str, fn: Callable[[Any], Any]) -> None:
    hooks.exporters[name] = fn


def register_eraser(name: str, fn: Callable[[Any, dict], int], handles: Iterable[str] = ()) -> None:
    """`handles`: model labels ("app.Model") the eraser deals with itself (the generic deletion skips them)."""
    hooks.erasers[name] = fn
    hooks.erased_tables.update(label.lower() for label in handles)


def register_merge_hook(name: str, merge: Callable[[Any, Any], Any], undo: Callable[[Any, Any, Any], None] | None
                        = None) -> None:
    hooks.merge_hooks[name] = (merge, undo)


def register_retention_purger(name: str, fn: Callable[[dt.datetime, set], int]) -> None:
    hooks.purgers[name] = fn


def unregister(name: str) -> None:
    for table in (hooks.exporters, hooks.erasers, hooks.merge_hooks, hooks.purgers):
        table.pop(name, None)


# --------------------------------------------------------------------------- generic relations
def is_event_model(model) -> bool:
    from pghistory.models import Event

    return issubclass(model, Event)


def event_models_of(model) -> list:
    """The pghistory event tables that snapshot `model`'s rows."""
    events = getattr(model, "pgh_event_models", None) or {}
    return list(events.values()) if isinstance(events, dict) else []


def contact_relations(exclude: Iterable = ()) -> list[tuple[type[models.Model], models.Field]]:
    """(model, field) for every foreign key or one-to-one to Contact, audit event tables left out."""
    from .models import Contact

    excluded = set(exclude)
    out = []
    for rel in Contact._meta.related_objects:
        if rel.many_to_many or rel.related_model in excluded or is_event_model(rel.related_model):
            continue
        out.append((rel.related_model, rel.field))
    return out


def label(model) -> str:
    return model._meta.label_lower
