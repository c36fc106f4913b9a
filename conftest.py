"""Shared fixtures: real PostgreSQL and Redis (the ones `make test` starts or DATABASE_URL/REDIS_URL name)."""
import uuid

import pytest
from django.core.cache import cache as django_cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from contacts_project import cache

# Tests that take tens of seconds each. Under pytest-xdist (`make test` runs `-n 2 --dist load`) they are handed
# out first, so that no worker starts one just before the others run out of work. xdist hands each worker a first
# chunk of a quarter of its share, so the subprocess-worker tests usually run on one worker, one after another
# (they need not: each worker has its own databases).
LONGEST_FIRST = (
    "planning/tests/test_campaign_worker.py::",
    "communications/tests/test_worker.py::",
    "tests/test_faults.py::",
    "contacts/tests/test_groups.py::test_add_and_remove_take_a_constant_number_of_queries",
    "tests/monitoring/test_metrics.py::test_task_successes_failures_and_retries_from_a_real_worker",
    "tests/test_fuzz.py::",
)


def pytest_collection_modifyitems(config, items):
    if hasattr(config, "workerinput"):  # an xdist worker: every worker collects, and sorts, the same way
        rank = {prefix: i for i, prefix in enumerate(LONGEST_FIRST)}
        items.sort(key=lambda item: next((rank[p] for p in LONGEST_FIRST if item.nodeid.startswith(p)), len(rank)))


def pytest_make_parametrize_id(config, val, argname):
    """A parameter that is a fresh uuid4 (an id that exists nowhere) is named "uuid": xdist workers collect
    separately and must all see the same test ids."""
    if isinstance(val, uuid.UUID):
        return "uuid"
    if isinstance(val, str) and len(val) == 36:
        try:
            uuid.UUID(val)
        except ValueError:
            return None
        return "uuid"
    return None


@pytest.fixture(scope="session", autouse=True)
def _cheap_argon2():
    """The configured hashers, in order, with Argon2 at its lowest cost (tests.hashers)."""
    from django.conf import settings
    from django.test.utils import override_settings

    argon2 = "django.contrib.auth.hashers.Argon2PasswordHasher"
    hashers = ["tests.hashers.CheapArgon2PasswordHasher" if h == argon2 else h for h in settings.PASSWORD_HASHERS]
    with override_settings(PASSWORD_HASHERS=hashers):
        yield


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.reset_breaker()
    django_cache.clear()
    yield


@pytest.fixture(autouse=True)
def _empty_broker():
    """Tasks a test enqueued after commit stay in the real broker; a later test that starts a real worker
    would first have to work through them (timeouts, retries to dead addresses). Each test starts empty."""
    from contacts_project import metrics

    try:
        metrics.purge_queues()  # Redis or RabbitMQ, whichever CELERY_BROKER_URL names
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
