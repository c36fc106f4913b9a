"""Prometheus metrics shared by the apps, exposed on /metrics (see docs/operations.md).

Counters and histograms live here so every app increments the same objects. Under gunicorn (several
worker processes) and Celery (prefork children), prometheus_client's multiprocess mode is used when
PROMETHEUS_MULTIPROC_DIR is set: each process writes its samples to files in that directory and
/metrics adds them up. Gauges that describe shared state (queue depths, dispatcher lag, cache hit rate)
are not stored per process: `LiveStateCollector` reads them from Redis and PostgreSQL at scrape time, with the
gauges each app registers under the registry's `live_gauges` (communications: the dispatcher lag).
"""
from __future__ import annotations

import logging
import os

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from contacts_project.registry import registry as extensions

logger = logging.getLogger(__name__)

CACHE_EVENTS = Counter("contacts_cache_events_total", "Cache-aside lookups by outcome (hits, misses, errors)",
                       ["outcome"])

# messages handed to a channel backend; the sending code increments it (outcome: sent or failed)
MESSAGES = Counter("contacts_messages_total", "Messages by channel and outcome (sent, failed)",
                   ["channel", "outcome"])

REQUEST_LATENCY = Histogram(
    "contacts_http_request_duration_seconds", "HTTP request latency by route (URL name), method and status",
    ["route", "method", "status"],
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DB_QUERIES = Histogram(
    "contacts_http_request_db_queries", "SQL statements per HTTP request by route",
    ["route"], buckets=(0, 1, 2, 3, 4, 6, 10, 20, 50, 100),
)
TASKS = Counter("contacts_celery_tasks_total", "Celery task outcomes (succeeded, failed, retried) by task name",
                ["task", "outcome"])

# inbound mail and SMS (communications.inbound): every received message by source and classification,
# tokens refused (forged, altered), and messages that could not be processed (malformed, loop, error)
INBOUND_MESSAGES = Counter("contacts_inbound_messages_total", "Inbound messages by source and classification",
                           ["source", "kind"])
INBOUND_TOKENS_REJECTED = Counter("contacts_inbound_tokens_rejected_total",
                                  "Signed inbound addresses refused (forged or altered)", ["reason"])
INBOUND_PROBLEMS = Counter("contacts_inbound_problems_total",
                           "Inbound messages refused or not processed (too large, malformed, loop, error)",
                           ["reason"])

QUEUES = ("send", "bulk", "default", "inbound")


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def broker_is_redis() -> bool:
    from django.conf import settings

    return settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://", "redis+socket://"))


def broker_redis():
    """A Redis client on the broker's database when the broker is Redis (queues and heartbeats live there), on
    REDIS_URL's database otherwise (heartbeats; the queues are then RabbitMQ's)."""
    import redis
    from django.conf import settings

    url = settings.CELERY_BROKER_URL if broker_is_redis() else settings.REDIS_URL
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def queue_lengths(queues=QUEUES) -> dict[str, int]:
    """Tasks waiting in each queue (not those a worker has taken), on either broker: LLEN on Redis, a passive
    queue declaration (its message count) on RabbitMQ, where a queue not declared yet holds nothing."""
    if broker_is_redis():
        pipe = broker_redis().pipeline(transaction=False)
        for queue in queues:
            pipe.llen(queue)
        return dict(zip(queues, pipe.execute()))
    from amqp.exceptions import NotFound

    from contacts_project.celery import app

    lengths = {}
    with app.pool.acquire(block=True, timeout=2) as conn:
        for queue in queues:
            channel = conn.channel()  # a failed passive declaration closes its channel
            try:
                lengths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
            except NotFound:
                lengths[queue] = 0
            finally:
                try:
                    channel.close()
                except Exception:  # noqa: BLE001 - already closed by the broker
                    pass
    return lengths


def purge_queues(queues=QUEUES) -> None:
    """Drop every waiting task from the queues (tests, and an operator clearing a backlog of a dead deployment).
    On Redis also the unacknowledged set, on RabbitMQ unacknowledged messages go back when their channel closes."""
    from contacts_project.celery import app

    with app.connection_for_write() as conn:
        if broker_is_redis():
            conn.default_channel.client.delete(*queues, "unacked", "unacked_index", "unacked_mutex")
            return
        from amqp.exceptions import NotFound

        for queue in queues:
            channel = conn.channel()
            try:
                channel.queue_purge(queue)
            except NotFound:
                pass
            finally:
                try:
                    channel.close()
                except Exception:  # noqa: BLE001
                    pass


def send_queue_tasks() -> int | None:
    """Tasks waiting in the broker's send queue (not those a worker has taken), or None when it cannot say."""
    from contacts_project.celery import SEND_QUEUE

    try:
        return queue_lengths((SEND_QUEUE,))[SEND_QUEUE]
    except Exception as exc:  # noqa: BLE001 - callers fall back to what they can do without it
        logger.warning("send queue length unavailable: %s", exc)
        return None



class LiveStateCollector:
    """Gauges read at scrape time: queue depths, dispatcher lag, and the cache hit ratio since start
    (computed from `source`, the registry holding the cache counters of every process)."""

    def __init__(self, source: CollectorRegistry | None = None):
        self.source = source

    def collect(self):
        depth = GaugeMetricFamily("contacts_celery_queue_depth", "Messages waiting in each Celery queue",
                                  labels=["queue"])
        try:
            for queue, length in queue_lengths().items():
                depth.add_metric([queue], length)
        except Exception as exc:  # noqa: BLE001 - a scrape reports what it can
            logger.warning("queue depth unavailable: %s", exc)
        yield depth
        for name, gauges in extensions["live_gauges"].items():
            try:
                yield from gauges()
            except Exception as exc:  # noqa: BLE001 - a scrape reports what it can
                logger.warning("%s unavailable: %s", name, exc)
        yield from replica_gauges()
        if self.source is not None:
            ratio = cache_hit_ratio(cache_events(self.source))
            gauge = GaugeMetricFamily("contacts_cache_hit_ratio",
                                      "Cache-aside hits / (hits + misses) since the processes started; "
                                      "use rate() of contacts_cache_events_total for a window")
            if ratio is not None:
                gauge.add_metric([], ratio)
            yield gauge


def replica_gauges():
    """Lag and state of each read replica (nothing when none is configured)."""
    from contacts_project import db_router

    if not db_router.replicas():
        return
    lag = GaugeMetricFamily("contacts_db_replica_lag_seconds",
                            "Replay lag of each read replica (0 when it has replayed all it received)",
                            labels=["replica"])
    up = GaugeMetricFamily("contacts_db_replica_serving",
                           "1 when the replica serves reads, 0 when it is skipped (down, lagging, not a standby)",
                           labels=["replica"])
    try:
        for alias, state in db_router.replica_states().items():
            if state["lag_seconds"] is not None:
                lag.add_metric([alias], state["lag_seconds"])
            up.add_metric([alias], 1.0 if state["ok"] else 0.0)
    except Exception as exc:  # noqa: BLE001 - a scrape reports what it can
        logger.warning("replica state unavailable: %s", exc)
    yield lag
    yield up


def cache_events(source) -> dict[str, float]:
    """{outcome: count} of contacts_cache_events_total, summed over processes."""
    totals: dict[str, float] = {}
    for family in source.collect():
        if family.name != "contacts_cache_events":
            continue
        for sample in family.samples:
            if sample.name == "contacts_cache_events_total":
                outcome = sample.labels.get("outcome", "")
                totals[outcome] = totals.get(outcome, 0.0) + sample.value
    return totals


def cache_hit_ratio(events: dict[str, float]) -> float | None:
    hits, misses = events.get("hits", 0.0), events.get("misses", 0.0)
    return hits / (hits + misses) if hits + misses else None


def registry() -> CollectorRegistry:
    """The registry /metrics renders: every process's samples in multiprocess mode, this one's otherwise."""
    from prometheus_client import REGISTRY, multiprocess

    if multiprocess_dir():
        source = CollectorRegistry()
        multiprocess.MultiProcessCollector(source)
    else:
        source = REGISTRY
    output = CollectorRegistry()
    output.register(_Forward(source))
    output.register(LiveStateCollector(source))
    return output


class _Forward:
    """Re-exports another registry's families (so live gauges can be added beside them)."""

    def __init__(self, source):
        self.source = source

    def collect(self):
        yield from self.source.collect()

    def describe(self):
        return []
