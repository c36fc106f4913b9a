"""Duplicate detection: exact and fuzzy rules computed in SQL (pg_trgm indexes), each pair with a score
and the reasons; the on_duplicate policy of create; the review queue refresh.

Rules and scores (a pair matching several rules scores 1 - Π(1 - rule score)):

| rule                | when                                                                     | score            |
|---------------------|--------------------------------------------------------------------------|------------------|
| `email`             | same email in any letter case (only for incoming rows: stored ones are unique) | 1.0        |
| `phone`             | same phone in E.164                                                      | 0.9              |
| `name_phone_suffix` | same first and last name, phones sharing their last 7 digits             | 0.85             |
| `name_organization` | full names similar (trigram ≥ DUPLICATE_NAME_SIMILARITY), same organization | 0.3 + 0.6 × sim |
| `name_email_domain` | full names similar, same email domain (free-mail domains excluded)       | 0.25 + 0.6 × sim |
| `nickname`          | same last name, first names that are nicknames of each other (Bob/Robert) | 0.6             |
"""
from __future__ import annotations

from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from contacts import services
from contacts.models import Contact
from contacts.validation import normalize_email, normalize_phone
from contacts_project.errors import Conflict, InvalidInput, NotFound
from contacts_project.ids import parse_uuid

from .models import DuplicateCandidate, DuplicateStatus

POLICIES = ("create", "skip", "update", "reject")
STRONG_RULES = {"email", "phone"}
NAME_EXPR = "lower(immutable_unaccent({t}.first_name::text || ' ' || {t}.last_name::text))"
FREE_MAIL_DOMAINS = [
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.fr", "hotmail.com", "hotmail.fr", "outlook.com", "live.com",
    "msn.com", "icloud.com", "me.com", "mac.com", "aol.com", "gmx.de", "gmx.net", "web.de", "proton.me",
    "protonmail.com", "yandex.ru", "mail.ru", "orange.fr", "free.fr", "laposte.net", "qq.com", "163.com",
]


def _threshold() -> float:
    return float(getattr(settings, "DUPLICATE_NAME_SIMILARITY", 0.6))


def _min_score() -> float:
    return float(getattr(settings, "DUPLICATE_MIN_SCORE", 0.6))


def _set_similarity_threshold(cursor) -> None:
    # `<%` (word similarity) finds candidates with the search_text trigram index; its threshold is this
    # setting (local to the transaction). A full name similar to another by `similarity` is at least as
    # similar to that contact's search_text (which starts with the name) by `word_similarity`, so the
    # index finds every pair the rule's exact `similarity(...) >= threshold` keeps: no second trigram
    # index on the full name (it cost every contact insert ~15 µs).
    cursor.execute("SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)", [str(_threshold())])


_COMBINE = """
    SELECT {keys}, 1 - exp(sum(ln(1 - least(score, 0.999)))) AS score,
           jsonb_agg(jsonb_build_object('rule', rule, 'score', round(score::numeric, 2), 'detail', detail)
                     ORDER BY score DESC) AS reasons
    FROM hits GROUP BY {keys}
"""


