"""Free tags on contacts: counts (unnest + GROUP BY) and rename/merge (one set-based UPDATE on the GIN index)."""
from __future__ import annotations

from django.db import connection, transaction

from contacts_project import cache
from contacts_project.audit import audited
from contacts_project.errors import InvalidInput

from .models import Contact
from .services import invalidate_contacts
from .validation import normalize_tags

CONTACT = Contact._meta.db_table
COUNTS_TIMEOUT = 60  # seconds; counts scan every tagged contact, so they are cached briefly
COUNTS_KEY = ("tags", "counts")


def _scope_sql(contacts) -> tuple[str, list]:
    """` AND id IN (…)` for a scoped contact queryset ('' for every contact)."""
    if contacts.query.is_empty():
        return " AND false", []
    if not contacts.query.where:
        return "", []
    sql, params = contacts.order_by().values("pk").query.sql_with_params()
    return f" AND id IN ({sql})", list(params)


def tag_counts(*, user=None, prefix: str = "", limit: int = 1000) -> list[dict]:
    """Tags with the number of contacts `user` may see carrying each, most used first (cached for a minute,
    per scope: everyone who sees all contacts shares one entry, everyone else has their own). `user=None` is
    a system read over every contact."""
    prefix = prefix.strip().lower()
    contacts = Contact.objects.all() if user is None else Contact.objects.visible_to(user)
    scope, params = _scope_sql(contacts)

    def build():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT t, count(*) FROM {CONTACT}, unnest(tags) AS t WHERE tags <> '{{}}'{scope} "
                           f"GROUP BY t ORDER BY count(*) DESC, t", params)
            return [{"tag": tag, "count": n} for tag, n in cursor.fetchall()]

    key = cache.key(*COUNTS_KEY) if not scope else cache.key(*COUNTS_KEY, f"user-{user.pk}")
    rows = cache.get_or_build(key, build, COUNTS_TIMEOUT)
    if prefix:
        rows = [row for row in rows if row["tag"].startswith(prefix)]
    return rows[:limit]


def tag_merge(*, sources: list, target: str, actor=None) -> dict:
    """Rename (one source) or merge (several) tags into `target` on every contact carrying one of them that
    the actor may change (`actor=None`: a system job, every contact).

    Order is kept and duplicates are removed; each contact's history records the change.
    """
    try:
        sources = normalize_tags(sources)
    except ValueError as exc:
        raise InvalidInput.field("sources", str(exc))
    if not sources:
        raise InvalidInput.field("sources", "Give at least one tag to rename or merge.", "required")
    try:
        targets = normalize_tags([target] if isinstance(target, str) else target)
    except ValueError as exc:
        raise InvalidInput.field("target", str(exc))
    if len(targets) != 1:
        raise InvalidInput.field("target", "Give one target tag.", "required")
    target = targets[0]
    sources = [s for s in sources if s != target]
    if not sources:
        raise InvalidInput.field("sources", "The sources are all the target already.", "invalid")
    contacts = Contact.objects.all() if actor is None else Contact.objects.editable_by(actor)
    scope, scope_params = _scope_sql(contacts)
    with transaction.atomic(), audited(actor, "tags.merge", sources=",".join(sources), target=target):
        with connection.cursor() as cursor:
            # replace each source by the target, then keep the first occurrence of every tag
            cursor.execute(
                f"UPDATE {CONTACT} SET tags = ARRAY(SELECT t FROM (SELECT CASE WHEN t = ANY(%s) THEN %s ELSE t END "
                f"AS t, min(i) AS i FROM unnest(tags) WITH ORDINALITY u(t, i) GROUP BY 1) x ORDER BY i)::varchar[], "
                f"updated_at = now() WHERE tags && %s::varchar[]{scope} RETURNING id",
                [sources, target, sources, *scope_params])
            changed = [row[0] for row in cursor.fetchall()]
        invalidate_contacts(changed)
        cache.invalidate_on_commit(cache.key(*COUNTS_KEY))  # per-user counts expire within a minute
    return {"sources": sources, "target": target, "contacts": len(changed)}
