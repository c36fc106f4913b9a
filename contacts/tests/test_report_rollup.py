"""The report's counts over all contacts come from the trigger-kept rollup; they must equal a scan of the
table after any kind of write: single and bulk inserts, updates through the ORM and in bulk, deletes,
imports-style INSERT … SELECT, and after compaction."""
import pytest
from django.db import connection

from contacts import selectors
from contacts.models import Contact, ContactRollup
from contacts.services import contact_rollup_compact
from contacts.tests.factories import ContactFactory, ContactTypeFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def from_rollup():
    total, status, kind, orgs, owners = selectors._counts_from_rollup()
    return total, status, kind, sorted(map(str, orgs)), sorted(map(str, owners))


def by_scan():
    # a filter that keeps every row forces the scan path
    total, status, kind, orgs, owners = selectors._counts_by_scan(Contact.objects.filter(pk__isnull=False))
    return total, status, kind, sorted(map(str, orgs)), sorted(map(str, owners))


def test_rollup_matches_a_scan_through_every_kind_of_write(admin_user):
    acme, globex = OrganizationFactory(), OrganizationFactory()
    lead = ContactTypeFactory(key="lead")
    contacts = [ContactFactory(organization=acme, type=lead, owner=admin_user) for _ in range(3)]
    contacts += [ContactFactory(organization=None) for _ in range(2)]
    Contact.objects.bulk_create([Contact(first_name=f"B{i}", organization=globex, status="active") for i in range(5)])
    assert from_rollup() == by_scan()

    one = contacts[0]
    one.status, one.organization, one.owner = "active", globex, None
    one.save(update_fields=["status", "organization", "owner"])
    Contact.objects.filter(organization=globex).update(type=lead)  # one statement, many rows
    Contact.objects.filter(pk=contacts[1].pk).update(job_title="No counted column changes")
    assert from_rollup() == by_scan()

    Contact.objects.filter(pk__in=[contacts[2].pk, contacts[3].pk]).delete()
    with connection.cursor() as cursor:  # set-based insert, as the import engine writes
        cursor.execute("""INSERT INTO contacts_contact (id, first_name, last_name, email, phone, status, created_at,
                              updated_at, job_title, timezone, locale, priority, custom_fields, tags, engagement_score)
                          SELECT gen_random_uuid(), 'Imp', '', '', '', 'new', now(), now(), '', '', '', 2, '{}', '{}', 0
                          FROM generate_series(1, 4)""")
    assert from_rollup() == by_scan()
    assert from_rollup()[0] == Contact.objects.count() == 12


def test_compaction_folds_deltas_and_keeps_the_counts(admin_user):
    for status in ("new", "active", "active"):
        ContactFactory(status=status)
    Contact.objects.filter(status="new").update(status="inactive")
    before = from_rollup()
    assert ContactRollup.objects.count() > 8
    contact_rollup_compact()
    assert from_rollup() == before == by_scan()
    # one row per non-zero (dimension, value): status active/inactive, type '', organization, owner
    assert ContactRollup.objects.filter(dimension="status").count() == 2


def test_the_unfiltered_report_reads_the_rollup_not_the_table(api, django_assert_max_num_queries):
    ContactFactory(status="active")
    with connection.cursor() as cursor:  # a row the triggers would never write: only the rollup knows it
        cursor.execute("INSERT INTO contacts_contactrollup (dimension, value, delta) VALUES ('status', 'lost', 7)")
    body = api.get("/api/v1/reports/contacts/").json()
    assert body["by_status"] == {"active": 1, "lost": 7} and body["total"] == 8
    filtered = api.get("/api/v1/reports/contacts/?status=active").json()
    assert filtered["by_status"] == {"active": 1}  # a filter scans the table
