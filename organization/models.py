"""Organizations (with a parent hierarchy), the contact-type vocabulary, categories and teams."""
import pghistory
from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Lower

from contacts_project.ids import uuid7

from .choices import TeamRole


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


class Team(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="TeamMembership", related_name="teams")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships")
    role = models.CharField(max_length=20, choices=TeamRole.choices, default=TeamRole.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="team_membership_unique")]


@pghistory.track(*history())
class SavedView(models.Model):
    """A named contact filter (list query parameters and/or a `q` expression), private or shared.

    Usable wherever a contact filter is: `?view=<id>` on the contact list, reports, exports and bulk actions.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=100)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="saved_views")
    shared = models.BooleanField(default=False, help_text="Visible to every user, not only the owner.")
    params = models.JSONField(default=dict, blank=True,
                              help_text="Contact list filters as query parameters, e.g. {\"status\": \"active\"}.")
    q = models.TextField(blank=True, default="", help_text="A `q` expression (see docs/organization.md).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("name"), "owner", name="saved_view_unique_name_per_owner",
                                    nulls_distinct=False),
        ]
        indexes = [models.Index(fields=["shared", "name"], name="saved_view_shared_name")]

    def __str__(self) -> str:
        return self.name
