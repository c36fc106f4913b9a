"""Contact list filters. Every one rides an index; unknown query parameters are a 400, not ignored."""
from __future__ import annotations

import django_filters as filters
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Lower

from contacts_project.errors import FieldError, InvalidInput
from organization.models import ImmutableUnaccent, Organization

from .choices import ContactStatus, Priority
from .models import Contact, ContactCategory, GroupMembership
from .validation import normalize_phone

PAGINATION_PARAMS = {"cursor", "page_size", "ordering", "format"}


def search_contacts(queryset, terms: str):
    """Every word must appear (accent- and case-insensitive) in the name, email or phone, or in the
    organization's name. Served by trigram GIN indexes on both tables; Django escapes LIKE wildcards."""
    for word in terms.split()[:8]:
        folded = Lower(ImmutableUnaccent(Value(word)))
        org_ids = Organization.objects.alias(folded_name=Lower(ImmutableUnaccent(F("name")))) \
            .filter(folded_name__contains=folded).values("pk")
        queryset = queryset.filter(Q(search_text__contains=folded) | Q(organization_id__in=org_ids))
    return queryset


class ContactFilter(filters.FilterSet):
    status = filters.BaseInFilter(field_name="status", help_text="One status, or several separated by commas.")
    type = filters.BaseInFilter(field_name="type_id", help_text="A contact type key, or several separated by commas.")
    organization = filters.UUIDFilter(field_name="organization_id", help_text="Organization id.")
    group = filters.UUIDFilter(method="filter_group", help_text="Contacts in this group.")
    category = filters.UUIDFilter(method="filter_category", help_text="Contacts filed under this category.")
    owner = filters.NumberFilter(field_name="owner_id", help_text="Owner's user id.")
    team = filters.UUIDFilter(field_name="team_id")
    reports_to = filters.UUIDFilter(field_name="reports_to_id")
    priority = filters.TypedChoiceFilter(choices=Priority.choices, coerce=int)
    tag = filters.CharFilter(method="filter_tag", help_text="Contacts with this tag.")
    email = filters.CharFilter(method="filter_email", help_text="Exact email, any letter case.")
    phone = filters.CharFilter(method="filter_phone", help_text="Exact phone number (normalized to E.164).")
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_before = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="lt")
    last_contacted_after = filters.IsoDateTimeFilter(field_name="last_contacted_at", lookup_expr="gte")
    last_contacted_before = filters.IsoDateTimeFilter(field_name="last_contacted_at", lookup_expr="lt")
    search = filters.CharFilter(method="filter_search",
                                help_text="Words to find in name, email, phone or organization name "
                                          "(any case, accents ignored).")

    class Meta:
        model = Contact
        fields: list[str] = []

    def __init__(self, data=None, *args, **kwargs):
        if data is not None:
            unknown = sorted(set(data) - set(self.base_filters) - PAGINATION_PARAMS)
            if unknown:
                raise InvalidInput(f"Unknown filter {unknown[0]!r}.", errors=[
                    FieldError(name, "unknown_filter", "Not a filter of this list.") for name in unknown])
            statuses = [s for s in (data.get("status") or "").split(",") if s]
            bad = [s for s in statuses if s not in ContactStatus.values]
            if bad:
                raise InvalidInput.field("status", f"Unknown status {bad[0]!r}; choose from {ContactStatus.values}.",
                                         "invalid_choice")
        super().__init__(data, *args, **kwargs)

    def filter_group(self, queryset, name, value):
        return queryset.filter(Exists(GroupMembership.objects.filter(group_id=value, contact_id=OuterRef("pk"))))

    def filter_category(self, queryset, name, value):
        return queryset.filter(Exists(ContactCategory.objects.filter(category_id=value, contact_id=OuterRef("pk"))))

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tags__contains=[value.strip().lower()])

    def filter_email(self, queryset, name, value):
        return queryset.alias(email_lower=Lower("email")).filter(email_lower=value.strip().lower())

    def filter_phone(self, queryset, name, value):
        try:
            return queryset.filter(phone=normalize_phone(value))
        except ValueError as exc:
            raise InvalidInput.field("phone", str(exc))

    def filter_search(self, queryset, name, value):
        return search_contacts(queryset, value) if value.strip() else queryset

