"""What every audited write pays: the trigger-ignore check is the cheap one and still answers right."""
import pgtrigger
import pytest
from django.apps import apps
from django.db import connection

from contacts.models import Contact
from contacts_project.ids import uuid7_hex_block


@pytest.mark.django_db
def test_trigger_ignore_check_has_no_subtransaction():
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = '_pgtrigger_should_ignore'")
        (source,) = cursor.fetchone()
    assert "EXCEPTION" not in source.upper()


@pytest.mark.django_db
def test_ignored_triggers_are_still_ignored_and_others_still_fire():
    Event = apps.get_model("contacts", "ContactEvent")
    with pgtrigger.ignore("contacts.Contact:insert_insert"):
        quiet = Contact.objects.create(first_name="Quiet")
    loud = Contact.objects.create(first_name="Loud")
    assert not Event.objects.filter(pgh_obj_id=quiet.pk).exists()
    assert Event.objects.filter(pgh_obj_id=loud.pk, pgh_label="insert").count() == 1
    with connection.cursor() as cursor:  # set then emptied (what pgtrigger leaves after its block)
        cursor.execute("SELECT set_config('pgtrigger.ignore', '', false)")
        cursor.execute("SELECT public._pgtrigger_should_ignore('pgtrigger_insert_insert_60225')")
        assert cursor.fetchone()[0] is False


def test_bulk_ids_are_version_7_and_increasing():
    import uuid

    block = [uuid.UUID(value) for value in uuid7_hex_block(1000)]
    assert {u.version for u in block} == {7} and {u.variant for u in block} == {uuid.RFC_4122}
    assert block == sorted(block) and len(set(block)) == 1000


def test_prefetched_batches_keep_order_and_pass_errors_on():
    from dataquality.imports.engine import prefetched

    assert list(prefetched(iter([[1], [2], [3]]))) == [[1], [2], [3]]

    def failing():
        yield [1]
        raise ValueError("unreadable line 7")

    batches = prefetched(failing())
    assert next(batches) == [1]
    with pytest.raises(ValueError, match="line 7"):
        next(batches)


def test_prefetched_reader_stops_when_the_consumer_does():
    import threading

    from dataquality.imports.engine import prefetched

    produced = []

    def endless():
        n = 0
        while True:
            produced.append(n)
            yield [n]
            n += 1

    batches = prefetched(endless())
    assert next(batches) == [0]
    batches.close()  # the import failed on this chunk: the reader thread must not run on
    assert not any(t.name.startswith("import-reader") and t.is_alive() for t in threading.enumerate())
    assert len(produced) <= 3


@pytest.mark.django_db
def test_an_email_race_on_update_is_still_the_400_and_changes_nothing(monkeypatch):
    """The update's write runs without a savepoint of its own: a unique-index race must still roll it all back."""
    from contacts import services
    from contacts_project.errors import InvalidInput

    Contact.objects.create(first_name="Taken", email="taken@example.com")
    target = Contact.objects.create(first_name="Mover", email="mover@example.com", job_title="Before")
    monkeypatch.setattr(services, "emails_taken", lambda emails, exclude_id=None: set())  # lose the pre-check race
    with pytest.raises(InvalidInput) as caught:
        services.contact_update(contact_id=target.pk, data={"email": "TAKEN@example.com", "job_title": "After"})
    assert caught.value.errors[0].field == "email" and caught.value.errors[0].code == "unique"
    target.refresh_from_db()
    assert (target.email, target.job_title) == ("mover@example.com", "Before")
    assert Contact.objects.filter(pk=target.pk).update(job_title="Usable") == 1  # the connection is usable


@pytest.mark.django_db(transaction=True)
def test_a_patch_pays_no_savepoint(api):
    from django.test.utils import CaptureQueriesContext

    contact = Contact.objects.create(first_name="Plain")
    with CaptureQueriesContext(connection) as queries:
        response = api.patch(f"/api/v1/contacts/{contact.pk}/", {"job_title": "Buyer"}, format="json")
    assert response.status_code == 200, response.content
    assert not [q["sql"] for q in queries if "SAVEPOINT" in q["sql"].upper()]  # (pghistory prefixes statements)


@pytest.mark.django_db
def test_write_responses_are_what_a_read_returns_without_reading_back(api, django_capture_on_commit_callbacks):
    """Create, PATCH, PUT and status change render the row they wrote (locked with its ids), not a second read."""
    from contacts.models import ContactGroup, GroupMembership
    from organization.models import Category

    first, second = Category.objects.create(name="First"), Category.objects.create(name="Second")
    group = ContactGroup.objects.create(name="Team")

    def detail(cid):
        body = api.get(f"/api/v1/contacts/{cid}/").json()
        body.pop("lists", None)  # a higher app's array, on the detail only
        return body

    with django_capture_on_commit_callbacks(execute=True):
        created = api.post("/api/v1/contacts/", {"first_name": "Ada", "email": "ada@example.com",
                                                 "categories": [str(first.pk)], "tags": ["x"]}, format="json")
    assert created.status_code == 201, created.content
    cid = created.json()["id"]
    assert created.json() == detail(cid)
    GroupMembership.objects.create(group=group, contact_id=cid)
    steps = [("patch", "", {"job_title": "Buyer"}), ("patch", "", {"categories": [str(second.pk)]}),
             ("put", "", {"first_name": "Ada", "last_name": "L", "email": "ada@example.com"}),
             ("post", "status/", {"status": "active"})]
    for method, suffix, body in steps:
        with django_capture_on_commit_callbacks(execute=True):
            response = getattr(api, method)(f"/api/v1/contacts/{cid}/{suffix}", body, format="json")
        assert response.status_code == 200, response.content
        assert response.json() == detail(cid), (method, body)
        assert response.json()["groups"] == [str(group.pk)]
