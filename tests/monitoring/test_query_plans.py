"""Plans the benchmark found wrong at 100,000 contacts stay fixed (EXPLAIN, with sequential scans priced out)."""
import pytest
from django.db import connection, transaction

from contacts.filters import ContactFilter
from contacts.selectors import contact_list


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
def test_email_filter_uses_the_partial_unique_index():
    # without `email <> ''` the partial index on lower(email) cannot serve it: 54 ms at 100,000 rows, a full scan.
    # Realistic statistics first: on an empty table every index costs the same and the planner picks any.
    from contacts.models import Contact

    Contact.objects.bulk_create([Contact(first_name=f"P{i}", email=f"p{i}@d{i % 7}.example.com")
                                 for i in range(2000)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")
    queryset = ContactFilter({"email": "Ann@Example.com"}, queryset=contact_list()).qs
    assert "contact_email_ci_unique" in plan(queryset)
