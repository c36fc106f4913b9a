"""Shared fixtures: real PostgreSQL and Redis (the ones `make test` starts or DATABASE_URL/REDIS_URL name)."""
import pytest
from django.core.cache import cache as django_cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from contacts_project import cache


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.reset_breaker()
    django_cache.clear()
    yield


@pytest.fixture(autouse=True)
def _empty_broker():
    """Tasks a test enqueued after commit stay in the real broker; a later test that starts a real worker
    would first have to work through them (timeouts, retries to dead addresses). Each test starts empty."""
    from contacts_project.celery import app

    try:
        with app.connection_for_write() as conn:
            client = conn.default_channel.client
            client.delete("send", "default", "bulk", "unacked", "unacked_index", "unacked_mutex")
    except Exception:  # noqa: BLE001 - a test that stopped Redis on purpose restarts it itself
        pass
    yield


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("admin", "admin@example.com", "pw-admin-123456")


@pytest.fixture
def api(admin_user):
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=admin_user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    client.user = admin_user
    return client


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def celery_eager(settings):
    """Run tasks in-process for tests about a job's outcome (tests about delivery use a real worker)."""
    from contacts_project.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False
