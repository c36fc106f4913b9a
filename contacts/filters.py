"""Contact list filters. Every one rides an index; unknown query parameters are a 400, not ignored."""
from __future__ import annotations

import django_filters as filters
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from django.http import QueryDict

from contacts_project.errors import FieldError, InvalidInput
from contacts_project.filters import OnlyGivenFiltersMixin
from contacts_project.ids import parse_uuid
from organization.trees import category_subtree_ids, organization_subtree_ids

from .choices import ContactStatus, Priority
from .models import Contact, ContactCategory, GroupMembership, SavedView
from .query_language import CUSTOM_KEY, compile_query, custom_equals
from .search import search_q
from .validation import normalize_phone

PAGINATION_PARAMS = {"cursor", "page_size", "ordering", "format"}
CUSTOM_PREFIX = "custom__"  # ?custom__<key>=value: JSONB containment, served by the jsonb_path_ops GIN index


def saved_view_visible(*, view_id, user) -> SavedView | None:
    """A saved view the user may use: their own or a shared one (others' private views do not exist for them)."""
    key = parse_uuid(view_id)
    user_id = getattr(user, "pk", None)
    visible = Q(shared=True) | Q(owner_id=user_id) if user_id is not None else Q(shared=True)
    return SavedView.objects.filter(visible, pk=key).first() if key else None


def search_contacts(queryset, terms: str):
    """Every word in the name, email, phone or organization name (see contacts/search.py)."""
    return queryset.filter(search_q(terms))


class ContactFilter(OnlyGivenFiltersMixin, filters.FilterSet):
    status = filters.BaseInFilter(field_name="status", help_text="One status, or several separated by commas.")
    type = filters.BaseInFilter(field_name="type_id", help_text="A contact type key, or several separated by commas.")
    organization = filters.UUIDFilter(method="filter_organization",
                                      help_text="Organization id (with include_descendants=true: its whole "
                                                "corporate group).")
    include_descendants = filters.BooleanFilter(method="filter_nothing",
                                                help_text="With organization: also its descendant organizations.")
    group = filters.UUIDFilter(method="filter_group", help_text="Contacts in this group.")
    category = filters.UUIDFilter(method="filter_category",
                                  help_text="Contacts filed under this category or any of its descendants.")
    category_exact = filters.UUIDFilter(method="filter_category_exact",
                                        help_text="Contacts filed under exactly this category.")
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
    # --- organization filters: the remaining contact fields, `q`, saved views
    first_name = filters.CharFilter(field_name="first_name", lookup_expr="iexact")
    last_name = filters.CharFilter(field_name="last_name", lookup_expr="iexact")
    job_title = filters.CharFilter(field_name="job_title", lookup_expr="iexact")
    timezone = filters.CharFilter(field_name="timezone")
    locale = filters.CharFilter(field_name="locale", lookup_expr="iexact")
    template = filters.UUIDFilter(field_name="template_id")
    last_engaged_after = filters.IsoDateTimeFilter(field_name="last_engaged_at", lookup_expr="gte")
    last_engaged_before = filters.IsoDateTimeFilter(field_name="last_engaged_at", lookup_expr="lt")
    status_changed_after = filters.IsoDateTimeFilter(field_name="status_changed_at", lookup_expr="gte")
    status_changed_before = filters.IsoDateTimeFilter(field_name="status_changed_at", lookup_expr="lt")
    engagement_score_min = filters.NumberFilter(field_name="engagement_score", lookup_expr="gte")
    engagement_score_max = filters.NumberFilter(field_name="engagement_score", lookup_expr="lte")
    q = filters.CharFilter(method="filter_q", help_text="A query with AND, OR, NOT and parentheses, e.g. "
                           "`status:active AND (tag:vip OR category:partners) AND NOT type:vendor` "
                           "(docs/organization.md).")
    view = filters.UUIDFilter(method="filter_view", help_text="A saved view: its filters apply too (AND).")
    search = filters.CharFilter(method="filter_search",
                                help_text="Words to find in name, email, phone or organization name "
                                          "(any case, accents ignored).")

    class Meta:
        model = Contact
        fields: list[str] = []

    def __init__(self, data=None, *args, user=None, **kwargs):
        self.user = user
        self.custom_filters: list[tuple[str, str]] = []
        if data is not None:
            custom = [name for name in data if name.startswith(CUSTOM_PREFIX)]
            for name in custom:
                key = name.removeprefix(CUSTOM_PREFIX)
                if not CUSTOM_KEY.match(key):
                    raise InvalidInput.field(name, f"Invalid custom field key {key!r}.", "invalid_key")
                for value in data.getlist(name) if hasattr(data, "getlist") else [data[name]]:
                    self.custom_filters.append((key, str(value)))
            unknown = sorted(set(data) - set(self.base_filters) - PAGINATION_PARAMS - set(custom))
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

    def filter_queryset(self, queryset):
        if self.form.cleaned_data.get("include_descendants") and not self.form.cleaned_data.get("organization"):
            raise InvalidInput.field("include_descendants", "include_descendants needs an organization.", "required")
        queryset = super().filter_queryset(queryset)
        for key, value in self.custom_filters:
            queryset = queryset.filter(custom_equals(key, value))
        return queryset

    def filter_nothing(self, queryset, name, value):
        return queryset

    @property
    def acting_user(self):
        if self.user is not None:
            return self.user
        return getattr(self.request, "user", None) if self.request is not None else None

    def filter_organization(self, queryset, name, value):
        if self.form.cleaned_data.get("include_descendants"):
            # the subtree as literal ids (one recursive query on organizations): the planner sees the real ids
            return queryset.filter(organization_id__in=organization_subtree_ids([value]))
        return queryset.filter(organization_id=value)

    def filter_category(self, queryset, name, value):
        ids = category_subtree_ids([value])  # one recursive query on the small category table; see trees.py
        return queryset.filter(Exists(ContactCategory.objects.filter(category_id__in=ids, contact_id=OuterRef("pk"))))

    def filter_category_exact(self, queryset, name, value):
        return queryset.filter(Exists(ContactCategory.objects.filter(category_id=value, contact_id=OuterRef("pk"))))

    def filter_q(self, queryset, name, value):
        return queryset.filter(compile_query(value, user=self.acting_user)) if value.strip() else queryset

    def filter_view(self, queryset, name, value):
        view = saved_view_visible(view_id=value, user=self.acting_user)
        if view is None:
            raise InvalidInput.field("view", f"No saved view with id {str(value)!r}.", "does_not_exist")
        params = QueryDict(mutable=True)
        for key, item in (view.params or {}).items():
            params.setlist(key, [str(v) for v in item] if isinstance(item, list) else [str(item)])
        params.pop("view", None)  # saved views never nest
        if view.q:
            params["q"] = view.q
        nested = ContactFilter(params, queryset=queryset, request=self.request, user=self.user)
        if not nested.is_valid():
            raise InvalidInput.field("view", f"The saved view {view.name!r} has invalid filters: "
                                     f"{dict(nested.errors)}.", "invalid")
        return nested.qs

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tags__contains=[value.strip().lower()])

    def filter_email(self, queryset, name, value):
        # `email <> ''` lets PostgreSQL use the partial unique index on lower(email) instead of a full scan
        return queryset.alias(email_lower=Lower("email")).filter(email_lower=value.strip().lower()).exclude(email="")

    def filter_phone(self, queryset, name, value):
        try:
            return queryset.filter(phone=normalize_phone(value))
        except ValueError as exc:
            raise InvalidInput.field("phone", str(exc))

    def filter_search(self, queryset, name, value):
        return search_contacts(queryset, value) if value.strip() else queryset

