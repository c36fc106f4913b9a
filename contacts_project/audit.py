"""Audit context: every service write runs inside one, so pghistory's triggers record who and why.

The triggers (django-pghistory) record every insert, update and delete of the tracked tables with a
snapshot of the row; the context attached here adds the actor, the action and a reason.
"""
from __future__ import annotations

import contextlib

import pghistory


def actor_id(actor) -> int | None:
    return getattr(actor, "pk", None) if actor is not None and getattr(actor, "is_authenticated", False) else None


@contextlib.contextmanager
def audited(actor, action: str, **metadata):
    meta = {"action": action, **{k: v for k, v in metadata.items() if v not in (None, "")}}
    user = actor_id(actor)
    if user is not None:
        meta["user"] = user
        meta["username"] = actor.get_username()
    with pghistory.context(**meta):
        yield
