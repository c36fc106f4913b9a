"""Bulk actions as background jobs — batches all or nothing, audited, cache-invalidating, reported."""
import time

import pytest
from django.apps import apps
from django.db import connection

from contacts.models import BulkAction, Contact, ContactCategory, GroupMembership
from contacts.tests.factories import CategoryFactory, ContactFactory, GroupFactory, OrganizationFactory
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db
URL = "/api/v1/contacts/actions/"


@pytest.fixture
def run(api, celery_eager, django_capture_on_commit_callbacks, settings):
    """POST an action and run its job in-process (commit callbacks enqueue it); returns the job's report."""
    settings.BULK_ACTION_BATCH_SIZE = 2

    def go(body, status=202):
        with django_capture_on_commit_callbacks(execute=True):
            r = api.post(URL, body)
        assert r.status_code == status, r.content
        if status != 202:
            return r
        report = api.get(f"{URL}{r.json()['id']}/")
        assert report.status_code == 200
        return report.json()

    return go


def history_actions(contact):
    Event = apps.get_model("contacts", "ContactEvent")
    return list(Event.objects.filter(pgh_obj_id=contact.pk).order_by("-pgh_id")
                .values_list("pgh_context__metadata__action", flat=True))


def test_add_and_remove_tags_over_ids_in_batches_with_history(api, run):
    contacts = [ContactFactory(tags=["old"]), ContactFactory(tags=["vip"]), ContactFactory(), ContactFactory()]
    api.get(f"/api/v1/contacts/{contacts[0].pk}/")  # warm the cache
    report = run({"action": "add_tags", "params": {"tags": ["VIP", "new"]}, "ids": [str(c.pk) for c in contacts]})
    assert (report["status"], report["total"], report["done"], report["failed"], report["changed"]) == \
        ("done", 4, 4, 0, 4)
    assert report["batches"] == {"total": 2, "applied": 2, "failed": 0}
    assert [b["status"] for b in report["results"]] == ["applied", "applied"]
    assert Contact.objects.get(pk=contacts[0].pk).tags == ["old", "vip", "new"]
    assert Contact.objects.get(pk=contacts[1].pk).tags == ["vip", "new"]
    assert api.get(f"/api/v1/contacts/{contacts[0].pk}/").json()["tags"] == ["old", "vip", "new"]  # invalidated
    assert history_actions(contacts[0])[0] == "contacts.bulk.add_tags"
    report = run({"action": "remove_tags", "params": {"tags": ["vip"]}, "ids": [str(c.pk) for c in contacts]})
    assert report["changed"] == 4
    assert Contact.objects.get(pk=contacts[0].pk).tags == ["old", "new"]


def test_filter_target_set_owner_move_organization_category_and_group(api, run, admin_user):
    org, target_org = OrganizationFactory(), OrganizationFactory()
    inside = ContactFactory.create_batch(3, organization=org)
    outside = ContactFactory()
    flt = {"organization": str(org.pk)}
    assert run({"action": "set_owner", "params": {"owner": admin_user.pk}, "filter": flt})["changed"] == 3
    assert set(Contact.objects.filter(owner=admin_user).values_list("pk", flat=True)) == {c.pk for c in inside}
    category = CategoryFactory()
    assert run({"action": "set_category", "params": {"category": str(category.pk)}, "filter": flt})["changed"] == 3
    assert ContactCategory.objects.filter(category=category).count() == 3
    assert history_actions(inside[0])[0] == "contacts.bulk.set_category"
    group = GroupFactory()
    assert run({"action": "add_to_group", "params": {"group": str(group.pk)},
                "filter": {"q": f"organization:{org.pk}"}})["changed"] == 3
    assert GroupMembership.objects.filter(group=group).count() == 3
    report = run({"action": "move_organization", "params": {"organization": str(target_org.pk)}, "filter": flt})
    assert report["changed"] == 3 and report["total"] == 3
    assert Contact.objects.filter(organization=target_org).count() == 3
    assert Contact.objects.get(pk=outside.pk).owner_id is None


def test_set_status_follows_the_lifecycle_and_reports_the_skipped(run):
    new, active, archived = ContactFactory(status="new"), ContactFactory(status="active"), \
        ContactFactory(status="archived")
    report = run({"action": "set_status", "params": {"status": "inactive", "reason": "cleanup"},
                  "ids": [str(new.pk), str(active.pk), str(archived.pk)]})
    assert (report["changed"], report["failed"], report["done"]) == (2, 1, 2)
    skipped = [b for b in report["results"] if b.get("skipped")]
    assert skipped[0]["skipped_ids"] == [str(archived.pk)]
    assert "archived" in skipped[0]["skipped_reason"]
    assert Contact.objects.get(pk=archived.pk).status == "archived"  # not silently changed
    assert Contact.objects.get(pk=new.pk).status == "inactive"


