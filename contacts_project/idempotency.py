"""`Idempotency-Key` on POST: the same key and body within 24 h returns the first response and does
nothing again; the same key with another body is 422; a request still running with that key is 409.

Stored in PostgreSQL (not Redis) so a Redis outage cannot turn a retry into a second write. The key is
scoped to the caller's credentials (a hash of the Authorization header or the session cookie).
"""
from __future__ import annotations

import datetime as dt
import hashlib

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone

from contacts_project.errors import problem_response

HEADER = "HTTP_IDEMPOTENCY_KEY"
TTL = dt.timedelta(hours=24)
PENDING_LEASE = dt.timedelta(minutes=2)  # a request that died mid-way frees its key after this
EXEMPT_PATHS = ("/api/v1/auth/token/",)
MAX_FINGERPRINT_BODY = 16 * 1024 * 1024  # larger bodies (file uploads) are deduplicated by their own job logic


def _scope(request) -> str:
    credential = request.META.get("HTTP_AUTHORIZATION") or request.COOKIES.get("sessionid") or \
        request.META.get("REMOTE_ADDR", "")
    return hashlib.sha256(credential.encode()).hexdigest()


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.META.get(HEADER)
        if request.method != "POST" or not key or not request.path.startswith("/api/") \
                or request.path.startswith(EXEMPT_PATHS) \
                or int(request.META.get("CONTENT_LENGTH") or 0) > MAX_FINGERPRINT_BODY:
            return self.get_response(request)
        from contacts_project.models import IdempotencyKey

        if len(key) > 255:
            return problem_response(400, "Idempotency-Key is at most 255 characters.",
                                    [{"field": "Idempotency-Key", "code": "max_length", "message": "Too long."}])
        scope = _scope(request)
        fingerprint = hashlib.sha256(b"\0".join([request.method.encode(), request.path.encode(),
                                                 request.body])).hexdigest()
        now = timezone.now()
        IdempotencyKey.objects.filter(scope=scope, key=key, created_at__lt=now - TTL).delete()
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(scope=scope, key=key, fingerprint=fingerprint)
        except IntegrityError:
            existing = IdempotencyKey.objects.filter(scope=scope, key=key).first()
            if existing is None:  # expired and purged between the two statements
                return self.get_response(request)
            if existing.fingerprint != fingerprint:
                return problem_response(422, "This Idempotency-Key was used with another request body.",
                                        [{"field": "Idempotency-Key", "code": "reused",
                                          "message": "Use a new key for a different request."}])
            if existing.status_code is None:
                if existing.created_at > now - PENDING_LEASE:
                    return problem_response(409, "A request with this Idempotency-Key is still being processed.",
                                            headers={"Retry-After": "1"})
                existing.delete()  # abandoned by a process that died; this request takes it over
                return self(request)
            replay = HttpResponse(bytes(existing.body or b""), status=existing.status_code,
                                  content_type=existing.content_type or None)
            replay["Idempotent-Replayed"] = "true"
            return replay
        response = self.get_response(request)
        if response.status_code >= 500 or getattr(response, "streaming", False):
            record.delete()  # a failure may be retried with the same key
        else:
            record.status_code = response.status_code
            record.content_type = response.get("Content-Type", "")
            record.body = response.content
            record.save(update_fields=["status_code", "content_type", "body"])
        return response


def purge_expired() -> int:
    from contacts_project.models import IdempotencyKey

    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - TTL).delete()
    return deleted
