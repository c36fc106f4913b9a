"""/metrics: protection, request latency by route, SQL counts, cache hit rate, queue depths, task outcomes,
message counters, dispatcher lag, and multiprocess aggregation."""
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from communications.models import Communication
from contacts.tests.factories import ContactFactory
from contacts_project import metrics

ROOT = Path(__file__).resolve().parents[2]


def scrape(client, **extra) -> dict[tuple, float]:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.content.decode()) for s in family.samples}


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.django_db
def test_metrics_refuses_outside_addresses_without_token(anon, settings):
    settings.METRICS_TOKEN = ""
    response = anon.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert anon.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert anon.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200


@pytest.mark.django_db
def test_metrics_token_is_required_when_set_even_from_inside(anon, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    assert anon.get("/metrics").status_code == 401
    assert anon.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = anon.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200
    assert b"contacts_http_request_duration_seconds" in response.content


@pytest.mark.django_db
def test_request_latency_and_sql_counts_by_route_not_path(api, anon):
    contact = ContactFactory()
    before = scrape(anon)
    assert api.get(f"/api/v1/contacts/{contact.pk}/").status_code == 200
    assert api.get(f"/api/v1/contacts/{contact.pk}/").status_code == 200
    assert api.get("/api/v1/contacts/00000000-0000-0000-0000-000000000000/").status_code == 404
    after = scrape(anon)
    count = "contacts_http_request_duration_seconds_count"
    assert value(after, count, route="contact-detail", method="GET", status="200") - \
        value(before, count, route="contact-detail", method="GET", status="200") == 2
    assert value(after, count, route="contact-detail", method="GET", status="404") - \
        value(before, count, route="contact-detail", method="GET", status="404") == 1
    # raw paths never become labels
    assert not any(str(contact.pk) in str(key) for key in after)
    queries = "contacts_http_request_db_queries_sum"
    assert value(after, queries, route="contact-detail") > value(before, queries, route="contact-detail")


@pytest.mark.django_db
def test_cache_hits_and_misses_give_the_hit_ratio(api, anon):
    contact = ContactFactory()
    before = scrape(anon)
    for _ in range(4):  # one miss, then three hits
        assert api.get(f"/api/v1/contacts/{contact.pk}/").status_code == 200
    after = scrape(anon)
    name = "contacts_cache_events_total"
    assert value(after, name, outcome="misses") - value(before, name, outcome="misses") == 1
    assert value(after, name, outcome="hits") - value(before, name, outcome="hits") == 3
    ratio = value(after, "contacts_cache_hit_ratio")
    hits, misses = value(after, name, outcome="hits"), value(after, name, outcome="misses")
    assert ratio == pytest.approx(hits / (hits + misses))


@pytest.mark.django_db
def test_queue_depths_come_from_the_broker(anon):
    from contacts_project.celery import app

    client = metrics.broker_redis()
    client.delete("bulk")
    try:
        for _ in range(3):  # no worker consumes `bulk` here: the messages wait
            app.send_task("contacts.bulk.nothing", queue="bulk")
        samples = scrape(anon)
        assert value(samples, "contacts_celery_queue_depth", queue="bulk") == 3
        assert ("contacts_celery_queue_depth", (("queue", "send"),)) in samples
    finally:
        client.delete("bulk")


@pytest.mark.django_db
def test_dispatcher_lag_gauge(anon):
    contact = ContactFactory()
    assert value(scrape(anon), "contacts_dispatcher_lag_seconds") == 0
    Communication.objects.create(contact=contact, type="sms", status="scheduled",
                                 scheduled_at=timezone.now() - timedelta(minutes=5))
    assert value(scrape(anon), "contacts_dispatcher_lag_seconds") >= 299


@pytest.mark.django_db
def test_message_counters_by_channel(anon):
    before = scrape(anon)
    metrics.MESSAGES.labels("email", "sent").inc()
    metrics.MESSAGES.labels("sms", "failed").inc(2)
    after = scrape(anon)
    name = "contacts_messages_total"
    assert value(after, name, channel="email", outcome="sent") - value(before, name, channel="email",
                                                                        outcome="sent") == 1
    assert value(after, name, channel="sms", outcome="failed") - value(before, name, channel="sms",
                                                                        outcome="failed") == 2


@pytest.mark.django_db(transaction=True)
def test_task_successes_failures_and_retries_from_a_real_worker(anon, celery_worker):
    from tests.monitoring import tasks

    name = "contacts_celery_tasks_total"
    before = scrape(anon)
    tasks.echo.delay("x")
    tasks.boom.delay()
    tasks.flaky.delay()

    def counted(task, outcome, n=1):
        return value(scrape(anon), name, task=task, outcome=outcome) - value(before, name, task=task,
                                                                             outcome=outcome) >= n

    deadline = time.monotonic() + 30
    wanted = [("tests.monitoring.echo", "succeeded"), ("tests.monitoring.boom", "failed"),
              ("tests.monitoring.flaky", "retried"), ("tests.monitoring.flaky", "succeeded")]
    while time.monotonic() < deadline and not all(counted(*w) for w in wanted):
        time.sleep(0.2)
    assert [w for w in wanted if not counted(*w)] == []


@pytest.mark.django_db
def test_bench_query_header_only_when_enabled(api, settings):
    contact = ContactFactory()
    first = api.get(f"/api/v1/contacts/{contact.pk}/")
    assert "X-Query-Count" not in first and "X-Worker-Pid" not in first
    settings.BENCH_COUNT_QUERIES = True
    response = api.get(f"/api/v1/contacts/{contact.pk}/")
    # the token lookup, then the cached detail (the first GET filled the cache)
    assert response["X-Query-Count"] == "1"
    assert response["X-Worker-Pid"] == str(os.getpid())  # which process served it: the load driver spreads on it


def test_multiprocess_mode_adds_up_every_process(tmp_path, monkeypatch):
    """As under gunicorn: several processes write samples; /metrics' registry reads them all."""
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="contacts_project.settings")
    code = ("from contacts_project import metrics; metrics.CACHE_EVENTS.labels('hits').inc(5); "
            "metrics.REQUEST_LATENCY.labels('contact-detail', 'GET', '200').observe(0.004)")
    for _ in range(2):
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    registry = metrics.registry()
    assert registry.get_sample_value("contacts_cache_events_total", {"outcome": "hits"}) == 10
    assert registry.get_sample_value("contacts_http_request_duration_seconds_count",
                                     {"route": "contact-detail", "method": "GET", "status": "200"}) == 2
    assert registry.get_sample_value("contacts_cache_hit_ratio") == 1.0