def test_a_failing_batch_is_rolled_back_whole_and_reported(run):
    contacts = sorted(ContactFactory.create_batch(4, tags=[]), key=lambda c: c.pk)
    poisoned = contacts[3]  # ids are processed in id order: the second batch holds it
    with connection.cursor() as cursor:
        cursor.execute(f"""CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.id = '{poisoned.pk}' THEN RAISE EXCEPTION 'refused by test'; END IF; RETURN NEW; END $$;
            CREATE TRIGGER test_refuse BEFORE UPDATE ON contacts_contact FOR EACH ROW EXECUTE FUNCTION test_refuse();
            """)
    report = run({"action": "add_tags", "params": {"tags": ["x"]}, "ids": [str(c.pk) for c in contacts]})
    assert report["status"] == "done"
    assert [b["status"] for b in report["results"]] == ["applied", "failed"]
    assert "refused by test" in report["results"][1]["error"]
    assert (report["done"], report["failed"], report["changed"]) == (2, 2, 2)
    tags = {c.pk: Contact.objects.get(pk=c.pk).tags for c in contacts}
    assert [tags[c.pk] for c in contacts] == [["x"], ["x"], [], []]  # the second batch is untouched, all of it
    assert "1 of 2 batches failed" in report["error"]


def test_over_the_threshold_needs_confirm(api, run, settings):
    settings.BULK_ACTION_CONFIRM_THRESHOLD = 2
    ContactFactory.create_batch(3, status="new")
    body = {"action": "set_status", "params": {"status": "active"}, "filter": {"status": "new"}}
    assert_problem(run(body, status=400), 400, "confirm", "confirmation_required")
    assert not BulkAction.objects.exists()
    assert run({**body, "confirm": True})["changed"] == 3


def test_bad_input_is_a_400_naming_the_field(api):
    contact = ContactFactory()
    cases = [
        ({"action": "explode", "ids": [str(contact.pk)]}, "action"),
        ({"action": "add_tags", "params": {"tags": []}, "ids": [str(contact.pk)]}, "params.tags"),
        ({"action": "add_tags", "params": {"tags": ["a"], "color": 1}, "ids": [str(contact.pk)]}, "params.color"),
        ({"action": "set_status", "params": {"status": "gone"}, "ids": [str(contact.pk)]}, "params.status"),
        ({"action": "set_owner", "params": {"owner": 999999}, "ids": [str(contact.pk)]}, "params.owner"),
        ({"action": "set_category", "params": {"category": "nope"}, "ids": [str(contact.pk)]}, "params.category"),
        ({"action": "add_to_group", "params": {}, "ids": [str(contact.pk)]}, "params.group"),
        ({"action": "add_tags", "params": {"tags": ["a"]}}, "filter"),
        ({"action": "add_tags", "params": {"tags": ["a"]}, "ids": [str(contact.pk)], "filter": {}}, "filter"),
        ({"action": "add_tags", "params": {"tags": ["a"]}, "ids": ["00000000-0000-0000-0000-000000000000"]}, "ids"),
        ({"action": "add_tags", "params": {"tags": ["a"]}, "filter": {"colour": "red"}}, "filter.colour"),
        ({"action": "add_tags", "params": {"tags": ["a"]}, "filter": {"q": "status:active AND"}}, "filter.q"),
        ({"action": "add_tags", "params": {"tags": ["a"]}, "ids": [str(contact.pk)], "extra": 1}, "extra"),
    ]
    for body, field in cases:
        assert_problem(api.post(URL, body), 400, field)
    assert not BulkAction.objects.exists()
    assert api.get(f"{URL}00000000-0000-0000-0000-000000000000/").status_code == 404


def test_job_list_is_paginated_with_pinned_queries(api, run, django_assert_max_num_queries):
    contact = ContactFactory()
    for _ in range(3):
        run({"action": "add_tags", "params": {"tags": ["a"]}, "ids": [str(contact.pk)]})
    with django_assert_max_num_queries(2):
        r = api.get(URL)
    assert len(r.json()["results"]) == 3
    with django_assert_max_num_queries(2):
        api.get(f"{URL}{r.json()['results'][0]['id']}/")


def test_a_rerun_of_a_finished_job_changes_nothing(run):
    from contacts.bulk import run_action

    contact = ContactFactory()
    report = run({"action": "add_tags", "params": {"tags": ["once"]}, "ids": [str(contact.pk)]})
    assert run_action(report["id"]) == "not claimed"
    BulkAction.objects.filter(pk=report["id"]).update(status="pending")  # as if re-delivered mid-run
    run_action(report["id"])
    job = BulkAction.objects.get(pk=report["id"])
    assert len(job.batches) == 1 and job.changed == 1


@pytest.mark.django_db(transaction=True)
def test_the_job_runs_on_a_real_celery_worker_on_the_bulk_queue(api):
    from celery.contrib.testing.worker import start_worker

    from contacts_project.celery import app

    contacts = ContactFactory.create_batch(3)
    with start_worker(app, queues=["bulk"], perform_ping_check=False, pool="solo", shutdown_timeout=30):
        r = api.post(URL, {"action": "add_tags", "params": {"tags": ["worker"]},
                           "ids": [str(c.pk) for c in contacts]})
        assert r.status_code == 202, r.content
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            report = api.get(f"{URL}{r.json()['id']}/").json()
            if report["status"] == "done":
                break
            time.sleep(0.2)
    assert report["status"] == "done" and report["changed"] == 3
    assert all(Contact.objects.get(pk=c.pk).tags == ["worker"] for c in contacts)
