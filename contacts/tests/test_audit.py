"""Audit: every write through the API, the admin or a service is recorded with actor, time and before/after."""
import datetime as dt

import pytest
from django.apps import apps
from django.utils import timezone

from contacts import selectors, services
from contacts.models import Contact, ContactGroup
from contacts.tests.factories import ContactFactory, ContactTypeFactory, GroupFactory, OrganizationFactory
from contacts_project.errors import NotFound
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db


def events(model_label: str, **filters):
    return list(apps.get_model(model_label).objects.filter(**filters).select_related("pgh_context").order_by("pgh_id"))


def meta(event) -> dict:
    return event.pgh_context.metadata if event.pgh_context_id else {}


def history(api, contact_id, **params) -> dict:
    response = api.get(f"/api/v1/contacts/{contact_id}/history/", params)
    assert response.status_code == 200, response.content
    return response.json()


# --------------------------------------------------------------------------- API
def test_api_create_update_delete_are_in_the_history(api, admin_user):
    # pghistory stamps events with the transaction's time; the test runs in one transaction begun just before
    start = timezone.now() - dt.timedelta(minutes=1)
    cid = api.post("/api/v1/contacts/", {"first_name": "Ada", "email": "ada@example.com"}).json()["id"]
    api.patch(f"/api/v1/contacts/{cid}/", {"first_name": "Augusta", "job_title": "Countess"})
    api.put(f"/api/v1/contacts/{cid}/", {"first_name": "Augusta", "email": "ada@example.com"})
    rows = history(api, cid)["results"]
    assert [r["action"] for r in rows] == ["contact.replace", "contact.update", "contact.create"]
    replace, update, create = rows
    for row in rows:
        assert row["actor"] == {"id": admin_user.pk, "username": "admin"}
        assert dt.datetime.fromisoformat(row["at"]) >= start
    assert create["event"] == "created"
    assert create["changes"]["first_name"] == {"before": None, "after": "Ada"}
    assert create["changes"]["email"] == {"before": None, "after": "ada@example.com"}
    assert update["changes"] == {"first_name": {"before": "Ada", "after": "Augusta"},
                                 "job_title": {"before": "", "after": "Countess"}}
    assert replace["changes"] == {"job_title": {"before": "Countess", "after": ""}}

    assert api.delete(f"/api/v1/contacts/{cid}/").status_code == 204
    assert history(api, cid)["results"][0]["event"] == "deleted"  # still readable after the delete
    deleted = events("contacts.ContactEvent", pgh_obj_id=cid, pgh_label="delete")
    assert len(deleted) == 1 and meta(deleted[0])["user"] == admin_user.pk
    assert meta(deleted[0])["action"] == "contact.delete"


def test_history_includes_group_membership_changes(api, admin_user):
    contact = ContactFactory()
    group = GroupFactory()
    api.post(f"/api/v1/groups/{group.pk}/contacts/", {"contact_ids": [str(contact.pk)]})
    api.delete(f"/api/v1/groups/{group.pk}/contacts/", {"contact_ids": [str(contact.pk)]})
    rows = history(api, contact.pk)["results"]
    kinds = [r["event"] for r in rows]
    assert "added_to_group" in kinds and "removed_from_group" in kinds
    added = next(r for r in rows if r["event"] == "added_to_group")
    assert added["changes"] == {"group": {"before": None, "after": str(group.pk)}}
    assert added["actor"]["id"] == admin_user.pk and added["action"] == "group.update_contacts"


