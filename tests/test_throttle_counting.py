"""The API throttles count in Redis with one INCR per request: exact under concurrency, O(1) per request."""
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import cache
from rest_framework.test import APIRequestFactory

from contacts_project.throttling import IPRateThrottle


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def throttle(rate: str, clock: Clock) -> IPRateThrottle:
    item = IPRateThrottle()
    item.rate = rate
    item.num_requests, item.duration = item.parse_rate(rate)
    item.timer = clock
    return item


def request():
    return APIRequestFactory().get("/", REMOTE_ADDR="203.0.113.9")


def test_concurrent_requests_are_all_counted():
    clock = Clock(1_000_020.0)
    with ThreadPoolExecutor(8) as pool:
        allowed = list(pool.map(lambda _: throttle("50/min", clock).allow_request(request(), None), range(80)))
    assert allowed.count(True) == 50  # a read-modify-write list would let more through
    assert cache.get(f"throttle_ip_203.0.113.9:{int(clock.now // 60)}") == 80  # a counter, not a history


@pytest.mark.parametrize("seconds_into_next, allowed", [(1, False), (45, True)])
def test_the_previous_window_still_counts_for_the_part_of_it_inside_the_last_minute(seconds_into_next, allowed):
    clock = Clock(60 * 20_000 + 30)
    for _ in range(4):
        assert throttle("4/min", clock).allow_request(request(), None)
    clock.now = 60 * 20_001 + seconds_into_next
    item = throttle("4/min", clock)
    assert item.allow_request(request(), None) is allowed
    if not allowed:
        assert 1 <= item.wait() <= 60


def test_with_redis_known_down_the_throttle_fails_open_at_once():
    from contacts_project import cache as app_cache

    clock = Clock(1_000_020.0)
    app_cache._trip(ConnectionError("test: Redis down"))  # the breaker is open, as after a failed call
    try:
        assert all(throttle("1/min", clock).allow_request(request(), None) for _ in range(3))
    finally:
        app_cache.reset_breaker()
    assert cache.get(f"throttle_ip_203.0.113.9:{int(clock.now // 60)}") is None  # Redis was not asked


def test_the_default_scopes_are_counted_in_one_redis_round_trip(monkeypatch):
    from types import SimpleNamespace

    from contacts_project import cache as app_cache
    from contacts_project.throttling import RequestThrottles

    calls = []
    real = app_cache.guarded
    monkeypatch.setattr(app_cache, "guarded", lambda op, fallback: calls.append(op) or real(op, fallback))
    item = RequestThrottles()
    req = request()
    req.user = SimpleNamespace(pk=424242, is_authenticated=True)
    assert item.allow_request(req, None) and item.wait() is None
    assert len(calls) == 1  # user and address scopes together, not one round trip each
    window = int(time.time() // 60)
    assert cache.get(f"throttle_user_424242:{window}") == 1
    assert cache.get(f"throttle_ip_203.0.113.9:{window}") == 1


def test_any_default_scope_over_its_rate_refuses_the_request(monkeypatch):
    from types import SimpleNamespace

    from rest_framework import throttling as drf_throttling

    from contacts_project.throttling import RequestThrottles

    monkeypatch.setattr(drf_throttling.SimpleRateThrottle, "THROTTLE_RATES",
                        {"user": "1000/min", "anon": "1000/min", "ip": "2/min"})
    req = request()
    req.user = SimpleNamespace(pk=434343, is_authenticated=True)
    item = RequestThrottles()
    assert item.allow_request(req, None) and item.allow_request(req, None)
    assert not item.allow_request(req, None)  # the address scope is over; the user scope is not
    assert [t.scope for t in item.exceeded] == ["ip"] and 1 <= item.wait() <= 60
