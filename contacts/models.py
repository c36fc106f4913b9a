"""The RFC's Contact and ContactGroup, with the architecture's deliberate changes (docs/rfc-mapping.md)."""
import pghistory
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Concat, Lower

from accounts.models import Team
from contacts_project.ids import uuid7
from organization.models import Category, ContactType, ImmutableUnaccent, Organization

from .choices import ContactStatus, Priority


def history():
    """Fresh trackers per model (pghistory binds them to the model they track)."""
    return (pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())


def search_text_expression():
    parts = [models.F("first_name"), Value(" "), models.F("last_name"), Value(" "), models.F("email"), Value(" "),
             models.F("phone")]
    return Lower(ImmutableUnaccent(Concat(*parts, output_field=models.TextField())))


class ContactTemplate(models.Model):
    """Default values, required fields and custom-field definitions for new contacts of a type."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True, default="")
    contact_type = models.ForeignKey(ContactType, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="templates", help_text="Type given to contacts made from it.")
    defaults = models.JSONField(default=dict, blank=True,
                                help_text="Default values for contact fields, e.g. {\"status\": \"active\"}.")
    required_fields = ArrayField(models.CharField(max_length=100), default=list, blank=True,
                                 help_text="Contact fields (or `custom.<key>`) that must be given.")
    custom_fields = models.JSONField(default=list, blank=True,
                                     help_text="Custom-field definitions: [{key, label, type, required, choices}].")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


pghistory.track(*history())(ContactTemplate)


ADMIN_ROLE = "admin"  # the role group whose members see every contact (accounts.roles)
WRITER_TEAM_ROLES = ("admin", "manager", "member")  # a team's viewers only read its contacts


def sees_all(user) -> bool:
    """Superusers and the admin role see (and change) every contact. Not the system: it asks `for_system()`."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    cached = user.__dict__.get("_sees_all_contacts")
    if cached is None:
        cached = user.groups.filter(name=ADMIN_ROLE).exists()
        user.__dict__["_sees_all_contacts"] = cached
    return cached


def team_ids(user, roles=None) -> list:
    """The teams the user belongs to (with one of `roles`), read once per user object."""
    from accounts.models import TeamMembership

    key = f"_team_ids_{'-'.join(roles) if roles else 'all'}"
    if key not in user.__dict__:
        memberships = TeamMembership.objects.filter(user_id=user.pk)
        if roles:
            memberships = memberships.filter(role__in=roles)
        user.__dict__[key] = list(memberships.values_list("team_id", flat=True))
    return user.__dict__[key]


class ContactQuerySet(models.QuerySet):
    """THE visibility mechanism: every read of contacts, or of rows hanging on a contact, starts here.

    `visible_to(user)`: the contacts of the user's teams, those they own and those shared with them (all for
    admins). `editable_by(user)`: the same without the teams where they are only a viewer, and only shares with
    `can_edit`. Both are one indexed `team_id IN (…)` / `owner_id = …` plus an EXISTS on the shares index, so
    the scope is part of the statement, never a per-row check. No user (anonymous, None) sees nothing: the
    system jobs that must read everything say so with `for_system()`.
    """

    def visible_to(self, user) -> "ContactQuerySet":
        if sees_all(user):
            return self
        if user is None or not getattr(user, "is_authenticated", False):
            return self.none()
        shared = ContactShare.objects.filter(contact_id=models.OuterRef("pk"), user_id=user.pk)
        return self.filter(Q(team_id__in=team_ids(user)) | Q(owner_id=user.pk) | models.Exists(shared))

    def editable_by(self, user) -> "ContactQuerySet":
        if sees_all(user):
            return self
        if user is None or not getattr(user, "is_authenticated", False):
            return self.none()
        shared = ContactShare.objects.filter(contact_id=models.OuterRef("pk"), user_id=user.pk, can_edit=True)
        return self.filter(Q(team_id__in=team_ids(user, WRITER_TEAM_ROLES)) | Q(owner_id=user.pk)
                           | models.Exists(shared))

    def for_system(self) -> "ContactQuerySet":
        """Every contact, for jobs that act for nobody (beat, rollups, dispatch). Never for a user's request."""
        return self.all()


class ContactScopedQuerySet(models.QuerySet):
    """For rows hanging on a contact (communications, notes, members, duplicates…): `scoped_by_contact(user)`
    keeps the rows whose contact the user may see (`editable=True`: may change), as one `contact_id IN
    (subquery)` in the same statement. Models set `contact_scope_field` when the foreign key is not `contact`."""

    def scoped_by_contact(self, user, *, editable: bool = False, field: str | None = None):
        field = field or getattr(self.model, "contact_scope_field", "contact")
        if sees_all(user):
            return self
        contacts = Contact.objects.all()
        contacts = contacts.editable_by(user) if editable else contacts.visible_to(user)
        return self.filter(**{f"{field}__in": contacts.values("pk")})

    def for_system(self):
        return self.all()


