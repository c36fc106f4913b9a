"""Cache-aside with versioned keys, invalidated after commit, and a breaker for Redis outages.

Why versions: a reader that loaded a row just before a writer committed could otherwise put the old
row back into the cache after the writer's delete. Each object has a version key; a write sets a new
version after commit, and data keys embed the version they were built from, so a late stale write lands
under a version nobody reads again.

Why a breaker: django-redis already swallows errors (IGNORE_EXCEPTIONS), but each call would still wait
for the socket timeout. After a failure the cache is skipped for a few seconds, so an outage costs one
timeout, not one per request.

Invalidations that could not reach Redis are kept (per process) and replayed before the process next uses
the cache, so an object written during an outage is never served stale from entries that survived it.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from django.core.cache import cache, caches
from django.db import transaction

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "1"  # bump when the cached representation changes shape

_BREAKER_SECONDS = 5.0
_lock = threading.Lock()
_open_until = 0.0
_pending: set[str] = set()  # invalidations that failed; replayed on the next successful use
_PENDING_MAX = 200000

stats = {"hits": 0, "misses": 0, "errors": 0}


def _record(kind: str, n: int = 1) -> None:
    with _lock:
        stats[kind] += n
    try:
        from contacts_project import metrics

        metrics.CACHE_EVENTS.labels(kind).inc(n)
    except Exception:  # noqa: BLE001 - metrics never break caching
        pass


def available() -> bool:
    return time.monotonic() >= _open_until


def _trip(exc: Exception) -> None:
    global _open_until
    _open_until = time.monotonic() + _BREAKER_SECONDS
    _record("errors")
    logger.warning("cache unavailable, skipping it for %.0f s: %s", _BREAKER_SECONDS, exc)


def redis_client():
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


# The object's version (set when it has none) and the data stored under it, in one round trip: a hit used to
# cost two GETs one after the other, a miss GET, SET NX and GET before the build.
_READ_VERSIONED = """
local version = redis.call('GET', KEYS[1])
if not version then
  version = ARGV[1]
  redis.call('SET', KEYS[1], version, 'EX', ARGV[2])
  return {version, false}
end
return {version, redis.call('GET', ARGV[3] .. version)}
"""
_read_script = None


def _read_versioned(client, base: str, timeout: int) -> tuple[str, Any]:
    """(data key, raw value or None) for `base`."""
    global _read_script
    prefix = _data_key(base, "")
    if _data_key(base, "0") != prefix + "0":  # a custom KEY_FUNCTION: two round trips, as before
        version = client.get(_version_key(base))
        if version is None:
            version = str(time.time_ns()).encode()
            if not client.set(_version_key(base), version, nx=True, ex=timeout * 2):
                version = client.get(_version_key(base)) or version
        data_key = _data_key(base, version.decode() if isinstance(version, bytes) else str(version))
        return data_key, client.get(data_key)
    if _read_script is None:
        _read_script = client.register_script(_READ_VERSIONED)
    version, raw = _read_script(keys=[_version_key(base)], args=[str(time.time_ns()), timeout * 2, prefix],
                                client=client)
    return prefix + (version.decode() if isinstance(version, bytes) else str(version)), raw


def get_or_build(base: str, build: Callable[[], Any], timeout: int) -> Any:
    """Return the cached value for `base`, building and storing it on a miss. Never raises for Redis."""
    if not available():
        _record("misses")
        return build()
    try:
        client = redis_client()
        if _pending:
            _replay_pending(client)
        data_key, raw = _read_versioned(client, base, timeout)
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


def guarded(operation: Callable[[Any], Any], fallback: Any) -> Any:
    """`operation(redis_client)` under the breaker: `fallback` at once while Redis is known to be down, or when
    the operation fails (which opens the breaker). For other Redis users, e.g. the throttles' counters."""
    if not available():
        return fallback
    try:
        return operation(redis_client())
    except Exception as exc:  # noqa: BLE001 - any Redis failure: the caller carries on without Redis
        _trip(exc)
        return fallback


def invalidate(*bases: str) -> None:
    """Give each object a new version; the old data keys are never read again and expire."""
    if not bases:
        return
    if not available():  # Redis is known to be down: don't wait for a timeout, replay later
        _remember(bases)
        return
    try:
        _set_versions(redis_client(), list(bases))
    except Exception as exc:  # noqa: BLE001
        _remember(bases)
        _trip(exc)


def _set_versions(client, bases: list[str]) -> None:
    make_key = caches["default"].make_key  # resolved once: the `cache` proxy costs a lookup per call
    now = str(time.time_ns())
    for start in range(0, len(bases), 5000):
        pipe = client.pipeline(transaction=False)
        for base in bases[start:start + 5000]:
            pipe.set(make_key(base + ":ver"), now, ex=86400)
        pipe.execute()


def _remember(bases) -> None:
    with _lock:
        if len(_pending) < _PENDING_MAX:
            _pending.update(bases)
        else:  # too many to replay one by one: the whole cache will be dropped instead
            _pending.add("*")


def _replay_pending(client) -> None:
    """Before serving from the cache again, apply the invalidations the outage swallowed."""
    with _lock:
        if not _pending:
            return
        bases = list(_pending)
        _pending.clear()
    try:
        if "*" in bases:
            client.flushdb()  # the cache has a Redis database of its own (REDIS_URL's number + 1)
        else:
            _set_versions(client, bases)
    except Exception:
        _remember(bases)
        raise


def invalidate_on_commit(*bases: str) -> None:
    transaction.on_commit(lambda: invalidate(*bases))


def reset_stats() -> None:
    with _lock:
        for name in stats:
            stats[name] = 0


def reset_breaker() -> None:
    global _open_until
    _open_until = 0.0
