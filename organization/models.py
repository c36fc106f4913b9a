"""Organizations (with a parent hierarchy), the contact-type vocabulary and categories."""
import pghistory
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Lower

from contacts_project.ids import uuid7


class ImmutableUnaccent(models.Func):
    """unaccent() wrapped as IMMUTABLE (migration 0001), so stored columns and indexes can use it."""

    function = "immutable_unaccent"
    output_field = models.TextField()


def history():
    """Fresh trackers per model (pghistory binds them to the model they track)."""
    return (pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())


@pghistory.track(*history())
class Category(models.Model):
    """A node of the category tree (any depth); contacts and organizations are filed under categories."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=100, help_text="Display name, unique among siblings.")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
                               help_text="Parent category; empty for a root.")
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(Lower("name"), "parent", name="category_unique_name_per_parent",
                                    nulls_distinct=False),
        ]

    def __str__(self) -> str:
        return self.name


@pghistory.track(*history())
class ContactType(models.Model):
    """The vocabulary behind Contact.type: contacts store the stable `key`, so relabelling rewrites nothing."""

    key = models.SlugField(max_length=50, primary_key=True, help_text="Stable key stored on contacts, e.g. `customer`.")
    label = models.CharField(max_length=100, help_text="Human label; may change freely.")
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True, help_text="Inactive types cannot be given to new contacts.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.label


@pghistory.track(*history())
class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=200, help_text="Legal or display name.")
    domain = models.CharField(max_length=253, blank=True, default="", help_text="Web/email domain, e.g. example.com.")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
                               help_text="Parent organization (corporate group hierarchy).")
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="organizations")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["name", "id"], name="org_name_id"),
            models.Index(Lower("domain"), name="org_domain_lower"),
            GinIndex(OpClass(Lower(ImmutableUnaccent("name")), name="gin_trgm_ops"), name="org_name_trgm"),
            models.Index(fields=["created_at", "id"], name="org_created_id"),
        ]

    def __str__(self) -> str:
        return self.name
