from django.contrib import admin
from django.db.models import Count, Exists, OuterRef, Value
from django.db.models.functions import Lower

from contacts_project.admin_tools import FastChangeListMixin, changed_data
from organization.admin_trees import CategoryTreeFilter
from organization.models import ImmutableUnaccent
from organization.trees import organization_subtree_ids

from . import services
from .models import Contact, ContactCategory, ContactGroup, ContactTemplate, SavedView
from .tags import tag_counts


class ContactCategoryTreeFilter(CategoryTreeFilter):
    def filter_by_categories(self, queryset, category_ids):
        return queryset.filter(Exists(ContactCategory.objects.filter(category_id__in=category_ids,
                                                                     contact_id=OuterRef("pk"))))


class TagFilter(admin.SimpleListFilter):
    """The most used tags (from the cached tag counts); filtering rides the GIN index on tags."""

    title = "tag"
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        return [(row["tag"], f"{row['tag']} ({row['count']})") for row in tag_counts(limit=50)]

    def queryset(self, request, queryset):
        return queryset.filter(tags__contains=[self.value()]) if self.value() else queryset


class CorporateGroupFilter(admin.SimpleListFilter):
    """Contacts of an organization and all its descendants (set from a link: ?corporate_group=<id>)."""

    title = "corporate group"
    parameter_name = "corporate_group"

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, f"organization {value} and descendants")] if value else []

    def queryset(self, request, queryset):
        return queryset.filter(organization_id__in=organization_subtree_ids([self.value()])) if self.value() \
            else queryset


@admin.register(Contact)
class ContactAdmin(FastChangeListMixin, admin.ModelAdmin):
    list_display = ("__str__", "email", "phone", "organization", "type", "status", "priority", "created_at")
    list_select_related = ("organization", "type")
    list_filter = ("status", "type", "priority", ContactCategoryTreeFilter, TagFilter, CorporateGroupFilter)
    search_fields = ("search_text",)
    search_help_text = "Name, email or phone; any case, accents ignored."
    autocomplete_fields = ("organization", "reports_to", "owner", "team", "template", "type")
    readonly_fields = ("id", "created_at", "updated_at", "status_changed_at", "last_contacted_at",
                       "last_engaged_at", "engagement_score")
    exclude = ("categories",)
    ordering = ("-created_at",)
    date_hierarchy = None

    def get_search_results(self, request, queryset, search_term):
        """Served by the trigram index on search_text instead of ILIKE over each column."""
        for word in search_term.split()[:8]:
            queryset = queryset.filter(search_text__contains=Lower(ImmutableUnaccent(Value(word))))
        return queryset, False

    def save_model(self, request, obj, form, change):
        data = changed_data(form)
        data.pop("template", None)
        if change:
            services.contact_update(contact_id=obj.pk, data=data, actor=request.user)
        else:
            obj.pk = services.contact_create(data=data, actor=request.user,
                                             template_id=getattr(form.cleaned_data.get("template"), "pk", None)).pk

    def delete_model(self, request, obj):
        services.contact_delete(contact_id=obj.pk, actor=request.user)

    def delete_queryset(self, request, queryset):
        for contact_id in queryset.values_list("pk", flat=True):
            services.contact_delete(contact_id=contact_id, actor=request.user)


@admin.register(ContactGroup)
class ContactGroupAdmin(FastChangeListMixin, admin.ModelAdmin):
    list_display = ("name", "organization", "member_count", "created_at")
    list_select_related = ("organization",)
    search_fields = ("name",)
    autocomplete_fields = ("organization", "owner")
    exclude = ("contacts",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_members=Count("memberships"))

    @admin.display(description="members", ordering="n_members")
    def member_count(self, obj):
        return obj.n_members

    def save_model(self, request, obj, form, change):
        data = changed_data(form)
        data.pop("owner", None)
        if change:
            services.group_update(group_id=obj.pk, data=data, actor=request.user)
        else:
            obj.pk = services.group_create(data=data, actor=request.user).pk

    def delete_model(self, request, obj):
        services.group_delete(group_id=obj.pk, actor=request.user)


@admin.register(ContactTemplate)
class ContactTemplateAdmin(FastChangeListMixin, admin.ModelAdmin):
    list_display = ("name", "contact_type", "created_at")
    list_select_related = ("contact_type",)
    search_fields = ("name",)
    autocomplete_fields = ("contact_type",)

    def save_model(self, request, obj, form, change):
        data = changed_data(form)
        if change:
            services.template_update(template_id=obj.pk, data=data, actor=request.user)
        else:
            obj.pk = services.template_create(data=data, actor=request.user).pk

    def delete_model(self, request, obj):
        services.template_delete(template_id=obj.pk, actor=request.user)


@admin.register(SavedView)
class SavedViewAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "shared", "q", "updated_at")
    list_filter = ("shared",)
    search_fields = ("name", "q")
    autocomplete_fields = ("owner",)
