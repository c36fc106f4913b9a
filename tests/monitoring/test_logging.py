"""Structured JSON logs: the request id of a web request reaches the logs of the Celery task it starts."""
import json
import logging
import time

import pytest

from contacts_project.logging import JsonFormatter, RequestIdFilter


class Lines(logging.Handler):
    """Formats records exactly as the console handler does (settings.LOGGING) and keeps the lines."""

    def __init__(self):
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.addFilter(RequestIdFilter())
        self.lines: list[dict] = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def json_lines():
    handler = Lines()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler.lines
    root.removeHandler(handler)


def test_the_console_handler_uses_the_json_formatter(settings):
    handler = settings.LOGGING["handlers"]["console"]
    assert settings.LOGGING["formatters"][handler["formatter"]]["()"] == "contacts_project.logging.JsonFormatter"
    assert handler["filters"] == ["request_id", "periodic_ticks"]
    assert settings.CELERY_WORKER_HIJACK_ROOT_LOGGER is False  # workers keep the JSON format


@pytest.mark.django_db
def test_access_log_line_is_json_with_request_id_route_and_timing(api, json_lines):
    response = api.get("/api/v1/contacts/", HTTP_X_REQUEST_ID="req-abc-123")
    assert response["X-Request-ID"] == "req-abc-123"
    access = [line for line in json_lines if line["logger"] == "contacts_project.access"]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == "req-abc-123"
    assert line["level"] == "info" and line["ts"].endswith("Z")
    assert line["http"]["route"] == "contact-list" and line["http"]["status"] == 200
    assert line["http"]["method"] == "GET" and line["http"]["path"] == "/api/v1/contacts/"
    assert line["http"]["db_queries"] >= 1 and line["http"]["duration_ms"] > 0


@pytest.mark.django_db
def test_access_log_can_be_switched_off(api, json_lines, settings):
    settings.ACCESS_LOG = False
    api.get("/api/v1/contacts/")
    assert [line for line in json_lines if line["logger"] == "contacts_project.access"] == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.monitoring.urls")
def test_request_id_is_carried_into_the_task_it_starts(anon, celery_worker, json_lines):
    marker = f"m{time.time_ns()}"
    response = anon.get(f"/test-start-task/?marker={marker}", HTTP_X_REQUEST_ID="req-into-task-42")
    assert response.status_code == 202
    deadline = time.monotonic() + 30
    task_lines: list[dict] = []
    while time.monotonic() < deadline and not task_lines:
        task_lines = [line for line in json_lines if line["message"] == f"echo {marker}"]
        time.sleep(0.1)
    assert task_lines, "the worker never ran the task"
    line = task_lines[0]
    assert line["request_id"] == "req-into-task-42"
    assert line["task"] == "tests.monitoring.echo" and line["task_id"]


@pytest.mark.django_db(transaction=True)
def test_a_task_started_outside_a_request_has_no_request_id(celery_worker, json_lines):
    from tests.monitoring.tasks import echo

    marker = f"n{time.time_ns()}"
    echo.delay(marker)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(line["message"] == f"echo {marker}" for line in json_lines):
        time.sleep(0.1)
    line = next(line for line in json_lines if line["message"] == f"echo {marker}")
    assert line["request_id"] is None and line["task"] == "tests.monitoring.echo"


def test_sentry_is_initialised_only_when_a_dsn_is_set():
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import django; django.setup(); import sentry_sdk; "
            "print('on' if sentry_sdk.get_client().is_active() else 'off')")
    root = Path(__file__).resolve().parents[2]
    base = {k: v for k, v in os.environ.items() if k != "SENTRY_DSN"}
    base["DJANGO_SETTINGS_MODULE"] = "contacts_project.settings"
    off = subprocess.run([sys.executable, "-c", code], cwd=root, env=base, capture_output=True, text=True, check=True)
    on = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True,
                        env=dict(base, SENTRY_DSN="https://public@sentry.example.com/1"))
    assert off.stdout.strip() == "off"
    assert on.stdout.strip() == "on"


def _record(name, level, message):
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


def test_periodic_ticks_are_debug_and_other_task_lines_stay_info():
    from contacts_project.logging import PeriodicTickFilter

    ticks = PeriodicTickFilter()
    beat = _record("celery.beat", logging.INFO, "Scheduler: Sending due task communications-dispatch-due "
                                                "(communications.dispatch_due)")
    received = _record("celery.worker.strategy", logging.INFO,
                       "Task planning.campaign_tick[0b5c] received")
    import_done = _record("celery.app.trace", logging.INFO, "Task contacts.run_import[1a2b] succeeded in 3.1s")
    tick_failed = _record("celery.app.trace", logging.ERROR, "Task communications.dispatch_due[9f] raised")
    assert ticks.filter(beat) is False and beat.levelname == "DEBUG"
    assert ticks.filter(received) is False
    assert ticks.filter(import_done) is True and import_done.levelname == "INFO"  # not periodic
    assert ticks.filter(tick_failed) is True  # failures of ticks still show


def test_text_format_is_one_readable_line():
    from contacts_project.logging import TextFormatter

    record = _record("contacts_project.access", logging.INFO, "GET /api/v1/contacts/ 200")
    record.request_id = "3f2a9c0d-aaaa"
    line = TextFormatter().format(record)
    assert "\n" not in line and "INFO" in line and "GET /api/v1/contacts/ 200" in line and "[req 3f2a9c0d]" in line
