"""One error format everywhere: RFC 9457 problem details with an `errors` list naming each field.

Services raise the exceptions defined here (or Django's ValidationError); views never build error
bodies by hand. `problem_exception_handler` turns both, and DRF's own exceptions, into
`application/problem+json`.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://contacts.example.com/errors/"

TITLES = {
    400: ("validation", "Invalid input"),
    401: ("not-authenticated", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("unprocessable", "Unprocessable request"),
    429: ("throttled", "Too many requests"),
    500: ("server-error", "Server error"),
}


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"field": self.field, "code": self.code, "message": self.message}


class ApplicationError(Exception):
    """Base of the errors services raise on purpose; carries status, detail and field errors."""

    status = 400
    type_slug: str | None = None

    def __init__(self, detail: str = "", *, errors: Iterable[FieldError] = (), extra: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        self.extra = extra or {}


class InvalidInput(ApplicationError):
    status = 400

    @classmethod
    def field(cls, field: str, message: str, code: str = "invalid") -> InvalidInput:
        return cls(message, errors=[FieldError(field, code, message)])


class NotFound(ApplicationError):
    status = 404


class Conflict(ApplicationError):
    status = 409


class PayloadTooLarge(ApplicationError):
    status = 413


class Unprocessable(ApplicationError):
    status = 422


RESERVED = frozenset({"type", "title", "status", "detail", "errors", "instance"})


class Errors:
    """Collects field errors so one response names every bad field, then raises once."""

    def __init__(self, prefix: str = ""):
        self.prefix = prefix
        self.items: list[FieldError] = []

    def add(self, field: str, message: str, code: str = "invalid") -> None:
        self.items.append(FieldError(f"{self.prefix}{field}", code, message))

    def extend(self, other: Errors) -> None:
        self.items.extend(other.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidInput("", errors=self.items)

    def text(self, data: dict, key: str, max_length: int, *, required: bool = False) -> str | None:
        """`data[key]` as stripped text of at most `max_length` characters; None (and an error) otherwise."""
        if key not in data:
            if required:
                self.add(key, "This field is required.", "required")
            return None
        value = data[key]
        if not isinstance(value, str) or (required and not value.strip()):
            self.add(key, "Expected non-empty text." if required else "Expected text.", "invalid")
            return None
        value = value.strip()
        if len(value) > max_length:
            self.add(key, f"At most {max_length:,} characters.", "max_length")
            return None
        return value

    def unknown(self, data: dict, allowed: set[str]) -> None:
        """An `unknown_field` error for every key of `data` outside `allowed`."""
        for key in sorted(set(data) - allowed):
            self.add(key, "Unknown field.", "unknown_field")


def problem(status_code: int, detail: str = "", errors: Iterable[dict] = (), **extra: Any) -> dict:
    slug, title = TITLES.get(status_code, ("error", "Error"))
    body = {"type": TYPE_BASE + slug, "title": title, "status": status_code, "detail": detail or title}
    errors = list(errors)
    if errors:
        body["errors"] = errors
    # extension members never overwrite the standard ones (a conflict may carry e.g. the object's state)
    body.update({key if key not in RESERVED else f"current_{key}": value for key, value in extra.items()})
    return body


def problem_response(status: int, detail: str = "", errors: Iterable[dict] = (), headers: dict | None = None,
                     **extra: Any) -> JsonResponse:
    """A plain Django response in the problem format, for middleware and URL-level handlers."""
    response = JsonResponse(problem(status, detail, errors, **extra), status=status, content_type=PROBLEM_CONTENT_TYPE)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def flatten_drf_errors(detail: Any, prefix: str = "") -> list[dict]:
    """DRF's nested error detail ({field: [ErrorDetail]}, lists for many=True) as a flat list."""
    out: list[dict] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = prefix if key in ("non_field_errors", "__all__") and prefix else (
                f"{prefix}.{key}" if prefix else str(key))
            out.extend(flatten_drf_errors(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            for item in detail:
                out.append({"field": prefix or "non_field_errors", "code": getattr(item, "code", "invalid"),
                            "message": str(item)})
        else:
            for index, item in enumerate(detail):
                out.extend(flatten_drf_errors(item, f"{prefix}[{index}]" if prefix else f"[{index}]"))
    else:
        out.append({"field": prefix or "non_field_errors", "code": getattr(detail, "code", "invalid"),
                    "message": str(detail)})
    return out


def django_validation_errors(exc: DjangoValidationError) -> list[dict]:
    if hasattr(exc, "error_dict"):
        return [
            {"field": field, "code": error.code or "invalid", "message": " ".join(error.messages)}
            for field, errors in exc.error_dict.items()
            for error in errors
        ]
    return [{"field": "non_field_errors", "code": e.code or "invalid", "message": " ".join(e.messages)}
            for e in exc.error_list]


def _summary(errors: list[dict], default: str) -> str:
    if not errors:
        return default
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first['field']}: {first['message']}{more}"


def problem_exception_handler(exc: Exception, context: dict) -> Response | None:
    headers: dict[str, str] = {}
    extra: dict = {}
    if isinstance(exc, ApplicationError):
        status, errors = exc.status, [e.as_dict() for e in exc.errors]
        detail, extra = exc.detail or _summary(errors, ""), exc.extra
    elif isinstance(exc, DjangoValidationError):
        errors = django_validation_errors(exc)
        status, detail = 400, _summary(errors, "Invalid input")
    elif isinstance(exc, DataError):
        # PostgreSQL refused a value the input carried (out-of-range date, offset or number): bad input
        logger.info("database rejected a value", exc_info=exc)
        message = str(exc).splitlines()[0][:300]
        status, errors, detail = 400, [{"field": "non_field_errors", "code": "invalid_value",
                                        "message": message}], f"A value is out of range: {message}"
    elif isinstance(exc, Http404):
        status, errors, detail = 404, [], "Not found."
    elif isinstance(exc, DjangoPermissionDenied):
        status, errors, detail = 403, [], "You do not have permission to perform this action."
    elif isinstance(exc, drf.ValidationError):
        errors = flatten_drf_errors(exc.detail)
        status, detail = 400, _summary(errors, "Invalid input")
    elif isinstance(exc, drf.APIException):
        status = exc.status_code
        if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
            status = 401
            headers["WWW-Authenticate"] = 'Token realm="api"'
        if isinstance(exc, drf.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(int(exc.wait) + 1)
        if isinstance(exc.detail, (dict, list)):
            errors = flatten_drf_errors(exc.detail)
            detail = _summary(errors, TITLES.get(status, ("", "Error"))[1])
        else:
            errors, detail = [], str(exc.detail)
        if isinstance(exc, drf.ParseError):
            errors = errors or [{"field": "body", "code": "parse_error", "message": detail}]
    else:
        logger.exception("unhandled error", exc_info=exc)
        status, errors, detail = 500, [], "An unexpected error occurred; it has been logged."
    return Response(problem(status, detail, errors, **extra), status=status, headers=headers,
                    content_type=PROBLEM_CONTENT_TYPE)


def not_found_view(request, exception=None):
    return problem_response(404, "Not found.")


def server_error_view(request):
    return problem_response(500, "An unexpected error occurred; it has been logged.")


def bad_request_view(request, exception=None):
    return problem_response(400, "Bad request.")


def permission_denied_view(request, exception=None):
    return problem_response(403, "You do not have permission to perform this action.")
