"""A Redis that stops answering (its data kept, as in a network partition) while a contact is written:
the write succeeds, and once Redis answers again the old cached detail is never served."""
import os
import signal

import pytest

from contacts.tests.factories import ContactFactory
from contacts_project import cache as contact_cache
from tests.test_faults import PrivateRedis

pytestmark = pytest.mark.django_db


@pytest.fixture
def paused_redis(tmp_path, settings):
    server = PrivateRedis(tmp_path)
    server.start()
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"],
                                                      "LOCATION": f"redis://127.0.0.1:{server.port}/1"}}
    yield server
    os.kill(server.proc.pid, signal.SIGCONT)
    server.stop()


def test_writes_during_an_outage_are_not_served_stale_afterwards(api, paused_redis,
                                                                 django_capture_on_commit_callbacks):
    contact = ContactFactory(first_name="Ada")
    url = f"/api/v1/contacts/{contact.pk}/"
    assert api.get(url).json()["first_name"] == "Ada"
    assert api.get(url).json()["first_name"] == "Ada"  # from the cache
    os.kill(paused_redis.proc.pid, signal.SIGSTOP)  # Redis stops answering but keeps its data
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert api.patch(url, {"first_name": "Augusta"}, format="json").status_code == 200
        assert api.get(url).json()["first_name"] == "Augusta"  # from PostgreSQL, breaker open
    finally:
        os.kill(paused_redis.proc.pid, signal.SIGCONT)
    contact_cache.reset_breaker()
    response = api.get(url)
    assert response.json()["first_name"] == "Augusta", response.content  # the swallowed invalidation was replayed
    assert not contact_cache._pending
