"""The `search` condition as a Q, shared by the `search` filter and the `q` language."""
from __future__ import annotations

from django.db.models import F, Q, Value
from django.db.models.functions import Lower

from organization.models import ImmutableUnaccent, Organization

MAX_WORDS = 8


def search_q(terms: str) -> Q:
    """Every word must appear (accent- and case-insensitive) in the name, email or phone, or in the
    organization's name. Served by trigram GIN indexes on both tables; Django escapes LIKE wildcards."""
    condition = Q()
    for word in terms.split()[:MAX_WORDS]:
        folded = Lower(ImmutableUnaccent(Value(word)))
        org_ids = Organization.objects.alias(folded_name=Lower(ImmutableUnaccent(F("name")))) \
            .filter(folded_name__contains=folded).values("pk")
        condition &= Q(search_text__contains=folded) | Q(organization_id__in=org_ids)
    return condition
