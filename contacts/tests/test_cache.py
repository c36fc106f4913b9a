"""Contact detail is cache-aside in Redis (versioned keys, invalidated after commit); no Redis: slower, not failing."""
import copy
import socket
import time

import pytest
from django.conf import settings
from django.test import override_settings

from contacts import selectors
from contacts.tests.factories import ContactFactory, GroupFactory
from contacts_project import cache
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db


def detail(contact) -> str:
    return f"/api/v1/contacts/{contact.pk}/"


def test_second_get_is_served_from_redis(api, django_assert_num_queries):
    contact = ContactFactory(first_name="Cached")
    cache.reset_stats()
    first = api.get(detail(contact))
    assert cache.stats["misses"] == 1
    with django_assert_num_queries(1):  # only the token lookup; the contact comes from Redis
        second = api.get(detail(contact))
    assert second.json() == first.json()
    assert cache.stats["hits"] == 1


@pytest.mark.django_db(transaction=True)
def test_patch_invalidates_after_commit(api):
    """Real commits (no test transaction): the invalidation runs in on_commit."""
    contact = ContactFactory(first_name="Before")
    assert api.get(detail(contact)).json()["first_name"] == "Before"
    assert api.patch(detail(contact), {"first_name": "After"}).status_code == 200
    assert api.get(detail(contact)).json()["first_name"] == "After"
    assert api.put(detail(contact), {"first_name": "Put"}).status_code == 200
    assert api.get(detail(contact)).json()["first_name"] == "Put"


def test_invalidation_waits_for_the_commit(api, django_capture_on_commit_callbacks):
    contact = ContactFactory(first_name="Before")
    api.get(detail(contact))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        api.patch(detail(contact), {"first_name": "After"})
    assert callbacks  # scheduled for after the commit, not run inside the transaction
    assert api.get(detail(contact)).json()["first_name"] == "Before"  # the transaction has not committed yet
    for callback in callbacks:
        callback()
    assert api.get(detail(contact)).json()["first_name"] == "After"


def test_status_groups_and_delete_invalidate(api, django_capture_on_commit_callbacks):
    contact = ContactFactory()
    group = GroupFactory()
    assert api.get(detail(contact)).json()["groups"] == []
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/v1/groups/{group.pk}/contacts/", {"contact_ids": [str(contact.pk)]})
    assert api.get(detail(contact)).json()["groups"] == [str(group.pk)]
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"{detail(contact)}status/", {"status": "active"})
    assert api.get(detail(contact)).json()["status"] == "active"
    with django_capture_on_commit_callbacks(execute=True):
        api.delete(f"/api/v1/groups/{group.pk}/")
    assert api.get(detail(contact)).json()["groups"] == []
    with django_capture_on_commit_callbacks(execute=True):
        api.delete(detail(contact))
    assert_problem(api.get(detail(contact)), 404)


def test_a_rolled_back_write_leaves_the_cache_alone(api):
    contact = ContactFactory(status="archived", job_title="kept")
    api.get(detail(contact))
    assert api.patch(detail(contact), {"status": "inactive", "job_title": "lost"}).status_code == 409
    assert api.get(detail(contact)).json()["job_title"] == "kept"


def test_a_stale_build_lands_under_an_old_version():
    """A reader that built the value before a write committed cannot put the old row back."""
    contact = ContactFactory(first_name="Old")
    base = cache.contact_detail_key(contact.pk)
    stale = selectors.contact_to_dict(contact)

    def slow_build():
        cache.invalidate(base)  # a write commits while this reader is still building
        return stale

    assert cache.get_or_build(base, slow_build, 60)["first_name"] == "Old"
    # the writer's row (its invalidation already ran inside slow_build, as its on_commit would)
    type(contact).objects.filter(pk=contact.pk).update(first_name="New")
    assert selectors.contact_get_details(contact_id=contact.pk)["first_name"] == "New"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_down():
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["LOCATION"] = f"redis://127.0.0.1:{_free_port()}/1"
    with override_settings(CACHES=caches):
        cache.reset_breaker()
        yield
    cache.reset_breaker()


def test_without_redis_every_request_is_still_served(api, redis_down):
    cache.reset_stats()
    r = api.post("/api/v1/contacts/", {"first_name": "NoRedis", "email": "nr@example.com"})
    assert r.status_code == 201, r.content
    cid = r.json()["id"]
    for _ in range(3):
        assert api.get(f"/api/v1/contacts/{cid}/").json()["first_name"] == "NoRedis"
    assert api.patch(f"/api/v1/contacts/{cid}/", {"first_name": "Still"}).status_code == 200
    assert api.get(f"/api/v1/contacts/{cid}/").json()["first_name"] == "Still"
    assert api.post(f"/api/v1/contacts/{cid}/status/", {"status": "active"}).status_code == 200
    assert api.get("/api/v1/contacts/").status_code == 200
    assert api.get("/api/v1/reports/contacts/").status_code == 200
    assert api.delete(f"/api/v1/contacts/{cid}/").status_code == 204
    assert_problem(api.get(f"/api/v1/contacts/{cid}/"), 404)
    assert cache.stats["errors"] >= 1 and cache.stats["hits"] == 0
    # the breaker: after the first failure the cache is skipped instead of waiting on each call
    assert not cache.available()


def test_invalidate_without_redis_does_not_raise(redis_down):
    cache.invalidate(cache.contact_detail_key("x"))
    cache.invalidate()  # nothing to do
    assert cache.stats["errors"] >= 1


def test_key_builders():
    assert cache.key("a", 1) == f"v{cache.SCHEMA_VERSION}:a:1"
    assert cache.contact_detail_key("abc").endswith(":contact:abc")


def test_a_hit_is_one_redis_round_trip_and_a_miss_two(monkeypatch):
    cache.get_or_build(cache.key("test-round-trips", "warm"), dict, 60)  # the script is known to Redis
    client = cache.redis_client()
    calls = []
    real = type(client).execute_command
    monkeypatch.setattr(type(client), "execute_command",
                        lambda self, *args, **options: calls.append(args[0]) or real(self, *args, **options))
    base = cache.key("test-round-trips", time.time_ns())
    assert cache.get_or_build(base, lambda: {"n": 1}, 60) == {"n": 1}
    assert len(calls) == 2  # the version and data read (one script), then the SET of the built value
    calls.clear()
    assert cache.get_or_build(base, lambda: {"n": 2}, 60) == {"n": 1}
    assert len(calls) == 1
    cache.invalidate(base)
    assert cache.get_or_build(base, lambda: {"n": 3}, 60) == {"n": 3}  # a new version is a miss again
