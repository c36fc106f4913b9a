"""Named API tokens (`Authorization: Token ctk_…`), stored as SHA-256 digests; they carry their user's rights.

The login token of `POST /api/v1/auth/token/` (DRF's authtoken) keeps working beside them: keys without
the `ctk_` prefix fall through to DRF's TokenAuthentication.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from contacts_project.login_tokens import login_token_credentials

from .models import ApiToken

KEY_PREFIX = "ctk_"
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)  # at most one UPDATE per token per minute


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class ApiTokenAuthentication(TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key):
        if not key.startswith(KEY_PREFIX):
            return login_token_credentials(key)  # DRF's lookup without compiling it anew per request
        # the lookup is by digest of the whole key (unique index): no timing signal about the secret
        token = ApiToken.objects.select_related("user").filter(digest=digest(key)).first()
        now = timezone.now()
        if token is None or (token.expires_at is not None and token.expires_at <= now):
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token