def test_history_pages_with_a_cursor(api):
    contact = ContactFactory()
    for i in range(7):
        services.contact_update(contact_id=contact.pk, data={"job_title": f"T{i}"})
    first = history(api, contact.pk, page_size=3)
    assert len(first["results"]) == 3 and first["next"]
    assert first["results"][0]["changes"]["job_title"]["after"] == "T6"
    seen = [r["id"] for r in first["results"]]
    url = first["next"]
    while url:
        page = api.get(url).json()
        seen += [r["id"] for r in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 8  # 1 insert + 7 updates, none twice


def test_history_bad_input(api):
    contact = ContactFactory()
    assert_problem(api.get(f"/api/v1/contacts/{contact.pk}/history/", {"cursor": "x"}), 400, "cursor")
    assert_problem(api.get("/api/v1/contacts/not-a-uuid/history/"), 404)
    with pytest.raises(NotFound):
        selectors.contact_history(contact_id="nope")


def test_history_survives_deletion_of_the_contact_via_selector():
    contact = ContactFactory()
    services.contact_delete(contact_id=contact.pk)
    rows, _ = selectors.contact_history(contact_id=contact.pk)
    assert [r["event"] for r in rows] == ["deleted", "created"]


# --------------------------------------------------------------------------- services
def test_service_writes_record_actor_and_action(admin_user):
    org = services_org = OrganizationFactory()
    ContactTypeFactory()
    contact = services.contact_create(data={"first_name": "S", "organization": str(org.pk)}, actor=admin_user)
    services.contact_update_status(contact_id=contact.pk, status="active", reason="won", actor=admin_user)
    group = services.group_create(data={"name": "G", "contact_ids": [contact.pk]}, actor=admin_user)
    services.group_update(group_id=group.pk, data={"name": "G2"}, actor=admin_user)
    services.contact_bulk_create(rows=[{"first_name": "B1"}, {"first_name": "B2"}], actor=admin_user)
    template = services.template_create(data={"name": "T"}, actor=admin_user)
    services.template_update(template_id=template.pk, data={"description": "d"}, actor=admin_user)
    from organization import services as org_services

    org_services.organization_update(organization_id=services_org.pk, data={"name": "Renamed"}, actor=admin_user)

    status_event = events("contacts.ContactEvent", pgh_obj_id=contact.pk)[-1]
    assert meta(status_event).items() >= {"action": "contact.status", "reason": "won", "status_from": "new",
                                          "status_to": "active", "user": admin_user.pk}.items()
    bulk = events("contacts.ContactEvent", first_name__in=["B1", "B2"])
    assert len(bulk) == 2 and all(meta(e)["action"] == "contact.bulk_create" for e in bulk)
    group_events = events("contacts.ContactGroupEvent", pgh_obj_id=group.pk)
    assert [meta(e)["action"] for e in group_events] == ["group.create", "group.update"]
    assert [e.name for e in group_events] == ["G", "G2"]  # before and after are the two snapshots
    membership = events("contacts.GroupMembershipEvent", contact_id=contact.pk)
    assert meta(membership[0])["action"] == "group.create"
    assert [meta(e)["action"] for e in events("contacts.ContactTemplateEvent", pgh_obj_id=template.pk)] == [
        "template.create", "template.update"]
    org_events = events("organization.OrganizationEvent", pgh_obj_id=org.pk)
    assert org_events[-1].name == "Renamed" and meta(org_events[-1])["user"] == admin_user.pk


def test_a_failed_write_records_nothing():
    contact = ContactFactory(status="archived")
    before = len(events("contacts.ContactEvent", pgh_obj_id=contact.pk))
    with pytest.raises(Exception):  # noqa: B017 - any refusal
        services.contact_update(contact_id=contact.pk, data={"status": "inactive", "job_title": "x"})
    assert len(events("contacts.ContactEvent", pgh_obj_id=contact.pk)) == before


# --------------------------------------------------------------------------- admin
def test_admin_change_is_recorded_with_the_staff_user(client, admin_user):
    contact = ContactFactory(first_name="Old", email="old@example.com", status="new")
    client.force_login(admin_user)
    url = f"/admin/contacts/contact/{contact.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data["tags"] = ",".join(data.get("tags") or []) if isinstance(data.get("tags"), list) else data.get("tags", "")
    data["custom_fields"] = "{}"
    data.update({"first_name": "New", "status": "active"})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    contact.refresh_from_db()
    assert contact.first_name == "New" and contact.status == "active"
    last = events("contacts.ContactEvent", pgh_obj_id=contact.pk)[-1]
    assert meta(last)["user"] == admin_user.pk and meta(last)["action"] == "contact.update"
    rows, _ = selectors.contact_history(contact_id=contact.pk)
    assert rows[0]["changes"]["first_name"] == {"before": "Old", "after": "New"}
    assert rows[0]["actor"] == {"id": admin_user.pk, "username": "admin"}


def test_admin_add_and_delete_go_through_the_services(client, admin_user):
    client.force_login(admin_user)
    response = client.post("/admin/contacts/contact/add/", {
        "first_name": "Added", "last_name": "", "email": "ADDED@Example.com", "phone": "415 555 0100",
        "status": "new", "priority": "1", "custom_fields": "{}", "tags": "", "job_title": "", "timezone": "",
        "locale": "",
    })
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    contact = Contact.objects.get(first_name="Added")
    assert contact.phone == "+14155550100" and contact.email == "ADDED@example.com"  # normalized by the service
    assert meta(events("contacts.ContactEvent", pgh_obj_id=contact.pk)[0])["action"] == "contact.create"
    response = client.post(f"/admin/contacts/contact/{contact.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert meta(events("contacts.ContactEvent", pgh_obj_id=contact.pk)[-1])["user"] == admin_user.pk


def test_admin_group_change_is_recorded(client, admin_user):
    group = GroupFactory(name="Before")
    client.force_login(admin_user)
    response = client.post(f"/admin/contacts/contactgroup/{group.pk}/change/",
                           {"name": "After", "description": "", "organization": "", "owner": ""})
    assert response.status_code == 302
    assert ContactGroup.objects.get(pk=group.pk).name == "After"
    last = events("contacts.ContactGroupEvent", pgh_obj_id=group.pk)[-1]
    assert meta(last)["user"] == admin_user.pk and last.name == "After"