def find_candidates(*, first_name: str = "", last_name: str = "", email: str = "", phone: str = "",
                    organization_id=None, exclude_id=None, limit: int = 20) -> list[dict[str, Any]]:
    """Existing contacts that may be the person described, best first: [{id, score, reasons}]. One query."""
    name = f"{first_name or ''} {last_name or ''}".strip()
    params = {
        "first": (first_name or "").strip().lower(), "last": (last_name or "").strip().lower(),
        "email": (email or "").strip().lower(), "phone": phone or "", "org": organization_id,
        "name": name, "free": FREE_MAIL_DOMAINS, "exclude": exclude_id, "limit": limit, "min": _min_score(),
        "threshold": _threshold(),
    }
    c_name = NAME_EXPR.format(t="c")
    sql = f"""
    WITH probe AS (
        SELECT lower(immutable_unaccent(%(name)s)) AS full_name,
               split_part(%(email)s, '@', 2) AS domain,
               coalesce((SELECT canonical FROM contacts_nickname WHERE name = %(first)s), %(first)s) AS canon
    ), hits AS (
        SELECT c.id, 1.0::float AS score, 'email' AS rule, 'Same email address' AS detail
          FROM contacts_contact c
         WHERE %(email)s <> '' AND lower(c.email::text) = %(email)s AND c.email::text <> ''  -- the partial index
        UNION ALL
        SELECT c.id, 0.9, 'phone', 'Same phone number' FROM contacts_contact c
         WHERE %(phone)s <> '' AND c.phone = %(phone)s
        UNION ALL
        SELECT c.id, 0.85, 'name_phone_suffix', 'Same name, phone numbers ending alike'
          FROM contacts_contact c
         WHERE length(%(phone)s) >= 7 AND %(last)s <> '' AND lower(c.last_name::text) = %(last)s
           AND lower(c.first_name::text) = %(first)s AND c.phone <> %(phone)s
           AND right(c.phone, 7) = right(%(phone)s, 7)
        UNION ALL
        SELECT c.id, 0.3 + 0.6 * similarity({c_name}, p.full_name), 'name_organization',
               'Similar name in the same organization'
          FROM contacts_contact c, probe p
         WHERE %(org)s::uuid IS NOT NULL AND c.organization_id = %(org)s::uuid
           AND p.full_name <%% c.search_text AND similarity({c_name}, p.full_name) >= %(threshold)s
        UNION ALL
        SELECT c.id, 0.25 + 0.6 * similarity({c_name}, p.full_name), 'name_email_domain',
               'Similar name with the same email domain'
          FROM contacts_contact c, probe p
         WHERE p.domain <> '' AND NOT (p.domain = ANY(%(free)s)) AND c.email::text <> ''
           AND split_part(lower(c.email::text), '@', 2) = p.domain
           AND p.full_name <%% c.search_text AND similarity({c_name}, p.full_name) >= %(threshold)s
        UNION ALL
        SELECT c.id, 0.6, 'nickname', 'Same last name, first names are nicknames of each other'
          FROM contacts_contact c CROSS JOIN probe p
          LEFT JOIN contacts_nickname n ON n.name = lower(c.first_name::text)
         WHERE %(last)s <> '' AND lower(c.last_name::text) = %(last)s
           AND lower(c.first_name::text) <> %(first)s AND coalesce(n.canonical, lower(c.first_name::text)) = p.canon
    )
    SELECT * FROM ({_COMBINE.format(keys="id")}) pairs
     WHERE (%(exclude)s::uuid IS NULL OR id <> %(exclude)s::uuid) AND score >= %(min)s
     ORDER BY score DESC, id LIMIT %(limit)s
    """
    with transaction.atomic(), connection.cursor() as cursor:
        _set_similarity_threshold(cursor)
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # Django's psycopg setup hands jsonb back as text
    return [{"id": str(r[0]), "score": round(float(r[1]), 3),
             "reasons": orjson.loads(r[2]) if isinstance(r[2], (str, bytes)) else r[2]} for r in rows]


def candidates_for_contact(*, contact_id) -> list[dict[str, Any]]:
    key = parse_uuid(contact_id)
    contact = Contact.objects.filter(pk=key).first() if key else None
    if contact is None:
        raise NotFound("Contact not found.")
    return find_candidates(first_name=contact.first_name, last_name=contact.last_name, email=contact.email,
                           phone=contact.phone, organization_id=contact.organization_id, exclude_id=contact.pk)


def _probe_from_data(data: dict) -> dict:
    """Best-effort normalized identity of an incoming contact (invalid values are left to the create's 400)."""
    try:
        email = normalize_email(data.get("email") or "") if isinstance(data.get("email") or "", str) else ""
    except Exception:  # noqa: BLE001 - an invalid email just does not match
        email = ""
    try:
        phone = normalize_phone(str(data.get("phone") or ""))
    except ValueError:
        phone = ""
    return {"first_name": data.get("first_name") or "", "last_name": data.get("last_name") or "",
            "email": email, "phone": phone, "organization_id": parse_uuid(data.get("organization"))
            if data.get("organization") else None}


def parse_policy(value: Any, field: str = "on_duplicate") -> str:
    if value in (None, ""):
        return "create"
    if value not in POLICIES:
        raise InvalidInput.field(field, f"{value!r} is not a duplicate policy; choose one of {list(POLICIES)}.",
                                 "invalid_choice")
    return value


def contact_create_with_policy(*, data: dict[str, Any], policy: str, actor=None) -> tuple[Contact, bool]:
    """Create a contact unless it duplicates one (by `policy`). Returns (contact, created).

    create: always create (an exact email is still a 400, as without a policy);
    skip: an exact email or phone match is returned unchanged; update: that match gets the given fields;
    reject: any candidate scoring DUPLICATE_MIN_SCORE or more is a 409 listing the candidates.
    """
    policy = parse_policy(policy)
    if policy == "create":
        return services.contact_create(data=data, actor=actor), True
    candidates = find_candidates(**_probe_from_data(data), limit=10)
    strong = [c for c in candidates if {r["rule"] for r in c["reasons"]} & STRONG_RULES]
    if policy == "reject" and candidates:
        raise Conflict(f"{len(candidates)} possible duplicates exist; nothing was created.",
                       extra={"candidates": candidates})
    if policy in ("skip", "update") and strong:
        existing = strong[0]["id"]
        if policy == "update":
            update = {k: v for k, v in data.items() if k != "template"}
            return services.contact_update(contact_id=existing, data=update, actor=actor), False
        return Contact.objects.get(pk=existing), False
    return services.contact_create(data=data, actor=actor), True


