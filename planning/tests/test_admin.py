import pytest

from contacts.tests.factories import ContactFactory
from planning.models import ContactList, Segment, Task

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize("model", ["contactlist", "segment", "task", "campaign", "priorityrule"])
def test_changelists_render(staff, model):
    ContactList.objects.create(name="L")
    Segment.objects.create(name="S", rules={"tag": "vip"}, materialized=True)
    from django.utils import timezone

    Task.objects.create(contact=ContactFactory(), title="Call", due_at=timezone.now())
    assert staff.get(f"/admin/planning/{model}/").status_code == 200


def test_segment_refresh_action(staff):
    ContactFactory(tags=["vip"])
    segment = Segment.objects.create(name="S", rules={"tag": "vip"}, materialized=True)
    response = staff.post("/admin/planning/segment/", {"action": "refresh_now", "_selected_action": [segment.pk]})
    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.member_count == 1


def test_campaign_admin_shows_progress_and_stats_and_actions(staff):
    from communications.tests.factories import MessageTemplateFactory
    from planning.models import Campaign

    campaign = Campaign.objects.create(name="C", purpose="marketing",
                                       message_template=MessageTemplateFactory(purpose="marketing"))
    assert staff.get("/admin/planning/campaign/").status_code == 200
    assert b"recipients: 0" in staff.get(f"/admin/planning/campaign/{campaign.pk}/change/").content
    staff.post("/admin/planning/campaign/", {"action": "pause", "_selected_action": [campaign.pk]})
    staff.post("/admin/planning/campaign/", {"action": "cancel", "_selected_action": [campaign.pk]})
    campaign.refresh_from_db()
    assert campaign.status == "cancelled"
