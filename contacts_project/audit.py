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


# django-pgtrigger asks this function, on every row of every audited write, whether the trigger is switched
# off (`pgtrigger.ignore`). Its own version reads the setting inside an EXCEPTION block, i.e. a
# subtransaction per row (~7 µs); this one reads it with missing_ok and is inlined: same answers.
FAST_TRIGGER_IGNORE = """
CREATE OR REPLACE FUNCTION {schema}._pgtrigger_should_ignore(trigger_name NAME) RETURNS BOOLEAN AS $$
    SELECT trigger_name = ANY(coalesce(nullif(current_setting('pgtrigger.ignore', true), ''), '{{}}')::text[])
$$ LANGUAGE sql STABLE
"""


def install_fast_trigger_ignore(using: str = "default", **_) -> None:
    """Run after every `migrate` (pgtrigger puts its version back whenever it installs a trigger)."""
    from django.conf import settings
    from django.db import connections

    schema = getattr(settings, "PGTRIGGER_SCHEMA", "public")
    with connections[using].cursor() as cursor:
        cursor.execute(FAST_TRIGGER_IGNORE.format(schema=f'"{schema}"'))
