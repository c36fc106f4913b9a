"""Saved views: named contact filters (list query parameters and/or a `q` expression), private to their owner
or shared with everyone, usable as `?view=<id>` wherever a contact filter is.

Reads are scoped to the user (their own and the shared ones; others' private views do not exist for them);
only the owner (or a superuser) changes or deletes a view, and a view is a valid contact filter when saved.
"""
from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from contacts_project.audit import audited
from contacts_project.errors import InvalidInput, NotFound
from contacts_project.ids import parse_uuid

from .bulk import filter_queryset
from .models import SavedView


# --------------------------------------------------------------------------- reads
def saved_views_visible(*, user) -> QuerySet[SavedView]:
    return SavedView.objects.filter(Q(shared=True) | Q(owner_id=user.pk))


def saved_view_get(*, view_id, user) -> SavedView:
    key = parse_uuid(view_id)
    view = saved_views_visible(user=user).filter(pk=key).first() if key else None
    if view is None:
        raise NotFound("Saved view not found.")
    return view


def saved_view_get_writable(*, view_id, user) -> SavedView:
    """The view if the user may change it: their own (any, for a superuser); shared views are read-only for
    others, and look absent to them."""
    view = saved_view_get(view_id=view_id, user=user)
    if view.owner_id != user.pk and not user.is_superuser:
        raise NotFound("Saved view not found.")
    return view


# --------------------------------------------------------------------------- writes
def _check_view_filters(params: dict, q: str, user) -> None:
    """A saved view must be a valid filter now: the same checks as the contact list (400 on `params.<name>`)."""
    if "view" in params:
        raise InvalidInput.field("params.view", "A saved view cannot use another saved view.", "invalid")
    data = {**params, **({"q": q} if q else {})}
    queryset = filter_queryset(data, user=user)
    str(queryset.query)  # compiles every condition, so `q` errors surface now


def _save(view: SavedView, data: dict[str, Any], actor, action: str) -> SavedView:
    data = {**data}
    if "params" in data or "q" in data:
        _check_view_filters(data.get("params", view.params or {}), data.get("q", view.q), actor)
    for key, value in data.items():
        setattr(view, key, value)
    try:
        with transaction.atomic(), audited(actor, action):
            view.save()
    except IntegrityError:
        raise InvalidInput.field("name", "You already have a saved view with this name.", "unique")
    return view


def saved_view_create(*, data: dict[str, Any], actor) -> SavedView:
    """A new view owned by `actor`; `data` holds name, shared, params and q (validated by the serializer)."""
    return _save(SavedView(owner=actor), data, actor, "saved_view.create")


def saved_view_update(*, view_id, data: dict[str, Any], actor) -> SavedView:
    view = saved_view_get_writable(view_id=view_id, user=actor)
    return _save(view, data, actor, "saved_view.update")


def saved_view_delete(*, view_id, actor) -> None:
    view = saved_view_get_writable(view_id=view_id, user=actor)
    with transaction.atomic(), audited(actor, "saved_view.delete"):
        view.delete()
