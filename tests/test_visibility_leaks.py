"""Each place where another team's contact (or a row hanging on it) used to show or change: now 404/400/403."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from communications.models import Communication, CommunicationStatusEvent, ContactPreference
from communications.tests.factories import MessageTemplateFactory
from contacts import bulk
from contacts.models import BulkAction, Contact, ContactShare
from contacts.tests.factories import ContactFactory
from contacts_project import cache, events
from contacts_project.errors import InvalidInput
from dataquality.models import ImportJob
from dataquality.tasks import import_run_task
from organization.models import Organization
from planning import campaigns
from planning import services as planning_services
from planning.models import (
    Campaign,
    CampaignRecipient,
    ContactList,
    ListJob,
    ListMembership,
    Segment,
    SegmentChange,
)
from planning.tasks import run_list_job
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_user, client_for, teams):
    red, blue = teams
    member = make_user("red-member", "member", teams=[red])
    outsider = make_user("blue-member", "member", teams=[blue])
    own = ContactFactory(team=red, first_name="Own", email="own@red.example", tags=["vip"])
    other = ContactFactory(team=blue, first_name="Other", email="other@blue.example", tags=["vip", "secret"],
                           reports_to=own)
    return {"red": red, "blue": blue, "member": member, "outsider": outsider, "own": own, "other": other,
            "client": client_for(member), "outsider_client": client_for(outsider)}


def _comm(contact, **extra):
    return Communication.objects.create(contact=contact, type="call", direction="outbound", status="sent",
                                        content="called", **extra)


def test_communications_of_another_teams_contact_are_not_found(world):
    client, comm = world["client"], _comm(world["other"])
    CommunicationStatusEvent.objects.create(communication=comm, from_status="", to_status="sent", source="api")
    url = f"/api/v1/communications/{comm.pk}/"
    assert_problem(client.get(f"{url}events/"), 404)
    assert_problem(client.patch(url, {"content": "mine now"}, format="json"), 404)
    assert_problem(client.post(f"{url}status/", {"status": "replied"}, format="json"), 404)
    assert_problem(client.delete(url), 404)
    assert Communication.objects.filter(pk=comm.pk, content="called").exists()
    created = client.post("/api/v1/communications/", {"contact": str(world["other"].pk), "type": "call",
                                                      "content": "logged on theirs"}, format="json")
    assert_problem(created, 400, "contact", "does_not_exist")
    assert not Communication.objects.filter(content="logged on theirs").exists()
    # the own team's contact still works
    mine = client.post("/api/v1/communications/", {"contact": str(world["own"].pk), "type": "call",
                                                   "content": "ok"}, format="json")
    assert mine.status_code == 201, mine.content
    assert client.get(f"/api/v1/communications/{mine.json()['id']}/events/").status_code == 200


def test_communications_of_a_read_only_shared_contact_are_403_to_change(world, make_user, client_for):
    reader = make_user("reader", "member")
    ContactShare.objects.create(contact=world["other"], user=reader)
    client, comm = client_for(reader), _comm(world["other"])
    assert client.get(f"/api/v1/communications/{comm.pk}/events/").status_code == 200
    assert_problem(client.patch(f"/api/v1/communications/{comm.pk}/", {"content": "x"}, format="json"), 403)
    assert_problem(client.delete(f"/api/v1/communications/{comm.pk}/"), 403)
    assert_problem(client.post("/api/v1/communications/", {"contact": str(world["other"].pk), "type": "call",
                                                           "content": "x"}, format="json"), 403)


def test_message_template_preview_never_renders_an_unseen_contact(world):
    template = MessageTemplateFactory(subject="Hi {{ contact.first_name }}")
    url = f"/api/v1/message-templates/{template.pk}/preview/"
    response = world["client"].post(url, {"contact": str(world["other"].pk)}, format="json")
    body = assert_problem(response, 400, "contact", "does_not_exist")
    assert "other@blue.example" not in str(body) and "Other" not in str(body)
    assert world["client"].post(url, {"contact": str(world["own"].pk)}, format="json").json()["subject"] == "Hi Own"


def test_reports_of_a_contact_list_only_visible_ones(world):
    body = world["client"].get(f"/api/v1/contacts/{world['own'].pk}/reports/").json()
    assert body["results"] == [] and body["direct"] == 0
    assert_problem(world["client"].get(f"/api/v1/contacts/{world['other'].pk}/reports/"), 404)
    seen = world["outsider_client"].get(f"/api/v1/contacts/{world['other'].pk}/reports/")
    assert seen.status_code == 200


def test_segment_changes_list_only_visible_contacts(world):
    segment = Segment.objects.create(name="All", rules={"field": "status", "op": "eq", "value": "new"})
    SegmentChange.objects.bulk_create([SegmentChange(segment=segment, contact_id=c.pk, joined=True)
                                       for c in (world["own"], world["other"])])
    rows = world["client"].get(f"/api/v1/segments/{segment.pk}/changes/").json()["results"]
    assert [r["contact_id"] for r in rows] == [str(world["own"].pk)]


def test_tags_count_and_merge_only_over_visible_editable_contacts(world):
    tags = {r["tag"]: r["count"] for r in world["client"].get("/api/v1/tags/").json()["results"]}
    assert tags == {"vip": 1}
    merged = world["client"].post("/api/v1/tags/merge/", {"sources": ["vip"], "target": "gold"}, format="json")
    assert merged.status_code == 200 and merged.json()["contacts"] == 1
    assert Contact.objects.get(pk=world["other"].pk).tags == ["vip", "secret"]
    assert Contact.objects.get(pk=world["own"].pk).tags == ["gold"]


def test_imports_are_visible_to_their_creator_and_admins_only(world, admin_user, client_for, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    upload = SimpleUploadedFile("c.csv", b"First Name,Email\nAda,not-an-email\n", content_type="text/csv")
    created = world["outsider_client"].post("/api/v1/contacts/imports/", {"file": upload, "dry_run": "true"},
                                            format="multipart")
    assert created.status_code == 201, created.content
    job = created.json()["id"]
    client = world["client"]
    assert client.get("/api/v1/contacts/imports/").json()["results"] == []
    for path in ("", "errors/"):
        assert_problem(client.get(f"/api/v1/contacts/imports/{job}/{path}"), 404)
    assert_problem(client.post(f"/api/v1/contacts/imports/{job}/commit/", {}, format="json"), 404)
    assert_problem(client.post(f"/api/v1/contacts/imports/{job}/undo/", {}, format="json"), 404)
    assert ImportJob.objects.get(pk=job).status == "preview"
    assert world["outsider_client"].get(f"/api/v1/contacts/imports/{job}/").status_code == 200
    assert client_for(admin_user).get(f"/api/v1/contacts/imports/{job}/").status_code == 200


def test_campaign_recipients_and_audience_are_limited_to_what_is_visible(world):
    contact_list = ContactList.objects.create(name="Both")
    ListMembership.objects.bulk_create([ListMembership(contact_list=contact_list, contact=c)
                                        for c in (world["own"], world["other"])])
    for contact in (world["own"], world["other"]):
        ContactPreference.objects.create(contact=contact, channel="email", purpose="marketing",
                                         status="opted_in", source="test")
    template = MessageTemplateFactory(purpose="marketing")
    campaign = Campaign.objects.create(name="News", purpose="marketing", message_template=template,
                                       owner=world["member"], status="running", started_at=timezone.now())
    campaign.include_lists.set([contact_list])
    campaigns._materialize(campaign)  # what the start job does, for the owner's scope at run time
    rows = dict(CampaignRecipient.objects.filter(campaign=campaign).values_list("contact_id", "skip_reason"))
    assert rows == {world["own"].pk: "", world["other"].pk: "not_visible"}
    stats = world["client"].get(f"/api/v1/campaigns/{campaign.pk}/stats/").json()
    assert stats["skipped_by_reason"] == {"not_visible": 1}
    listed = world["client"].get(f"/api/v1/campaigns/{campaign.pk}/recipients/").json()["results"]
    assert [r["contact"] for r in listed] == [str(world["own"].pk)]


def test_bulk_action_applies_the_scope_when_it_runs(world):
    # queued while the other team's contact was shared for editing; the share is gone when the batch runs
    late = BulkAction.objects.create(action="add_tags", params={"tags": ["late"]}, created_by=world["member"],
                                     contact_ids=[world["own"].pk, world["other"].pk], total=2)
    bulk.run_action(str(late.pk))
    late.refresh_from_db()
    assert late.failed == 1 and late.batches[0]["skipped_reason"] == "not_editable"
    assert "late" not in Contact.objects.get(pk=world["other"].pk).tags
    assert "late" in Contact.objects.get(pk=world["own"].pk).tags


def test_cascading_organization_delete_acts_only_on_editable_contacts(world, make_user, client_for,
                                                                      django_capture_on_commit_callbacks):
    org = Organization.objects.create(name="Acme")
    Contact.objects.filter(pk__in=[world["own"].pk, world["other"].pk]).update(organization=org)
    manager = client_for(make_user("red-manager", "manager", teams=[world["red"]], team_role="manager"))
    refused = manager.delete(f"/api/v1/organizations/{org.pk}/?cascade=true")
    body = assert_problem(refused, 409)
    assert body["not_editable"] == 1
    assert Contact.objects.filter(organization=org).count() == 2 and Organization.objects.filter(pk=org.pk).exists()
    # when every contact is theirs: each is deleted through the contact delete service (event, cache)
    Contact.objects.filter(pk=world["other"].pk).update(team=world["red"])
    for contact in (world["own"], world["other"]):
        cache.get_or_build(cache.contact_detail_key(contact.pk), lambda: {"stale": True}, 60)
    seen = []

    def subscriber(event, payload):
        seen.append((event, payload["id"]))

    events.subscribe(subscriber)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            done = manager.delete(f"/api/v1/organizations/{org.pk}/?cascade=true")
    finally:
        events.SUBSCRIBERS.remove(subscriber)
    assert done.status_code == 204, done.content
    assert not Contact.objects.filter(pk__in=[world["own"].pk, world["other"].pk]).exists()
    assert sorted(e for e in seen if e[0] == "contact.deleted") == sorted(
        [("contact.deleted", str(world["own"].pk)), ("contact.deleted", str(world["other"].pk))])
    for contact in (world["own"], world["other"]):
        assert cache.get_or_build(cache.contact_detail_key(contact.pk), lambda: "rebuilt", 60) == "rebuilt"


def test_list_membership_changes_apply_the_actors_scope_when_they_run(world):
    contact_list = ContactList.objects.create(name="Mine")
    job = ListJob.objects.create(contact_list=contact_list, add=True, actor=world["member"],
                                 params={"filter": {"tag": "vip"}})
    run_list_job(str(job.pk))  # the job reads the member's scope when it runs
    members = set(ListMembership.objects.filter(contact_list=contact_list).values_list("contact_id", flat=True))
    assert members == {world["own"].pk}
    with pytest.raises(InvalidInput) as refused:
        planning_services.list_change_members(list_id=contact_list.pk, add=True,
                                              contact_ids=[str(world["other"].pk)], actor=world["member"])
    assert refused.value.errors[0].code == "does_not_exist"


def test_an_import_updates_only_duplicates_its_creator_may_change(world, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    upload = SimpleUploadedFile("c.csv", b"First Name,Email\nHijacked,own@red.example\n", content_type="text/csv")
    created = world["outsider_client"].post("/api/v1/contacts/imports/", {
        "file": upload, "dry_run": "true", "on_duplicate": "update"}, format="multipart")
    assert created.status_code == 201, created.content
    job = created.json()["id"]
    assert world["outsider_client"].post(f"/api/v1/contacts/imports/{job}/commit/", {},
                                         format="json").status_code == 202
    import_run_task(job)  # what the worker does, with the creator's scope read when it runs
    assert Contact.objects.get(pk=world["own"].pk).first_name == "Own"
    assert ImportJob.objects.get(pk=job).skipped == 1
