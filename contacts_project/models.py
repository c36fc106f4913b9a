"""Shared tables: idempotency keys for retried POSTs."""
from django.db import models


class IdempotencyKey(models.Model):
    """The first response to a POST sent with an `Idempotency-Key`, kept 24 hours.

    `scope` is a hash of the caller's credentials, so two clients never see each other's responses.
    """

    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of method, path and body")
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=100, blank=True, default="")
    body = models.BinaryField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]
