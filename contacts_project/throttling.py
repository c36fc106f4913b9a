"""Throttles: per user, per client address, on the token endpoint, and on the admin login.

A throttled API request is 429 with Retry-After (see errors.py). Counters live in the Redis cache; if
Redis is down the throttles fail open (requests are served, not refused).

Counting: one Redis round trip per request for all the default scopes together (`RequestThrottles`, a
pipeline): per scope, INCR of the current window's counter and a read of the previous one, weighted by how
much of it still lies within the last `duration` (a sliding-window estimate, so a burst at a window
boundary is not let through twice). DRF's own
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

    def window_keys(self, request, view) -> tuple[str, str, int] | None:
        """(this window's counter, the previous window's, the counter's time to live), or None when this
        throttle does not apply to the request (no rate, or e.g. the anonymous scope for a signed-in user)."""
        if self.rate is None:
            return None
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return None
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends = (window + 1) * self.duration
        return (cache.make_key(f"{self.key}:{window}"), cache.make_key(f"{self.key}:{window - 1}"),
                2 * int(self.duration) + 1)

    def allowed(self, count: int, before: int) -> bool:
        still_inside = 1 - (self.now % self.duration) / self.duration
        return count + before * still_inside <= self.num_requests

    def allow_request(self, request, view) -> bool:
        return count_requests(request, view, [self]) == []

    def wait(self) -> float:
        return max(self.window_ends - self.now, 1.0)


def count_requests(request, view, throttles: list[CountingThrottle]) -> list[CountingThrottle]:
    """Count the request against every applicable throttle in ONE Redis round trip (a pipeline of INCR, EXPIRE
    and GET per scope); return the throttles it exceeds. Redis down: none (fail open)."""
    windows = [(throttle, throttle.window_keys(request, view)) for throttle in throttles]
    windows = [(throttle, keys) for throttle, keys in windows if keys is not None]
    if not windows:
        return []

    def read_counters(client):
        pipe = client.pipeline(transaction=False)
        for _, (counter, previous, ttl) in windows:
            pipe.incr(counter)
            pipe.expire(counter, ttl)
            pipe.get(previous)
        replies = pipe.execute()
        return [(replies[3 * i], int(replies[3 * i + 2] or 0)) for i in range(len(windows))]

    counts = app_cache.guarded(read_counters, fallback=None)
    if counts is None:
        return []  # Redis is down: fail open (the breaker spares the next requests the timeout)
    return [throttle for (throttle, _), (count, before) in zip(windows, counts) if not throttle.allowed(count, before)]


class UserRateThrottle(CountingThrottle, throttling.UserRateThrottle):
    scope = "user"


class AnonRateThrottle(CountingThrottle, throttling.AnonRateThrottle):
    scope = "anon"


class IPRateThrottle(CountingThrottle):
    """Every request, signed in or not, also counts against its client address."""

    scope = "ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class RequestThrottles(throttling.BaseThrottle):
    """The default throttles of every API view — per user (or anonymous client) and per client address —
    counted together: one Redis round trip per request instead of one per scope."""

    scopes: tuple[type[CountingThrottle], ...] = ()  # set below, once the scope classes exist

    def __init__(self):
        self.exceeded: list[CountingThrottle] = []

    def allow_request(self, request, view) -> bool:
        self.exceeded = count_requests(request, view, [scope() for scope in self.scopes])
        return not self.exceeded

    def wait(self) -> float | None:
        return max(throttle.wait() for throttle in self.exceeded) if self.exceeded else None


class TokenObtainThrottle(CountingThrottle, throttling.AnonRateThrottle):
    """Password guessing on the token endpoint: per client address."""

    scope = "token"


RequestThrottles.scopes = (UserRateThrottle, AnonRateThrottle, IPRateThrottle)


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
