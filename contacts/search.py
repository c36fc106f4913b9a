"""The `search` condition as a Q, shared by the `search` filter and the `q` language."""
from __future__ import annotations

import re

from django.db.models import F, Q, Value
from django.db.models.functions import Lower

from organization.models import ImmutableUnaccent, Organization

MAX_WORDS = 8


_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-/]+$")
_PHONE_PUNCTUATION = re.compile(r"[\s().\-/]")


def search_words(terms: str) -> list[str]:
    """The words of a search. A phone number written with spaces or punctuation (as the whole term or as one
    word) becomes its digits, as the stored E.164 number has them: "(415) 555-0111" finds +14155550111."""
    terms = terms.strip()
    if _PHONE_LIKE.match(terms) and sum(ch.isdigit() for ch in terms) >= 5:
        return [_PHONE_PUNCTUATION.sub("", terms)]
    return [_PHONE_PUNCTUATION.sub("", word) if _PHONE_LIKE.match(word) and any(ch.isdigit() for ch in word)
            else word for word in terms.split()[:MAX_WORDS]]


MAX_ORGANIZATION_IDS = 500


def _organizations_matching(folded):
    """Ids of organizations whose name contains the word, as a literal list when there are few.

    A literal list lets PostgreSQL plan `search_text LIKE … OR organization_id = ANY(…)` as a BitmapOr of
    two indexes with real estimates; an `IN (subquery)` inside the OR becomes a hashed SubPlan that
    forces a walk of the whole contact table in the list order (measured: 330 ms vs 1 ms at 200,000
    contacts). Many matches (an unselective word) keep the subquery: then the walk is the right plan.
    """
    query = Organization.objects.alias(folded_name=Lower(ImmutableUnaccent(F("name")))) \
        .filter(folded_name__contains=folded).values("pk")
    ids = list(query.values_list("pk", flat=True)[: MAX_ORGANIZATION_IDS + 1])
    return query if len(ids) > MAX_ORGANIZATION_IDS else ids


def search_q(terms: str) -> Q:
    """Every word must appear (accent- and case-insensitive) in the name, email or phone, or in the
    organization's name. Served by trigram GIN indexes on both tables; Django escapes LIKE wildcards.
    Costs one small query per word on the organization table (see `_organizations_matching`)."""
    condition = Q()
    for word in search_words(terms):
        folded = Lower(ImmutableUnaccent(Value(word)))
        org_ids = _organizations_matching(folded)
        if isinstance(org_ids, list) and not org_ids:
            condition &= Q(search_text__contains=folded)
        else:
            condition &= Q(search_text__contains=folded) | Q(organization_id__in=org_ids)
    return condition
