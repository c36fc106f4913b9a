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


def search_q(terms: str) -> Q:
    """Every word must appear (accent- and case-insensitive) in the name, email or phone, or in the
    organization's name. Served by trigram GIN indexes on both tables; Django escapes LIKE wildcards."""
    condition = Q()
    for word in search_words(terms):
        folded = Lower(ImmutableUnaccent(Value(word)))
        org_ids = Organization.objects.alias(folded_name=Lower(ImmutableUnaccent(F("name")))) \
            .filter(folded_name__contains=folded).values("pk")
        condition &= Q(search_text__contains=folded) | Q(organization_id__in=org_ids)
    return condition
