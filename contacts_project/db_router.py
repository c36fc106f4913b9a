"""Read replicas: heavy reads go to a streaming replica when a selector asks for it, everything else to the primary.

Nothing is routed implicitly. A read goes to a replica only
- inside `replica_reads()` (a context manager, or a decorator on a view method / selector), which lists and
  search, reports, exports, segment previews and members, call plans and the duplicate review queue use;
- or through `on_replica(queryset, user)`, for querysets evaluated after the view returns (streamed exports);
and even then never when the primary connection is inside a transaction (what a transaction reads must be
what it writes against) and never for a write (`db_for_write` is always the primary).

Read your writes: after a user's write request the primary's WAL insert position (`pg_current_wal_insert_lsn()`,
past the commit record even with synchronous_commit off) is stored on the cache's Redis under the user's id for
`REPLICA_READ_YOUR_WRITES_SECONDS`. While it is there, that user's reads go to a replica only if the replica has
replayed at least that position (`pg_last_wal_replay_lsn()`), else to the primary, so nobody sees their own change
disappear. When Redis cannot answer, the user's reads go to the primary.

Replica health: each process checks each replica at most every `REPLICA_CHECK_SECONDS` (one short query:
in recovery?, replay position, lag). A replica lagging more than `REPLICA_MAX_LAG_SECONDS`, unreachable, or
not in recovery is skipped; a failed one is checked again after `REPLICA_RETRY_SECONDS`. A query that fails on
a replica inside a decorated function marks the replica down and runs the function again on the primary.

With no replica configured (`DATABASE_REPLICA_URLS` empty) the router is not installed at all.
"""
from __future__ import annotations

import contextvars
import functools
import logging
import random
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, Error, connections

logger = logging.getLogger(__name__)

RYW_KEY = "db:ryw:{user_id}"  # on the cache's Redis: the primary's WAL position after the user's last write

_wanted: contextvars.ContextVar[int] = contextvars.ContextVar("replica_reads", default=0)
_user: contextvars.ContextVar[object | None] = contextvars.ContextVar("replica_reads_user", default=None)
_used: contextvars.ContextVar[list | None] = contextvars.ContextVar("replica_reads_used", default=None)
_request: contextvars.ContextVar[object | None] = contextvars.ContextVar("replica_reads_request", default=None)


def replicas() -> list[str]:
    """The aliases of the configured replicas (an empty list: no routing)."""
    return list(getattr(settings, "DATABASE_REPLICAS", ()))


def parse_lsn(text: str | None) -> int | None:
    """'16/B374D848' -> an integer that orders like the WAL position."""
    if not text:
        return None
    high, _, low = str(text).partition("/")
    return (int(high, 16) << 32) + int(low, 16)


