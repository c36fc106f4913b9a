"""Every index costs every insert (a million-row import pays each one a million times): no index may be
covered by another one on the same table."""
import pytest
from django.apps import apps
from django.db import connection

OURS = ("accounts", "organization", "contacts", "dataquality", "communications", "planning", "collaboration",
        "contacts_project")

REDUNDANT = """
WITH idx AS (
    -- int2vector and oidvector arrays start at 0; through text they become 1-based arrays
    SELECT i.indrelid::regclass::text AS tbl, i.indexrelid::regclass::text AS name,
           string_to_array(i.indkey::text, ' ')::int2[] AS cols,
           string_to_array(i.indclass::text, ' ')::oid[] AS opclasses,
           i.indisunique AS uniq, i.indpred IS NOT NULL AS partial,
           i.indexprs IS NOT NULL AS expr, am.amname
      FROM pg_index i
      JOIN pg_class c ON c.oid = i.indexrelid
      JOIN pg_am am ON am.oid = c.relam
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema())
SELECT a.tbl, a.name, b.name
  FROM idx a JOIN idx b ON a.tbl = b.tbl AND a.name <> b.name
 WHERE a.amname = 'btree' AND b.amname = 'btree' AND NOT a.uniq
   AND NOT (a.partial OR a.expr OR b.partial OR b.expr)
   AND a.cols = b.cols[1:array_length(a.cols, 1)] AND a.opclasses = b.opclasses[1:array_length(a.opclasses, 1)]
   AND (array_length(a.cols, 1) < array_length(b.cols, 1) OR b.uniq OR a.name > b.name)
 ORDER BY 1, 2
"""


def redundant_indexes() -> list[tuple[str, str, str]]:
    """(table, index, the index covering it) on our own tables (Django's and many-to-many tables left out)."""
    tables = {m._meta.db_table for m in apps.get_models() if m._meta.app_label in OURS}
    with connection.cursor() as cursor:
        cursor.execute(REDUNDANT)
        return [row for row in cursor.fetchall() if row[0] in tables]


@pytest.mark.django_db
def test_no_index_is_covered_by_another():
    assert redundant_indexes() == []


@pytest.mark.django_db
def test_the_check_finds_a_covered_index():
    with connection.cursor() as cursor:
        cursor.execute("CREATE INDEX probe_contact_status ON contacts_contact (status)")
    assert ("contacts_contact", "probe_contact_status", "contact_status_created") in redundant_indexes()


def _plan(sql: str, params=None) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # whatever the table size: is the index usable at all?
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
def test_email_lookups_ride_the_partial_unique_index():
    """lower(email) is indexed only where email <> '': a lookup that does not say so reads every contact."""
    from django.test.utils import CaptureQueriesContext

    from contacts.models import Contact
    from contacts.query_language import compile_query
    from dataquality.duplicates import find_candidates

    sql, params = Contact.objects.filter(compile_query("email:Ada@Example.com")).query.sql_with_params()
    assert "contact_email_ci_unique" in _plan(sql, params)
    with CaptureQueriesContext(connection) as queries:
        find_candidates(first_name="Ada", email="ada@example.com")
    rules = next(q["sql"] for q in queries.captured_queries if "hits AS" in q["sql"])
    assert "contact_email_ci_unique" in _plan(rules)
