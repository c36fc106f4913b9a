"""Cache-aside with versioned keys, invalidated after commit, and a breaker for Redis outages.

Why versions: a reader that loaded a row just before a writer committed could otherwise put the old
row back into the cache after the writer's delete. Each object has a version key; a write sets a new
version after commit, and data keys embed the version they were built from, so a late stale write lands
under a version nobody reads again.

Why a breaker: django-redis already swallows errors (IGNORE_EXCEPTIONS), but each call would still wait
for the socket timeout. After a failure the cache is skipped for a few seconds, so an outage costs one
timeout, not one per request.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "1"  # bump when the cached representation changes shape

_BREAKER_SECONDS = 5.0
_lock = threading.Lock()
_open_until = 0.0

stats = {"hits": 0, "misses": 0, "errors": 0}


def _record(kind: str, n: int = 1) -> None:
    with _lock:
        stats[kind] += n
    try:
        from contacts_project import metrics

        metrics.CACHE_EVENTS.labels(kind).inc(n)
    except Exception:  # noqa: BLE001 - metrics never break caching
        pass


def _available() -> bool:
    return time.monotonic() >= _open_until


def _trip(exc: Exception) -> None:
    global _open_until
    _open_until = time.monotonic() + _BREAKER_SECONDS
    _record("errors")
    logger.warning("cache unavailable, skipping it for %.0f s: %s", _BREAKER_SECONDS, exc)


def _client():
    """The raw redis client behind django-redis (so errors reach the breaker instead of being swallowed)."""
    return cache.client.get_client(write=True)


def key(*parts: Any) -> str:
    return ":".join(["v" + SCHEMA_VERSION, *map(str, parts)])


def contact_detail_key(contact_id) -> str:
    return key("contact", contact_id)


def _version_key(base: str) -> str:
    return cache.make_key(base + ":ver")


def _data_key(base: str, version: str) -> str:
    return cache.make_key(f"{base}:{version}")


def get_or_build(base: str, build: Callable[[], Any], timeout: int) -> Any:
    """Return the cached value for `base`, building and storing it on a miss. Never raises for Redis."""
    if not _available():
        _record("misses")
        return build()
    try:
        client = _client()
        version = client.get(_version_key(base))
        if version is None:
            version = str(time.time_ns()).encode()
            if not client.set(_version_key(base), version, nx=True, ex=timeout * 2):
                version = client.get(_version_key(base)) or version
        data_key = _data_key(base, version.decode() if isinstance(version, bytes) else str(version))
        raw = client.get(data_key)
    except Exception as exc:  # noqa: BLE001 - any Redis failure: serve from PostgreSQL
        _trip(exc)
        return build()
    if raw is not None:
        _record("hits")
        return orjson.loads(raw)
    _record("misses")
    value = build()
    if value is not None:
        try:
            client.set(data_key, orjson.dumps(value), ex=timeout)
        except Exception as exc:  # noqa: BLE001
            _trip(exc)
    return value


def invalidate(*bases: str) -> None:
    """Give each object a new version; the old data keys are never read again and expire."""
    if not bases:
        return
    try:
        client = _client()
        pipe = client.pipeline(transaction=False)
        now = str(time.time_ns())
        for base in bases:
            pipe.set(_version_key(base), now, ex=86400)
        pipe.execute()
    except Exception as exc:  # noqa: BLE001
        _trip(exc)


def invalidate_on_commit(*bases: str) -> None:
    transaction.on_commit(lambda: invalidate(*bases))


def reset_stats() -> None:
    with _lock:
        for name in stats:
            stats[name] = 0


def reset_breaker() -> None:
    global _open_until
    _open_until = 0.0
