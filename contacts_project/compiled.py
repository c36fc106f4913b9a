"""Querysets on one primary key whose SQL is compiled once per process; later calls only bind the key.

Compiling a Django queryset costs more than running it when the statement is an indexed read of one row:
the contact with its array subqueries took ~3 ms of Python per cache miss against ~0.3 ms of SQL. The
queryset is built and compiled once with a placeholder key, then each call runs the same text with the real
key through `Model.objects.raw` (which still applies the fields' converters and marks deferred fields).
"""
from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Hashable
from typing import Any

from django.db import connection
from django.db.models import Model, QuerySet

_PLACEHOLDER = uuid.UUID("00000000-0000-7000-8000-00000000c0de")  # never a real id (version 7, zero time)
_lock = threading.Lock()
_compiled: dict[Hashable, tuple[type[Model], str, list, int]] = {}


def one_by_pk(signature: Hashable, build: Callable[[Any], QuerySet], key) -> Model | None:
    """`build(key).first()` for a UUID key, with the SQL of `build` compiled the first time `signature` is seen.
    `signature` must change whenever `build` would produce a different statement (e.g. the registered arrays)."""
    entry = _compiled.get(signature)
    if entry is None:
        queryset = build(_PLACEHOLDER)[:1]
        sql, params = queryset.query.get_compiler(connection=connection).as_sql()
        params = list(params)
        entry = (queryset.model, sql, params, params.index(_PLACEHOLDER))
        with _lock:
            _compiled[signature] = entry
    model, sql, params, slot = entry
    params = list(params)
    params[slot] = key
    rows = list(model.objects.raw(sql, params))
    return rows[0] if rows else None