# --------------------------------------------------------------------------- replica state
@dataclass
class ReplicaState:
    alias: str
    checked: float = 0.0  # time.monotonic() of the last check
    ok: bool = False
    lag_seconds: float | None = None
    replay_lsn: int | None = None
    detail: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict:
        result = {"ok": self.ok, "lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 3)}
        if self.detail:
            result["detail"] = self.detail
        return result


_states: dict[str, ReplicaState] = {}
_states_lock = threading.Lock()

STATE_SQL = """
    SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,
           CASE WHEN pg_last_wal_receive_lsn() IS NOT NULL AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
                THEN 0
                ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END
"""


def _state(alias: str) -> ReplicaState:
    with _states_lock:
        return _states.setdefault(alias, ReplicaState(alias))


def reset_states() -> None:
    """Forget what is known about the replicas (tests; a changed configuration)."""
    with _states_lock:
        _states.clear()


def mark_down(alias: str, exc: BaseException) -> None:
    state = _state(alias)
    state.ok, state.checked, state.detail = False, time.monotonic(), f"{type(exc).__name__}: {exc}"[:200]
    try:
        connections[alias].close()
    except Exception:  # noqa: BLE001 - a broken connection may not even close
        pass
    logger.warning("replica %s skipped: %s", alias, state.detail)


def check(alias: str) -> ReplicaState:
    """Ask the replica now: in recovery, replay position, lag."""
    state = _state(alias)
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(STATE_SQL)
            in_recovery, replay, lag = cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - down, refused, timed out: skipped until it answers again
        mark_down(alias, exc)
        return state
    lag = float(lag or 0.0)
    state.checked, state.lag_seconds, state.replay_lsn = time.monotonic(), lag, parse_lsn(replay)
    limit = settings.REPLICA_MAX_LAG_SECONDS
    if not in_recovery:
        state.ok, state.detail = False, "not in recovery (not a standby)"
    elif lag > limit:
        state.ok, state.detail = False, f"lag {lag:.1f} s over {limit} s"
    else:
        state.ok, state.detail = True, ""
    return state


def state(alias: str) -> ReplicaState:
    """What is known about the replica, checked again when older than the check (or retry) interval.
    One thread per process checks; the others use what was known meanwhile."""
    current = _state(alias)
    age = time.monotonic() - current.checked
    interval = settings.REPLICA_CHECK_SECONDS if current.ok else settings.REPLICA_RETRY_SECONDS
    if current.checked and age < interval:
        return current
    if current.lock.acquire(blocking=not current.checked):
        try:
            if not current.checked or time.monotonic() - current.checked >= interval:
                check(alias)
        finally:
            current.lock.release()
    return current


def replica_states() -> dict[str, dict]:
    """{alias: {ok, lag_seconds[, detail]}} for /health/ready/ and /metrics (checked now if stale)."""
    return {alias: state(alias).as_dict() for alias in replicas()}


# --------------------------------------------------------------------------- read your writes
def _user_id(user) -> object | None:
    if user is None:
        request = _request.get()
        user = getattr(request, "user", None) if request is not None else None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.pk


def _redis():
    from django.core.cache import cache

    return cache.client.get_client(write=True)


def record_write(user) -> None:
    """Store the primary's WAL position for the user (called after their write committed)."""
    user_id = _user_id(user)
    if user_id is None or not replicas():
        return
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_insert_lsn()::text")
            (lsn,) = cursor.fetchone()
        _redis().set(_ryw_key(user_id), lsn, ex=settings.REPLICA_READ_YOUR_WRITES_SECONDS)
    except Exception as exc:  # noqa: BLE001 - a write never fails for this; the window below then decides
        logger.warning("could not record the write position of user %s: %s", user_id, exc)


def _ryw_key(user_id) -> str:
    from django.core.cache import cache

    return cache.make_key(RYW_KEY.format(user_id=user_id))


_UNKNOWN = object()


def _required_lsn(user_id) -> int | None | object:
    """The WAL position this user's reads must see, None when nothing is pending, _UNKNOWN when Redis is down."""
    if user_id is None:
        return None
    try:
        raw = _redis().get(_ryw_key(user_id))
    except Exception:  # noqa: BLE001
        return _UNKNOWN
    return parse_lsn(raw.decode() if isinstance(raw, bytes) else raw)


def choose_replica(user=None) -> str | None:
    """A healthy replica that has replayed the user's last write, or None (use the primary)."""
    aliases = replicas()
    if not aliases:
        return None
    required = _required_lsn(_user_id(user))
    if required is _UNKNOWN:
        return None
    candidates = [alias for alias in aliases if state(alias).ok]
    random.shuffle(candidates)
    for alias in candidates:
        current = _state(alias)
        if required is None or (current.replay_lsn or 0) >= required:
            return alias
        fresh = check(alias)  # the cached position is a lower bound: ask again before giving up on it
        if fresh.ok and (fresh.replay_lsn or 0) >= required:
            return alias
    return None


# --------------------------------------------------------------------------- the selector API
class _ReplicaBlock:
    """Reads inside this block may go to a replica, for `user` (None: the current request's user)."""

    def __init__(self, user=None):
        self.user = user
        self._tokens: list = []

    def __enter__(self):
        self._tokens.append((_wanted.set(_wanted.get() + 1), _user.set(self.user or _user.get()), _used.set([])))
        return self

    def __exit__(self, *exc):
        wanted, user, used = self._tokens.pop()
        _used.reset(used)
        _user.reset(user)
        _wanted.reset(wanted)
        return False

    def __call__(self, func):
        return _retrying(func, self.user)


def _retrying(func, user):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if not replicas():
            return func(*args, **kwargs)
        who = user
        if who is None:  # a view method: the request is among the arguments, DRF has authenticated it
            request = next((a for a in args if hasattr(a, "user") and hasattr(a, "method")), None)
            who = getattr(request, "user", None)
        failed: list[tuple[str, Error]] = []
        with _ReplicaBlock(who):
            try:
                return func(*args, **kwargs)
            except Error as exc:
                if not _used.get():
                    raise
                failed = [(alias, exc) for alias in _used.get()]
        for alias, exc in failed:  # the replica failed mid-way: skip it and answer from the primary
            mark_down(alias, exc)
        return func(*args, **kwargs)

    return wrapper


def replica_reads(func=None, *, user=None):
    """`with replica_reads(user=...):` or `@replica_reads` (on a view method or a selector taking the request):
    the reads in it may go to a replica. Decorated, a query failing on a replica marks it down and the function
    runs again on the primary (decorate reads only)."""
    if func is not None:
        return _retrying(func, user)
    return _ReplicaBlock(user)


def on_replica(queryset, user=None):
    """The queryset pinned to a replica (for one evaluated after the view returned, e.g. a streamed export),
    or unchanged when no replica may serve this user now or the caller is inside a transaction."""
    if not replicas() or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return queryset
    alias = choose_replica(user)
    return queryset.using(alias) if alias else queryset


# --------------------------------------------------------------------------- the router
class ReplicaRouter:
    """Installed when replicas are configured (DATABASE_ROUTERS); primary-only unless a block asks otherwise."""

    def db_for_read(self, model, **hints):
        if not _wanted.get() or not replicas():
            return None
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return None
        alias = choose_replica(_user.get())
        if alias:
            used = _used.get()
            if used is not None and alias not in used:
                used.append(alias)
        return alias

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        same = {DEFAULT_DB_ALIAS, *replicas()}
        if obj1._state.db in same and obj2._state.db in same:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if db in replicas():
            return False  # a standby is read-only: it gets the schema from the primary's WAL
        return None


class ReadYourWritesMiddleware:
    """Remembers the request (its user is resolved later, by DRF) and, after a write request by a signed-in
    user, records the primary's WAL position for that user (see the module docstring)."""

    UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not replicas():
            return self.get_response(request)
        token = _request.set(request)
        try:
            response = self.get_response(request)
        finally:
            _request.reset(token)
        if request.method in self.UNSAFE and response.status_code < 500:
            record_write(getattr(request, "user", None))
        return response

