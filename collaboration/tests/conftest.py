"""Users of each role, teams and API clients (accounts' fixtures), a campaign, a fresh subscription memo."""
from __future__ import annotations

import pytest

from accounts.tests.fixtures import client_for, make_user, teams  # noqa: F401
from collaboration import services


@pytest.fixture(autouse=True)
def _fresh_subscription_memo():
    """Tests create subscriptions straight in the DB too: forget the memoised subscribed event types."""
    services._SUBSCRIBED.update(at=-1e9)
    yield
    services._SUBSCRIBED.update(at=-1e9)


@pytest.fixture
def campaign(db, admin_user):
    from communications.models import MessageTemplate
    from planning.models import Campaign

    template = MessageTemplate.objects.create(name="T", channel="email", subject="Hi", text_body="Hello")
    return Campaign.objects.create(name="Spring", message_template=template, owner=admin_user)
