"""Default throttles; a throttled request is 429 with Retry-After (see errors.py)."""
from rest_framework import throttling


class UserRateThrottle(throttling.UserRateThrottle):
    scope = "user"


class AnonRateThrottle(throttling.AnonRateThrottle):
    scope = "anon"


class TokenObtainThrottle(throttling.AnonRateThrottle):
    """Password guessing on the token endpoint: per client address."""

    scope = "token"
