from django.contrib import admin
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from contacts_project.admin_tools import FastChangeListMixin, changed_data

from . import services
from .admin_trees import CategoryTreeFilter, TreeOrderMixin
from .models import Category, ContactType, Organization


@admin.register(Organization)
class OrganizationAdmin(TreeOrderMixin, FastChangeListMixin, admin.ModelAdmin):
    list_display = ("tree_name", "domain", "parent", "category", "created_at")
    list_select_related = ("parent", "category")
    search_fields = ("name", "domain")
    list_filter = (CategoryTreeFilter,)
    autocomplete_fields = ("parent", "category")
    ordering = ("name",)

    def save_model(self, request, obj, form, change):
        data = changed_data(form)
        if change:
            saved = services.organization_update(organization_id=obj.pk, data=data, actor=request.user)
        else:
            saved = services.organization_create(data=data, actor=request.user)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        services.organization_delete(organization_id=obj.pk, actor=request.user, cascade=True)


@admin.register(ContactType)
class ContactTypeAdmin(FastChangeListMixin, admin.ModelAdmin):
    list_display = ("key", "label", "is_active", "contact_count")
    search_fields = ("key", "label")

    def get_queryset(self, request):
        # a correlated count, computed for the rows of the page only (a JOIN + GROUP BY would aggregate every
        # contact on each load); the contact model is reached through the relation, not imported
        contacts = ContactType.contacts.rel.related_model.objects.filter(type=OuterRef("pk")).order_by()
        n_contacts = Subquery(contacts.values("type").annotate(n=Count("pk")).values("n")[:1])
        return super().get_queryset(request).annotate(n_contacts=Coalesce(n_contacts, 0))

    @admin.display(description="contacts")
    def contact_count(self, obj):
        return obj.n_contacts

    def save_model(self, request, obj, form, change):
        if change:
            services.contact_type_update(key=obj.pk, data=changed_data(form), actor=request.user)
        else:
            services.contact_type_create(data=form.cleaned_data, actor=request.user)

    def delete_model(self, request, obj):
        services.contact_type_delete(key=obj.pk, actor=request.user)


@admin.register(Category)
class CategoryAdmin(TreeOrderMixin, admin.ModelAdmin):
    list_display = ("tree_name", "parent", "created_at")
    list_select_related = ("parent",)
    search_fields = ("name",)
    autocomplete_fields = ("parent",)

    def save_model(self, request, obj, form, change):
        data = changed_data(form)
        if change:
            services.category_update(category_id=obj.pk, data=data, actor=request.user)
        else:
            obj.pk = services.category_create(data=data, actor=request.user).pk

    def delete_model(self, request, obj):
        services.category_delete(category_id=obj.pk, actor=request.user)
