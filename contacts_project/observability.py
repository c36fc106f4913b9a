"""Per-request metrics and access log, and the protected /metrics endpoint (docs/operations.md)."""
from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import time

from django.conf import settings
from django.db import connections
from django.http import HttpResponse

from contacts_project import metrics
from contacts_project.errors import problem_response

access_log = logging.getLogger("contacts_project.access")


class _QueryCounter:
    """connection.execute_wrapper callback: counts the SQL statements a request runs."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def route_of(request) -> str:
    """The URL pattern's name (`contact-detail`), never the raw path: keeps label cardinality bounded."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or match.route or "unnamed"


class RequestMetricsMiddleware:
    """Latency histogram by route/method/status, SQL statements per request, a JSON access log line.

    With BENCH_COUNT_QUERIES the statement count is also returned in `X-Query-Count` and the serving
    process in `X-Worker-Pid` (the benchmark reads them); off by default so production responses do not
    reveal them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        counter = _QueryCounter()
        started = time.perf_counter()
        with connections["default"].execute_wrapper(counter):
            response = self.get_response(request)
        elapsed = time.perf_counter() - started
        route = route_of(request)
        if request.path != settings.METRICS_PATH:
            metrics.REQUEST_LATENCY.labels(route, request.method, str(response.status_code)).observe(elapsed)
            metrics.DB_QUERIES.labels(route).observe(counter.count)
        if settings.BENCH_COUNT_QUERIES:
            response["X-Query-Count"] = str(counter.count)
            response["X-Worker-Pid"] = str(os.getpid())  # lets the load driver spread its connections
        if settings.ACCESS_LOG:
            access_log.info("%s %s %s", request.method, request.path, response.status_code, extra={
                "http": {"method": request.method, "path": request.path, "route": route,
                         "status": response.status_code, "duration_ms": round(elapsed * 1000, 2),
                         "db_queries": counter.count}})
        return response


def _internal(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net) for net in settings.METRICS_ALLOWED_NETWORKS)


def metrics_view(request):
    """Prometheus text format. With METRICS_TOKEN set: `Authorization: Bearer <token>` is required;
    without it, only clients from METRICS_ALLOWED_NETWORKS (loopback and private ranges) may read."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
            response = problem_response(401, "Send the metrics token as `Authorization: Bearer <token>`.")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif not _internal(request.META.get("REMOTE_ADDR", "")):
        return problem_response(403, "Metrics are served to internal addresses only (or set METRICS_TOKEN).")
    return HttpResponse(generate_latest(metrics.registry()), content_type=CONTENT_TYPE_LATEST)
