"""Throttles: per user, per client address, on the token endpoint, and on the admin login.

A throttled API request is 429 with Retry-After (see errors.py). Counters live in the Redis cache; if
Redis is down the throttles fail open (requests are served, not refused).

Counting: one Redis round trip per throttle per request: INCR of the current window's counter and a read
of the previous one, weighted by how much of it still lies within the last `duration` (a sliding-window
estimate, so a burst at a window boundary is not let through twice). DRF's own
throttles keep a list of request timestamps per client and read, filter and write the whole list back on
every request: at 6,000/min that is thousands of entries serialized twice per request, and two requests
that interleave lose each other's entry.
"""
from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from rest_framework import throttling

from contacts_project import cache as app_cache


class CountingThrottle(throttling.SimpleRateThrottle):
    """Window counters instead of DRF's timestamp history (same rates, same scopes)."""

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends = (window + 1) * self.duration
        counter, previous = cache.make_key(f"{self.key}:{window}"), cache.make_key(f"{self.key}:{window - 1}")

        def read_counters(client):
            pipe = client.pipeline(transaction=False)
            pipe.incr(counter)
            pipe.expire(counter, 2 * int(self.duration) + 1)
            pipe.get(previous)
            current, _, before = pipe.execute()
            return current, int(before or 0)

        counts = app_cache.guarded(read_counters, fallback=None)
        if counts is None:
            return True  # Redis is down: fail open (the breaker spares the next requests the timeout)
        count, before = counts
        still_inside = 1 - (self.now % self.duration) / self.duration
        return count + before * still_inside <= self.num_requests

    def wait(self) -> float:
        return max(self.window_ends - self.now, 1.0)


class UserRateThrottle(CountingThrottle, throttling.UserRateThrottle):
    scope = "user"


class AnonRateThrottle(CountingThrottle, throttling.AnonRateThrottle):
    scope = "anon"


class IPRateThrottle(CountingThrottle):
    """Every request, signed in or not, also counts against its client address."""

    scope = "ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenObtainThrottle(CountingThrottle, throttling.AnonRateThrottle):
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
