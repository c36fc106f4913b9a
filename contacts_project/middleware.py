"""Request id and body size limits (413 in the problem format, before Django reads the body)."""
import re
import uuid

from django.conf import settings

from contacts_project.errors import problem_response
from contacts_project.logging import set_request_id

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            set_request_id(None)
        response["X-Request-ID"] = request_id
        return response


def body_limit(path: str) -> int:
    if path.startswith(settings.UPLOAD_BODY_PATHS):
        return settings.MAX_UPLOAD_BODY
    if path.startswith(settings.BULK_BODY_PATHS):
        return settings.MAX_BULK_BODY
    return settings.MAX_JSON_BODY


DRAIN_LIMIT = 64 * 1024 * 1024


def _drain(request, length: int) -> None:
    """Read and drop a moderately oversized body so the client, still sending, receives the 413
    instead of a connection reset. Beyond DRAIN_LIMIT the connection is simply closed."""
    if length > DRAIN_LIMIT:
        return
    stream = request.META.get("wsgi.input")
    remaining = length
    while stream is not None and remaining > 0:
        chunk = stream.read(min(remaining, 256 * 1024))
        if not chunk:
            break
        remaining -= len(chunk)


class BodySizeLimitMiddleware:
    """JSON bodies up to 2 MiB, bulk endpoints up to 16 MiB, uploads up to the import limit."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return problem_response(400, "Content-Length is not a number.")
        limit = body_limit(request.path)
        if length > limit:
            _drain(request, length)
            return problem_response(413, f"The body is {length} bytes; this endpoint takes at most {limit}.",
                                    [{"field": "body", "code": "too_large",
                                      "message": f"At most {limit} bytes."}], limit=limit)
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """API responses: nothing to render or frame, nothing for shared caches to keep."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/api/") and not request.path.startswith("/api/v1/docs/"):
            response.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
            response.setdefault("Cache-Control", "private, no-store")
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        return response
