"""Readiness: can this deployment serve and send? (/health/ready/; liveness is /health/ in urls.py)

The checks of shared services are here; an app adds its own under the registry's `readiness_checks`
(communications: `dispatcher`).

Each check returns quickly (short socket timeouts) and reports `ok` plus what it saw. The response is
200 when every check passes and 503 otherwise, so a load balancer or orchestrator can act on it.

Heartbeats are real signals from the other processes, stored on the broker's Redis (REDIS_URL's with RabbitMQ):
- the worker writes `health:worker` when it starts and each time it runs `contacts_project.heartbeat`;
- beat writes `health:beat` when it publishes that task (before_task_publish runs in beat's process),
so a stopped worker and a stopped beat show up separately.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse

from contacts_project import db_router, metrics
from contacts_project.registry import registry

WORKER_KEY = "health:worker"
BEAT_KEY = "health:beat"
HEARTBEAT_TASK = "contacts_project.heartbeat"


def record_heartbeat(key: str) -> None:
    """Store `now` under `key` on the broker's Redis (expires, so a dead process's value disappears)."""
    metrics.broker_redis().set(key, f"{time.time():.3f}", ex=settings.HEALTH_HEARTBEAT_MAX_AGE * 10)


def _age(key: str) -> float | None:
    raw = metrics.broker_redis().get(key)
    return None if raw is None else max(0.0, time.time() - float(raw))


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


def check_cache() -> dict:
    # django-redis swallows errors (IGNORE_EXCEPTIONS); ask the raw client so an outage is seen
    client = cache.client.get_client(write=True)
    client.ping()
    return {"ok": True}


def check_broker() -> dict:
    if metrics.broker_is_redis():
        metrics.broker_redis().ping()
        return {"ok": True}
    from contacts_project.celery import app

    with app.connection_for_write() as conn:  # RabbitMQ: connect (short timeout), heartbeats stay on Redis
        conn.ensure_connection(max_retries=1, timeout=2)
    metrics.broker_redis().ping()
    return {"ok": True, "broker": "amqp"}


def _heartbeat(key: str, what: str) -> dict:
    age = _age(key)
    limit = settings.HEALTH_HEARTBEAT_MAX_AGE
    if age is None:
        return {"ok": False, "detail": f"no {what} heartbeat recorded"}
    return {"ok": age <= limit, "age_seconds": round(age, 1), "max_age_seconds": limit}


def check_worker() -> dict:
    return _heartbeat(WORKER_KEY, "worker")


def check_beat() -> dict:
    return _heartbeat(BEAT_KEY, "beat")



def check_replicas() -> dict:
    """Each read replica's lag. A lagging or stopped replica is skipped (its reads go to the primary), so it is
    reported here but does not make the deployment unready."""
    states = db_router.replica_states()
    return {"ok": True, "replicas": states, "max_lag_seconds": settings.REPLICA_MAX_LAG_SECONDS,
            "serving": sum(1 for s in states.values() if s["ok"])}


CHECKS: dict[str, Callable[[], dict]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "worker": check_worker,
    "beat": check_beat,
}


def run_checks() -> dict[str, dict]:
    results = {}
    checks = {**CHECKS, **registry["readiness_checks"]}
    if db_router.replicas():
        checks["replicas"] = check_replicas
    for name, check in checks.items():
        started = time.perf_counter()
        try:
            result = check()
        except Exception as exc:  # noqa: BLE001 - a failing dependency is a failed check, not a 500
            result = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:200]}
        result["ms"] = round((time.perf_counter() - started) * 1000, 1)
        results[name] = result
    return results


def readiness(request):
    results = run_checks()
    healthy = all(r["ok"] for r in results.values())
    return JsonResponse({"status": "ok" if healthy else "unavailable", "checks": results},
                        status=200 if healthy else 503)
