"""Hierarchy reads that need the contact table: an organization's tree with contact counts, a contact's reports.

They live in the contacts app because counts come from contacts (contacts -> organization is the allowed
import direction). Each is one recursive statement.
"""
from __future__ import annotations

from django.db import connection

from contacts_project.errors import NotFound
from contacts_project.ids import parse_uuid
from organization.models import Organization

from .models import Contact, OrganizationContactCount
from .selectors import contact_base, contact_to_dict

MAX_DEPTH = 1000
MAX_REPORTS = 5000

ORG = Organization._meta.db_table
CONTACT = Contact._meta.db_table
COUNTS = OrganizationContactCount._meta.db_table

# Ancestors (negative depth), the node and its subtree (depth >= 0), each with its own contact count.
# Counts come from the trigger-maintained counter table (models.OrganizationContactCount): counting a
# million contacts per request would not fit the 50 ms budget of a 10,000-node tree.
TREE_SQL = f"""
WITH RECURSIVE
up(id, parent_id, depth) AS (
    SELECT id, parent_id, 0 FROM {ORG} WHERE id = %(root)s
    UNION ALL
    SELECT o.id, o.parent_id, up.depth - 1 FROM {ORG} o JOIN up ON o.id = up.parent_id WHERE up.depth > -{MAX_DEPTH}
) CYCLE id SET up_cycle USING up_path,
down(id, parent_id, depth) AS (
    SELECT id, parent_id, 0 FROM {ORG} WHERE id = %(root)s
    UNION ALL
    SELECT o.id, o.parent_id, d.depth + 1 FROM {ORG} o JOIN down d ON o.parent_id = d.id WHERE d.depth < %(max_depth)s
),
nodes AS (
    SELECT id, parent_id, depth FROM up WHERE depth < 0 AND NOT up_cycle
    UNION ALL
    SELECT id, parent_id, depth FROM down
),
counts AS (
    SELECT organization_id, contacts AS n FROM {COUNTS} WHERE organization_id IN (SELECT id FROM nodes)
)
SELECT n.id::text, n.parent_id::text, n.depth, o.name, o.domain, o.category_id::text, COALESCE(c.n, 0)
FROM nodes n JOIN {ORG} o ON o.id = n.id LEFT JOIN counts c ON c.organization_id = n.id
"""


def organization_tree(*, organization_id, max_depth: int | None = None) -> dict:
    """The organization's ancestors (root first) and its subtree as nested nodes with contact counts.

    `contacts` is the organization's own count, `subtree_contacts` includes all its descendants.
    """
    key = parse_uuid(organization_id)
    if key is None:
        raise NotFound("Organization not found.")
    depth_limit = MAX_DEPTH if max_depth is None else max(0, min(max_depth, MAX_DEPTH))
    with connection.cursor() as cursor:
        cursor.execute(TREE_SQL, {"root": key, "max_depth": depth_limit})
        rows = cursor.fetchall()
    if not rows:
        raise NotFound("Organization not found.")
    ancestors, nodes, order = [], {}, []
    for oid, parent, depth, name, domain, category, count in rows:
        if depth < 0:
            ancestors.append({"id": oid, "name": name, "domain": domain, "parent": parent, "category": category,
                              "contacts": count, "depth": depth})
        elif oid not in nodes:  # a cycle written behind the services' back repeats nodes: keep the first
            nodes[oid] = {"id": oid, "name": name, "domain": domain, "parent": parent, "category": category,
                          "depth": depth, "contacts": count, "subtree_contacts": count, "subtree_size": 1,
                          "children": []}
            order.append(oid)
    ancestors.sort(key=lambda n: n.pop("depth"))
    root_id = str(key)
    root = nodes[root_id]
    for oid in sorted(order, key=lambda i: nodes[i]["name"].lower()):  # siblings by name
        if oid != root_id:
            nodes[nodes[oid]["parent"]]["children"].append(nodes[oid])
    for oid in sorted(order, key=lambda i: -nodes[i]["depth"]):  # children before their parents
        node = nodes[oid]
        if oid != root_id:
            parent = nodes[node["parent"]]
            parent["subtree_contacts"] += node["subtree_contacts"]
            parent["subtree_size"] += node["subtree_size"]
    return {"organization": root_id, "ancestors": ancestors, "tree": root}


def _reports_sql(max_depth: int) -> str:
    return f"""
    WITH RECURSIVE r(id, manager, depth) AS (
        SELECT id, reports_to_id, 1 FROM {CONTACT} WHERE reports_to_id = %(root)s
        UNION ALL
        SELECT c.id, c.reports_to_id, r.depth + 1 FROM {CONTACT} c JOIN r ON c.reports_to_id = r.id
        WHERE r.depth < {max_depth}
    ) CYCLE id SET is_cycle USING walk
    SELECT id, depth FROM r WHERE NOT is_cycle AND id <> %(root)s ORDER BY depth LIMIT %(limit)s
    """


def contact_reports(*, contact_id, user, max_depth: int | None = None, limit: int = MAX_REPORTS) -> dict:
    """Direct (depth 1) and indirect reports of a contact: one recursive query for the ids, one for the rows.
    Only the reports `user` may see are listed (`user=None`: a system job, all of them)."""
    key = parse_uuid(contact_id)
    scope = Contact.objects.all() if user is None else Contact.objects.visible_to(user)
    if key is None or not scope.filter(pk=key).exists():
        raise NotFound("Contact not found.")
    depth_limit = MAX_DEPTH if max_depth is None else max(1, min(max_depth, MAX_DEPTH))
    with connection.cursor() as cursor:
        cursor.execute(_reports_sql(depth_limit), {"root": key, "limit": limit + 1})
        found = cursor.fetchall()
    truncated = len(found) > limit
    depths = dict(found[:limit])
    contacts = contact_base().filter(pk__in=list(depths)) if depths else []
    if depths and user is not None:
        contacts = contacts.visible_to(user)
    results = []
    for contact in contacts:
        row = contact_to_dict(contact)
        row["depth"] = depths[contact.pk]
        results.append(row)
    results.sort(key=lambda r: (r["depth"], r["last_name"].lower(), r["first_name"].lower(), r["id"]))
    return {"contact": str(key), "direct": sum(1 for r in results if r["depth"] == 1),
            "indirect": sum(1 for r in results if r["depth"] > 1), "truncated": truncated, "results": results}