def scoped_by_contact(queryset: models.QuerySet, user, *, field: str = "contact", editable: bool = False):
    """`scoped_by_contact` for any queryset whose model hangs on a contact through `field` (also models of
    other apps that keep their default manager)."""
    if sees_all(user):
        return queryset
    contacts = Contact.objects.all()
    contacts = contacts.editable_by(user) if editable else contacts.visible_to(user)
    return queryset.filter(**{f"{field}__in": contacts.values("pk")})


class Contact(models.Model):
    # --- the RFC's fields ---
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    first_name = models.CharField(max_length=100, blank=True, default="")
    last_name = models.CharField(max_length=100, blank=True, default="")
    email = models.EmailField(max_length=254, blank=True, default="",
                              help_text="Unique in any letter case; may be empty for phone-only contacts.")
    phone = models.CharField(max_length=20, blank=True, default="", help_text="E.164, e.g. +14155550123.")
    # foreign-key indexes are declared in Meta (composite or partial): every index costs each insert
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="contacts", db_index=False)
    type = models.ForeignKey(ContactType, null=True, blank=True, on_delete=models.PROTECT, db_column="type",
                             related_name="contacts", help_text="Key of a contact type.", db_index=False)
    status = models.CharField(max_length=20, choices=ContactStatus.choices, default=ContactStatus.NEW)
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)
    # --- what a CRM needs beside them ---
    job_title = models.CharField(max_length=150, blank=True, default="")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="owned_contacts", db_index=False)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts",
                             db_index=False)
    timezone = models.CharField(max_length=64, blank=True, default="", help_text="IANA zone, e.g. Europe/Paris.")
    locale = models.CharField(max_length=16, blank=True, default="", help_text="BCP 47 tag, e.g. fr-FR.")
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    custom_fields = models.JSONField(default=dict, blank=True)
    reports_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports",
                                   db_index=False)
    categories = models.ManyToManyField(Category, blank=True, through="ContactCategory", related_name="contacts")
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    template = models.ForeignKey(ContactTemplate, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="contacts", db_index=False)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    last_contacted_at = models.DateTimeField(null=True, blank=True)
    last_engaged_at = models.DateTimeField(null=True, blank=True)
    engagement_score = models.FloatField(default=0)
    search_text = models.GeneratedField(expression=search_text_expression(), output_field=models.TextField(),
                                        db_persist=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        indexes = [
            # the RFC's three, the email one as the case-insensitive unique index below
            models.Index(fields=["organization", "type"], name="contact_org_type"),
            models.Index(fields=["status", "created_at", "id"], name="contact_status_created"),
            # keyset pagination orderings
            models.Index(fields=["created_at", "id"], name="contact_created_id"),
            models.Index(fields=["updated_at", "id"], name="contact_updated_id"),
            models.Index(fields=["last_name", "id"], name="contact_last_name_id"),
            # search and filters
            GinIndex(fields=["search_text"], name="contact_search_trgm", opclasses=["gin_trgm_ops"]),
            GinIndex(fields=["tags"], name="contact_tags"),
            # mostly-empty references: partial, so a contact without them costs these indexes nothing
            models.Index(fields=["owner"], name="contact_owner_set", condition=Q(owner__isnull=False)),
            models.Index(fields=["reports_to"], name="contact_reports_to_set", condition=Q(reports_to__isnull=False)),
            models.Index(fields=["team"], name="contact_team_set", condition=Q(team__isnull=False)),
            models.Index(fields=["template"], name="contact_template_set", condition=Q(template__isnull=False)),
            models.Index(fields=["type"], name="contact_type_set", condition=Q(type__isnull=False)),
            models.Index(fields=["phone"], name="contact_phone", condition=~Q(phone="")),
            # organization filters: custom-field containment and last-contacted ranges
            GinIndex(fields=["custom_fields"], name="contact_custom_fields", opclasses=["jsonb_path_ops"]),
            models.Index(fields=["last_contacted_at", "id"], name="contact_last_contacted_id"),
        ]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="contact_email_ci_unique", condition=~Q(email="")),
        ]
        # the data-quality features' permissions (the dataquality app); named `contacts.*` since they began here
        permissions = [
            ("export_personal_data", "Can export everything held about a contact (GDPR access)"),
            ("erase_personal_data", "Can erase a contact's personal data (GDPR erasure)"),
            ("export_contacts", "Can export contacts in bulk (CSV, vCard, JSON)"),
            ("import_contacts", "Can import contacts from files"),
            ("merge_contacts", "Can merge duplicate contacts and undo merges"),
            ("place_legal_hold", "Can place and lift legal holds"),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email or str(self.id)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


pghistory.track(*history(), exclude=["search_text"])(Contact)


class ContactCategory(models.Model):
    # indexed by the unique (contact, category) and (category, contact) below
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, db_index=False)
    category = models.ForeignKey(Category, on_delete=models.CASCADE, db_index=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "category"], name="contact_category_unique")]
        indexes = [models.Index(fields=["category", "contact"], name="contact_category_by_cat")]


