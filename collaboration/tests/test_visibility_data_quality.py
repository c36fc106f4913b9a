"""Visibility reaches the data-quality and privacy endpoints too: duplicates, merges, GDPR export and
erasure, legal holds. A contact one may not see is 404 there as everywhere, and never named in a queue."""
import pytest

from contacts.tests.factories import ContactFactory
from dataquality.merges import contact_merge
from dataquality.models import DuplicateCandidate
from tests.problem import assert_problem

from .test_visibility_matrix import world  # noqa: F401 - the shared fixture

pytestmark = pytest.mark.django_db


def pair(a, b) -> DuplicateCandidate:
    a, b = sorted((a, b), key=lambda c: c.pk)
    return DuplicateCandidate.objects.create(contact_a=a, contact_b=b, score=0.9,
                                             reasons=[{"rule": "phone", "score": 0.9, "detail": "x"}])


def test_the_queue_lists_only_pairs_whose_contacts_are_both_visible(world):  # noqa: F811
    seen = pair(world["own"], world["shared"])
    hidden = pair(world["own"], world["other"])
    member, admin = world["clients"]["member"], world["clients"]["admin"]
    assert {p["id"] for p in member.get("/api/v1/duplicates/").json()["results"]} == {str(seen.pk)}
    assert {p["id"] for p in admin.get("/api/v1/duplicates/").json()["results"]} == {str(seen.pk), str(hidden.pk)}
    assert_problem(member.post(f"/api/v1/duplicates/{hidden.pk}/dismiss/"), 404)
    assert member.post(f"/api/v1/duplicates/{seen.pk}/dismiss/").status_code == 200
    assert DuplicateCandidate.objects.get(pk=hidden.pk).status == "open"


def test_candidates_of_a_contact_never_name_an_unseen_one(world):  # noqa: F811
    twin_hidden = ContactFactory(team=world["other"].team, first_name="Own", last_name="Red",
                                 phone="+14155550999")
    twin_seen = ContactFactory(team=world["own"].team, first_name="Own", last_name="Red", phone="+14155550999")
    world["own"].phone = "+14155550999"
    world["own"].save(update_fields=["phone"])
    member, admin = world["clients"]["member"], world["clients"]["admin"]
    url = f"/api/v1/contacts/{world['own'].pk}/duplicates/"
    assert {c["id"] for c in member.get(url).json()["results"]} == {str(twin_seen.pk)}
    assert {c["id"] for c in admin.get(url).json()["results"]} == {str(twin_seen.pk), str(twin_hidden.pk)}
    assert_problem(member.get(f"/api/v1/contacts/{world['other'].pk}/duplicates/"), 404)


def test_merges_need_both_contacts_visible_and_editable(world):  # noqa: F811
    member = world["clients"]["member"]
    own, other, shared = world["own"], world["other"], world["shared"]
    assert_problem(member.post(f"/api/v1/contacts/{own.pk}/merge/", {"other": str(other.pk)}, format="json"), 404)
    assert_problem(member.post(f"/api/v1/contacts/{other.pk}/merge/", {"other": str(own.pk)}, format="json"), 404)
    assert_problem(member.post(f"/api/v1/contacts/{own.pk}/merge/", {"other": str(shared.pk)}, format="json"), 403)
    assert other.__class__.objects.filter(pk__in=[own.pk, other.pk, shared.pk]).count() == 3
    record = contact_merge(survivor_id=other.pk, other_id=ContactFactory(team=other.team).pk, fields={}, actor=None)
    assert_problem(member.get(f"/api/v1/contacts/merges/{record.pk}/"), 404)
    assert_problem(member.post(f"/api/v1/contacts/merges/{record.pk}/undo/"), 404)
    assert world["clients"]["admin"].get(f"/api/v1/contacts/merges/{record.pk}/").status_code == 200


def test_privacy_export_erasure_and_holds_of_an_unseen_contact_are_404(world):  # noqa: F811
    member, other = world["clients"]["member"], world["other"]
    assert_problem(member.get(f"/api/v1/contacts/{other.pk}/privacy/export/"), 404)
    assert_problem(member.post(f"/api/v1/contacts/{other.pk}/privacy/erase/", {}, format="json"), 404)
    assert_problem(member.post(f"/api/v1/contacts/{other.pk}/legal-hold/", {"reason": "x"}, format="json"), 404)
    assert_problem(member.delete(f"/api/v1/contacts/{other.pk}/legal-hold/"), 404)
    other.refresh_from_db()
    assert other.email == "other@blue.example"  # nothing erased
    assert member.get(f"/api/v1/contacts/{world['own'].pk}/privacy/export/").status_code == 200


def test_tasks_about_unseen_contacts_are_not_listed_read_changed_or_created(world):  # noqa: F811
    from django.utils import timezone

    from planning.models import Task

    due = timezone.now() + timezone.timedelta(days=1)
    hidden = Task.objects.create(contact=world["other"], title="Call Blue", due_at=due, assignee=world["admin"])
    seen = Task.objects.create(contact=world["own"], title="Call Red", due_at=due, assignee=world["admin"])
    mine = Task.objects.create(contact=world["other"], title="Assigned to me", due_at=due,
                               assignee=world["clients"]["member"].user)
    member, admin = world["clients"]["member"], world["clients"]["admin"]
    assert {t["id"] for t in member.get("/api/v1/tasks/").json()["results"]} == {str(seen.pk), str(mine.pk)}
    assert len(admin.get("/api/v1/tasks/").json()["results"]) == 3
    assert_problem(member.get(f"/api/v1/tasks/{hidden.pk}/"), 404)
    assert_problem(member.patch(f"/api/v1/tasks/{hidden.pk}/", {"title": "x"}, format="json"), 404)
    assert_problem(member.post(f"/api/v1/tasks/{hidden.pk}/complete/", {}, format="json"), 404)
    created = member.post("/api/v1/tasks/", {"contact": str(world["other"].pk), "title": "Sneak",
                                             "due_at": due.isoformat()}, format="json")
    assert_problem(created, 400, "contact", "does_not_exist")
    assert Task.objects.get(pk=hidden.pk).status == "open"


def test_segment_preview_and_explain_see_only_visible_contacts(world):  # noqa: F811
    member, admin = world["clients"]["member"], world["clients"]["admin"]
    rules = {"rules": {"field": "status", "op": "eq", "value": "active"}}
    preview = member.post("/api/v1/segments/preview/", rules, format="json").json()
    assert preview["count"] == 2 and {c["id"] for c in preview["sample"]} == {str(world["own"].pk),
                                                                               str(world["shared"].pk)}
    assert admin.post("/api/v1/segments/preview/", rules, format="json").json()["count"] == 3
    segment = world["segment"]
    assert_problem(member.get(f"/api/v1/segments/{segment.pk}/explain/?contact={world['other'].pk}"), 404)
    assert member.get(f"/api/v1/segments/{segment.pk}/explain/?contact={world['own'].pk}").status_code == 200
