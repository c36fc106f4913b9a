"""Tree walks over the category and organization hierarchies, each one recursive query.

Why a recursive CTE over the `parent` column and not a stored (materialized) path: the trees are small
beside the contact table (thousands of categories, ~10,000 organizations), `parent_id` is indexed, and a
walk of a 10,000-node subtree costs a few milliseconds. A stored path would have to be rewritten for a
whole subtree on every move, by every code path that sets a parent (services, admin, imports, seeds);
one missed path silently corrupts filters. The walk is always right.

Contact filters resolve the subtree to a literal id list first (one query on the small table) and then
filter contacts with `= ANY(ids)`: PostgreSQL then plans with the real ids and their statistics, which
it cannot do for ids produced by a CTE inside the same statement (see docs/organization.md).
"""
from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import IntegerField, Model, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower

from contacts_project.ids import parse_uuid

from .models import Category, Organization

MAX_DEPTH = 1000  # a guard only: services refuse cycles, CYCLE stops a loop written behind their back


def _table(model: type[Model]) -> tuple[str, str]:
    return model._meta.db_table, model._meta.get_field("parent").column


def descendant_ids(*, model: type[Model], root_ids: Iterable, include_roots: bool = True) -> list:
    """The ids of the roots' subtrees (roots included unless `include_roots=False`), one recursive query."""
    roots = [r for r in (parse_uuid(v) for v in root_ids) if r is not None]
    if not roots:
        return []
    table, parent = _table(model)
    sql = (
        f"WITH RECURSIVE sub(id, depth) AS ("
        f"  SELECT id, 0 FROM {table} WHERE id = ANY(%s)"
        f"  UNION ALL"
        f"  SELECT t.id, s.depth + 1 FROM {table} t JOIN sub s ON t.{parent} = s.id WHERE s.depth < {MAX_DEPTH}"
        f") CYCLE id SET is_cycle USING walk "
        f"SELECT DISTINCT id FROM sub WHERE NOT is_cycle" + ("" if include_roots else " AND depth > 0")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [roots])
        return [row[0] for row in cursor.fetchall()]


def category_subtree_ids(category_ids: Iterable) -> list:
    return descendant_ids(model=Category, root_ids=category_ids)


def organization_subtree_ids(organization_ids: Iterable) -> list:
    return descendant_ids(model=Organization, root_ids=organization_ids)


def categories_named(value: str) -> list:
    """Category ids for an id or a (case-insensitive) name; a name may match several categories."""
    key = parse_uuid(value)
    query = Category.objects.filter(pk=key) if key is not None else Category.objects.alias(
        lname=Lower("name")).filter(lname=value.strip().lower())
    return list(query.values_list("pk", flat=True))


def organizations_named(value: str) -> list:
    """Organization ids for an id or an exact (case-insensitive) name."""
    key = parse_uuid(value)
    query = Organization.objects.filter(pk=key) if key is not None else Organization.objects.filter(
        name__iexact=value.strip())
    return list(query.values_list("pk", flat=True)[:1000])


def tree_order_annotations(model: type[Model]):
    """`tree_path` (names from the root, for ordering) and `tree_depth`, for the admin's indented lists.

    Correlated per row (an index probe per ancestor), so the cost is rows x depth, not rows squared.
    """
    table, parent = _table(model)
    alias = table
    walk = (
        f"WITH RECURSIVE up(id, parent, name, depth) AS ("
        f"  SELECT t.id, t.{parent}, t.name, 0 FROM {table} t WHERE t.id = {alias}.id"
        f"  UNION ALL"
        f"  SELECT t.id, t.{parent}, t.name, up.depth + 1 FROM {table} t JOIN up ON t.id = up.parent"
        f"  WHERE up.depth < {MAX_DEPTH})"
    )
    path = RawSQL(f"({walk} SELECT string_agg(lower(name) || chr(1) || id::text, chr(2) ORDER BY depth DESC) FROM up)",
                  [], output_field=TextField())
    depth = RawSQL(f"({walk} SELECT count(*) - 1 FROM up)", [], output_field=IntegerField())
    return {"tree_path": path, "tree_depth": depth}