class ContactGroup(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    contacts = models.ManyToManyField(Contact, through="GroupMembership", related_name="contact_groups", blank=True)
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="groups", help_text="The organization this group belongs to.")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="owned_groups")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["name"], name="group_name"),
            models.Index(fields=["created_at", "id"], name="group_created_id"),
        ]

    def __str__(self) -> str:
        return self.name


pghistory.track(*history())(ContactGroup)


class GroupMembership(models.Model):
    # indexed by the unique (group, contact) and the contact index below
    group = models.ForeignKey(ContactGroup, on_delete=models.CASCADE, related_name="memberships", db_index=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="group_memberships", db_index=False)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "contact"], name="group_membership_unique")]
        indexes = [models.Index(fields=["contact"], name="group_membership_contact")]


pghistory.track(pghistory.InsertEvent(), pghistory.DeleteEvent(),
                meta={"indexes": [models.Index(fields=["contact", "pgh_id"], name="group_membership_event_contact")]}
                )(GroupMembership)


class BulkAction(models.Model):
    """A bulk action over a filter or an id list, run by the `contacts.bulk.run_action` task in batches.

    Each batch is one transaction; `batches` records, per batch, whether it was applied or failed and
    what it changed, so a job that fails midway says exactly which contacts were touched.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    action = models.CharField(max_length=40)
    params = models.JSONField(default=dict, blank=True)
    filter = models.JSONField(null=True, blank=True, help_text="Contact list filters the action ran over.")
    contact_ids = ArrayField(models.UUIDField(), default=list, blank=True,
                             help_text="The target contacts, fixed when the job starts.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    total = models.IntegerField(default=0)
    done = models.IntegerField(default=0, help_text="Contacts in batches that were applied.")
    failed = models.IntegerField(default=0, help_text="Contacts in failed batches, or skipped by a rule.")
    changed = models.IntegerField(default=0, help_text="Contacts whose data actually changed.")
    batch_size = models.IntegerField(default=5000)
    batches = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="bulk_actions")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["created_at", "id"], name="bulk_action_created_id")]

    def __str__(self) -> str:
        return f"{self.action} ({self.status})"


class OrganizationContactCount(models.Model):
    """Contacts per organization, kept exact by statement-level triggers on the contact table (migration 0004).

    The organization tree reads counts for up to ~10,000 nodes in one query; counting a million contacts
    on every request would not fit its 50 ms budget. Statement-level triggers with transition tables
    cost one GROUP BY per statement, also for bulk updates.
    """

    organization = models.OneToOneField(Organization, primary_key=True, on_delete=models.CASCADE,
                                        related_name="contact_count")
    contacts = models.BigIntegerField(default=0)



class ContactShare(models.Model):
    """A contact shared with a user outside its team (visibility, see contacts.selectors.visible_contacts)."""

    id = models.BigAutoField(primary_key=True)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="shares", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_shares",
                             db_index=False)
    can_edit = models.BooleanField(default=False, help_text="Besides reading, the user may change the contact.")
    shared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "user"], name="contact_share_unique")]
        # the visibility EXISTS probes (contact_id, user_id) per candidate row
        indexes = [models.Index(fields=["user", "contact"], name="contact_share_user")]


class ContactRollup(models.Model):
    """Contact counts by status, type, organization and owner as signed deltas, appended by statement-level
    triggers on the contact table (migration 0008) and folded by the `contacts.rollup_compact` job.

    The unfiltered report sums this small table instead of grouping a million contacts (1.2 s at 1M).
    Deltas, not one counter row per value: every create would otherwise update the same `status = new`
    row and concurrent writers would queue on its lock.
    """

    id = models.BigAutoField(primary_key=True)
    dimension = models.CharField(max_length=12)  # status, type, organization, owner
    value = models.CharField(max_length=64, blank=True, default="")  # '' for none
    delta = models.BigIntegerField()


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
        db_table = "organization_savedview"  # the table it had in organization, kept when the model moved here
        constraints = [
            models.UniqueConstraint(Lower("name"), "owner", name="saved_view_unique_name_per_owner",
                                    nulls_distinct=False),
        ]
        indexes = [models.Index(fields=["shared", "name"], name="saved_view_shared_name")]

    def __str__(self) -> str:
        return self.name


pghistory.track(*history(), meta={"db_table": "organization_savedviewevent"})(SavedView)
