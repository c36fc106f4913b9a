"""Admin pieces for the trees: indented tree order, and a category filter that includes descendants."""
from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from contacts_project.ids import parse_uuid

from .models import Category
from .trees import category_subtree_ids, tree_order_annotations

INDENT = "\u2003"  # an em space per level


class TreeOrderMixin:
    """Lists a tree model (categories, organizations) in tree order with indented names."""

    @staticmethod
    def _is_changelist(request) -> bool:
        match = getattr(request, "resolver_match", None)
        return bool(match and (match.url_name or "").endswith("_changelist"))

    def get_queryset(self, request):
        if not self._is_changelist(request):
            return super().get_queryset(request)
        # annotate before ordering (ModelAdmin.get_queryset would order by the missing annotation)
        queryset = self.model._default_manager.get_queryset().annotate(**tree_order_annotations(self.model))
        return queryset.order_by(*self.get_ordering(request))

    def get_ordering(self, request):
        # the tree order only where the annotation exists: other admins order this model's choices too
        return ("tree_path",) if self._is_changelist(request) else ("name",)

    @admin.display(description="name (tree)", ordering="tree_path")
    def tree_name(self, obj):
        depth = getattr(obj, "tree_depth", 0) or 0
        return format_html("{}{}{}", INDENT * depth, "└ " if depth else "", obj.name)


class CategoryTreeFilter(admin.SimpleListFilter):
    """Filter by a category and all its descendants; the choices are the category tree, indented."""

    title = "category (with subcategories)"
    parameter_name = "category_tree"
    max_choices = 500

    def lookups(self, request, model_admin):
        rows = (Category.objects.annotate(**tree_order_annotations(Category)).order_by("tree_path")
                .values_list("pk", "name", "tree_depth")[: self.max_choices])
        return [(str(pk), INDENT * depth + name) for pk, name, depth in rows]

    def queryset(self, request, queryset):
        key = parse_uuid(self.value()) if self.value() else None
        if key is None:
            return queryset
        return self.filter_by_categories(queryset, category_subtree_ids([key]))

    def filter_by_categories(self, queryset, category_ids):
        """Organizations by their category; the contact admin overrides this for its many-to-many."""
        return queryset.filter(category_id__in=category_ids)
