"""The one extension registry: fixed keys through which a higher app takes part in a lower app's work
without the lower app importing it (imports only go downwards).

Typed events (`contacts_project.events`) say what happened after a commit; this registry is for what a lower
app must ask of the apps above it while it works (inside its transaction). Its keys are fixed here: an app
adds entries under a key in its `AppConfig.ready`, never a new key, so every way to extend the platform is
listed on this page.

Keys, each holding {name: entry}:
- `contact_detail_arrays`: () -> ArraySubquery correlated on the contact's `pk`; the contact detail's one
  statement adds `name: [ids]` (planning: `lists`).
- `contact_create_policies`: (*, data, actor) -> (contact, created), the duplicate policy `name` of
  `POST /contacts/?on_duplicate=<name>` (without one: a plain create; dataquality: skip, update, reject).
- `privacy_exporters`: (contact_id) -> JSON-able data, shown under `name` in the privacy export.
- `privacy_erasers`: (contact_id, identity) -> rows changed, run by erasure;
  identity = {email, phone, email_hash, phone_hash}.
- `privacy_erased_tables`: model label ("app.model") -> the eraser that handles it (the generic deletion skips it).
- `merge_hooks`: (merge(survivor_id, merged_id) -> payload, undo(survivor_id, merged_id, payload) or None).
- `retention_purgers`: (cutoff, held_contact_ids) -> rows purged, run by the retention job.
- `organization_contact_deleters`: (organization_id, actor) -> how many of the organization's contacts the actor
  may not change (then nothing is deleted), else deletes them all through the contact delete service and
  answers 0; run by `DELETE /organizations/{id}/?cascade=true` (contacts).
- `live_gauges`: () -> iterable of prometheus metric families, read at each `/metrics` scrape
  (communications: the dispatcher lag).
- `readiness_checks`: () -> {"ok": bool, ...}, reported by `/health/ready/` after the built-in checks
  (communications: `dispatcher`).

Entries under one key run in the order they were registered; all run inside the caller's transaction.
"""
from __future__ import annotations

from typing import Any

KEYS = ("contact_detail_arrays", "contact_create_policies", "privacy_exporters", "privacy_erasers",
        "privacy_erased_tables", "merge_hooks", "retention_purgers", "organization_contact_deleters",
        "live_gauges", "readiness_checks")


class Registry(dict):
    """A dict whose keys are fixed at creation: a store can be filled, never replaced or deleted."""

    def __getitem__(self, key: str) -> Any:
        try:
            return super().__getitem__(key)
        except KeyError:
            raise KeyError(f"{key!r} is not a registry key (one of {', '.join(KEYS)})") from None

    def __setitem__(self, key: str, value: Any) -> None:
        raise TypeError("The registry's keys are fixed: add entries under a key with register().")

    def __delitem__(self, key: str) -> None:
        raise TypeError("The registry's keys cannot be deleted.")


registry = Registry({key: {} for key in KEYS})


def register(key: str, name: str, entry: Any) -> None:
    """Add (or replace) `name` under `key`."""
    registry[key][name] = entry


def unregister(key: str, name: str) -> None:
    registry[key].pop(name, None)
