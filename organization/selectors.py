"""Reads for organizations, types and categories; hierarchy walks are one recursive query each."""
from __future__ import annotations

from django.db import connection
from django.db.models import Count, QuerySet

from .models import Category, ContactType, Organization


def organization_list() -> QuerySet[Organization]:
    return Organization.objects.all()


def contact_type_list() -> QuerySet[ContactType]:
    return ContactType.objects.all()


def category_list() -> QuerySet[Category]:
    return Category.objects.all()


def contact_type_usage(*, key: str) -> int:
    return ContactType.objects.filter(key=key).aggregate(n=Count("contacts"))["n"]


def ancestor_ids(*, table: str, column: str, start_id) -> list:
    """Ids on the chain start, parent(start), parent(parent(start)), ... (one recursive query).

    `table` and `column` come from model metadata, never from input.
    """
    if start_id is None:
        return []
    sql = (
        f"WITH RECURSIVE chain(id, depth) AS ("
        f"  SELECT id, 0 FROM {table} WHERE id = %s"
        f"  UNION ALL"
        f"  SELECT t.{column}, c.depth + 1 FROM {table} t JOIN chain c ON t.id = c.id"
        f"  WHERE t.{column} IS NOT NULL AND c.depth < 10000"
        f") SELECT id FROM chain"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [start_id])
        return [row[0] for row in cursor.fetchall()]


def would_create_cycle(*, model, field: str, node_id, new_parent_id) -> bool:
    """True if making `new_parent_id` the parent of `node_id` would close a loop."""
    if new_parent_id is None or node_id is None:
        return False
    if str(new_parent_id) == str(node_id):
        return True
    table = model._meta.db_table
    column = model._meta.get_field(field).column
    return any(str(i) == str(node_id) for i in ancestor_ids(table=table, column=column, start_id=new_parent_id))
