"""JSON log lines carrying the request id, in the web process and in the Celery tasks it starts.

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
