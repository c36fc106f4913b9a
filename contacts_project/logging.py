"""JSON log lines carrying the request id, in the web process and in the Celery tasks it starts.

`LOG_FORMAT=text` (what `make run` sets in a terminal) writes the same records as one readable line each.
Periodic ticks (beat sending a task that runs every few seconds, the worker receiving and finishing it) are
DEBUG records: at INFO a new user's terminal would show hundreds of them a minute.

One JSON object per line: ts, level, logger, message, request_id, and inside a Celery task also
task_id and task (its name); anything passed with `extra={"key": {...}}` whose key is in EXTRA_KEYS is
added as is (the access log uses `http`). See docs/operations.md.
"""
import contextvars
import json
import logging
import time

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_task: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("task", default=None)

EXTRA_KEYS = ("http", "event")


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> None:
    _request_id.set(value)


def set_task(task_id: str | None, name: str | None) -> None:
    _task.set((task_id, name) if task_id else None)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        task = _task.get()
        if task:
            record.task_id, record.task_name = task
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if getattr(record, "task_id", None):
            payload["task_id"] = record.task_id
            payload["task"] = record.task_name
        for key in EXTRA_KEYS:
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    """`14:02:03 INFO  contacts_project.access: GET /api/v1/contacts/ 200 [req 3f2a…]` for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        line = (f"{time.strftime('%H:%M:%S', time.localtime(record.created))} {record.levelname:<5} "
                f"{record.name}: {record.getMessage()}")
        request_id = getattr(record, "request_id", None)
        if request_id:
            line += f" [req {request_id[:8]}]"
        if getattr(record, "task_name", None):
            line += f" [task {record.task_name}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


# Celery's own loggers for a task being sent by beat, received and finished by a worker
_TICK_LOGGERS = ("celery.beat", "celery.worker.strategy", "celery.app.trace")


def periodic_task_names() -> frozenset[str]:
    """Tasks beat runs at least once a minute: their routine log lines are ticks."""
    from django.conf import settings

    return frozenset(entry["task"] for entry in getattr(settings, "CELERY_BEAT_SCHEDULE", {}).values()
                     if isinstance(entry.get("schedule"), (int, float)) and entry["schedule"] <= 60)


class PeriodicTickFilter(logging.Filter):
    """Demotes the INFO lines of periodic ticks to DEBUG (dropped unless the handler's level lets DEBUG through).
    Failures and retries of the same tasks are WARNING or ERROR and pass unchanged."""

    def __init__(self):
        super().__init__()
        self._names: frozenset[str] | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not record.name.startswith(_TICK_LOGGERS):
            return True
        if self._names is None:
            self._names = periodic_task_names()
        message = record.getMessage()
        if not any(name in message for name in self._names):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).getEffectiveLevel() <= logging.DEBUG \
            and logging.getLogger().getEffectiveLevel() <= logging.DEBUG