def refresh_queue() -> dict[str, int]:
    """Recompute every candidate pair in SQL and upsert the open queue; dismissed pairs stay dismissed,
    open pairs that no longer match are removed."""
    a, b = NAME_EXPR.format(t="a"), NAME_EXPR.format(t="b")
    sql = f"""
    WITH hits AS (
        SELECT a.id AS a_id, b.id AS b_id, 0.9::float AS score, 'phone' AS rule, 'Same phone number' AS detail
          FROM contacts_contact a JOIN contacts_contact b ON b.phone = a.phone AND a.id < b.id
         WHERE a.phone <> ''
        UNION ALL
        SELECT a.id, b.id, 0.85, 'name_phone_suffix', 'Same name, phone numbers ending alike'
          FROM contacts_contact a JOIN contacts_contact b
            ON lower(b.last_name::text) = lower(a.last_name::text) AND a.id < b.id
         WHERE a.last_name <> '' AND length(a.phone) >= 7 AND length(b.phone) >= 7 AND a.phone <> b.phone
           AND lower(a.first_name::text) = lower(b.first_name::text) AND right(a.phone, 7) = right(b.phone, 7)
        UNION ALL
        SELECT a.id, b.id, 0.3 + 0.6 * similarity({a}, {b}), 'name_organization',
               'Similar name in the same organization'
          FROM contacts_contact a JOIN contacts_contact b
            ON b.organization_id = a.organization_id AND a.id < b.id
           AND {a} <%% b.search_text AND similarity({a}, {b}) >= %(threshold)s
         WHERE a.organization_id IS NOT NULL
        UNION ALL
        SELECT a.id, b.id, 0.25 + 0.6 * similarity({a}, {b}), 'name_email_domain',
               'Similar name with the same email domain'
          FROM contacts_contact a JOIN contacts_contact b
            ON b.email::text <> ''
           AND split_part(lower(b.email::text), '@', 2) = split_part(lower(a.email::text), '@', 2)
           AND a.id < b.id AND {a} <%% b.search_text AND similarity({a}, {b}) >= %(threshold)s
         WHERE a.email::text <> '' AND NOT (split_part(lower(a.email::text), '@', 2) = ANY(%(free)s))
        UNION ALL
        SELECT a.id, b.id, 0.6, 'nickname', 'Same last name, first names are nicknames of each other'
          FROM contacts_contact a
          LEFT JOIN contacts_nickname na ON na.name = lower(a.first_name::text)
          JOIN contacts_contact b ON lower(b.last_name::text) = lower(a.last_name::text) AND a.id < b.id
          LEFT JOIN contacts_nickname nb ON nb.name = lower(b.first_name::text)
         WHERE a.last_name <> '' AND lower(a.first_name::text) <> lower(b.first_name::text)
           AND coalesce(na.canonical, lower(a.first_name::text)) = coalesce(nb.canonical, lower(b.first_name::text))
    ), pairs AS ({_COMBINE.format(keys="a_id, b_id")})
    INSERT INTO contacts_duplicatecandidate (id, contact_a_id, contact_b_id, score, reasons, status,
                                             created_at, updated_at)
    SELECT gen_random_uuid(), a_id, b_id, score, reasons, 'open', %(start)s, %(start)s FROM pairs
     WHERE score >= %(min)s
    ON CONFLICT (contact_a_id, contact_b_id) DO UPDATE
       SET score = EXCLUDED.score, reasons = EXCLUDED.reasons, updated_at = EXCLUDED.updated_at
    """
    with transaction.atomic(), connection.cursor() as cursor:
        _set_similarity_threshold(cursor)
        cursor.execute("SELECT clock_timestamp()")
        start = cursor.fetchone()[0]
        cursor.execute(sql, {"free": FREE_MAIL_DOMAINS, "min": _min_score(), "start": start,
                             "threshold": _threshold()})
        upserted = cursor.rowcount
        # open pairs this refresh did not touch no longer match
        cursor.execute("DELETE FROM contacts_duplicatecandidate WHERE status = 'open' AND updated_at < %s", [start])
        removed = cursor.rowcount
    return {"pairs": upserted, "removed": removed}


def duplicate_dismiss(*, pair_id, actor=None) -> DuplicateCandidate:
    key = parse_uuid(pair_id)
    with transaction.atomic():
        pair = DuplicateCandidate.objects.select_for_update().filter(pk=key).first() if key else None
        if pair is None:
            raise NotFound("Duplicate pair not found.")
        if pair.status != DuplicateStatus.DISMISSED:
            pair.status = DuplicateStatus.DISMISSED
            pair.dismissed_by = actor if getattr(actor, "is_authenticated", False) else None
            pair.dismissed_at = timezone.now()
            pair.save(update_fields=["status", "dismissed_by", "dismissed_at", "updated_at"])
    return pair


def duplicate_reopen(*, pair_id, actor=None) -> DuplicateCandidate:
    key = parse_uuid(pair_id)
    updated = DuplicateCandidate.objects.filter(pk=key).update(status=DuplicateStatus.OPEN, dismissed_by=None,
                                                               dismissed_at=None) if key else 0
    if not updated:
        raise NotFound("Duplicate pair not found.")
    return DuplicateCandidate.objects.get(pk=key)
