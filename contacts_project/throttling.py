"""Throttles: per user, per client address, on the token endpoint, and on the admin login.

A throttled API request is 429 with Retry-After (see errors.py). Counters live in the Redis cache; if
Redis is down the throttles fail open (requests are served, not refused).
"""
from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from rest_framework import throttling


class UserRateThrottle(throttling.UserRateThrottle):
    scope = "user"


class AnonRateThrottle(throttling.AnonRateThrottle):
    scope = "anon"


class IPRateThrottle(throttling.SimpleRateThrottle):
    """Every request, signed in or not, also counts against its client address."""

    scope = "ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenObtainThrottle(throttling.AnonRateThrottle):
    """Password guessing on the token endpoint: per client address."""

    scope = "token"


class AdminLoginThrottleMiddleware:
    """After ADMIN_LOGIN_MAX_FAILURES failed admin logins from one address (or for one username) within
    ADMIN_LOGIN_WINDOW seconds, further attempts get 429 until the window passes."""

    path = "/admin/login/"

    def __init__(self, get_response):
        self.get_response = get_response

    def _keys(self, request) -> list[str]:
        address = request.META.get("REMOTE_ADDR", "")
        username = (request.POST.get("username") or "").lower()[:150]
        return [f"admin-login:ip:{address}", f"admin-login:user:{username}"]

    def __call__(self, request):
        if request.method != "POST" or request.path != self.path:
            return self.get_response(request)
        keys = self._keys(request)
        limit, window = settings.ADMIN_LOGIN_MAX_FAILURES, settings.ADMIN_LOGIN_WINDOW
        counts = cache.get_many(keys)
        if any((counts.get(key) or 0) >= limit for key in keys):
            response = HttpResponse("Too many failed sign-in attempts; try again later.", status=429,
                                    content_type="text/plain")
            response["Retry-After"] = str(window)
            return response
        response = self.get_response(request)
        if response.status_code == 200:  # the form came back: the credentials were wrong
            for key in keys:
                if cache.add(key, 1, window) is False:
                    try:
                        cache.incr(key)
                    except ValueError:
                        cache.set(key, 1, window)
        elif response.status_code in (301, 302):
            cache.delete_many(keys)
        return response
