"""Contact planning: static lists, dynamic segments, tasks and campaigns."""
import pghistory
from django.conf import settings
from django.db import models
from django.db.models import Q

from communications.models import MessageTemplate
from contacts.models import Contact
from contacts_project.ids import uuid7

from .choices import CampaignStatus, RecipientStatus, TaskKind, TaskStatus


class ContactList(models.Model):
    """A static list: contacts are added and removed explicitly."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="contact_lists")
    contacts = models.ManyToManyField(Contact, through="ListMembership", related_name="lists", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["name", "id"], name="list_name_id")]

    def __str__(self) -> str:
        return self.name


class ListMembership(models.Model):
    # indexed by the unique (list, contact) and the contact index below
    contact_list = models.ForeignKey(ContactList, on_delete=models.CASCADE, related_name="memberships",
                                     db_index=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="list_memberships", db_index=False)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact_list", "contact"], name="list_membership_unique")]
        indexes = [models.Index(fields=["contact"], name="list_membership_contact")]


pghistory.track(pghistory.InsertEvent(), pghistory.DeleteEvent())(ListMembership)


class ListJob(models.Model):
    """A membership change run in the background (a filter, or more than 10,000 ids)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    contact_list = models.ForeignKey(ContactList, on_delete=models.CASCADE, related_name="jobs")
    add = models.BooleanField()
    params = models.JSONField(help_text="{contact_ids} or {filter}")
    status = models.CharField(max_length=20, default="pending", help_text="pending, running, done, failed")
    result = models.JSONField(default=dict, blank=True)
    error = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)


class Segment(models.Model):
    """Dynamic membership from rules (compiled to one SQL query by planning.segments)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    rules = models.JSONField(help_text="Rule tree; see docs/planning.md.")
    materialized = models.BooleanField(default=False, help_text="Keep a refreshed copy of the members.")
    refresh_interval_minutes = models.PositiveIntegerField(default=60)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    member_count = models.PositiveIntegerField(null=True, blank=True, help_text="At the last refresh.")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="segments")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())(Segment)


class SegmentMembership(models.Model):
    """The materialized members of a segment; insert/delete events record who joined and left when.

    Derived rows, rebuilt from the rules by each refresh: no foreign-key constraints in the database (the ORM
    still cascades deletes). The checks cost a first materialization of 850,000 members 7 of its 14 s, and
    a refresh removes the rows of contacts that are gone.
    """

    # indexed by the unique (segment, contact) and the contact index below
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships", db_index=False,
                                db_constraint=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="segment_memberships",
                                db_index=False, db_constraint=False)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "contact"], name="segment_membership_unique")]
        indexes = [models.Index(fields=["contact"], name="segment_membership_contact")]


class SegmentChange(models.Model):
    """History of materialized membership: who joined or left a segment, and when."""

    # history written by the refresh in bulk: no database foreign key (the ORM cascades), see SegmentMembership
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="changes", db_index=False,
                                db_constraint=False)
    contact_id = models.UUIDField()
    joined = models.BooleanField(help_text="True: joined; False: left.")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["segment", "at"], name="segment_change_at")]


class PriorityRule(models.Model):
    """Sets the priority of a segment's members (applied in `order`, later rules win)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="priority_rules")
    priority = models.SmallIntegerField()
    order = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)


class Task(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="tasks", db_index=False)
    kind = models.CharField(max_length=20, choices=TaskKind.choices, default=TaskKind.FOLLOW_UP)
    title = models.CharField(max_length=200)
    notes = models.TextField(blank=True, default="")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="planning_tasks", db_index=False)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    outcome = models.TextField(blank=True, default="")
    completed_at = models.DateTimeField(null=True, blank=True)
    repeat_every_days = models.PositiveIntegerField(null=True, blank=True,
                                                    help_text="Recurring follow-up: a new task this many days "
                                                              "after the contact was last contacted.")
    reminded_at = models.DateTimeField(null=True, blank=True, help_text="When the due reminder was sent.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["assignee", "status", "due_at"], name="task_assignee_due"),
            models.Index(fields=["contact", "status", "due_at"], name="task_contact_due"),
            models.Index(fields=["due_at"], name="task_due_open", condition=Q(status="open", reminded_at__isnull=True)),
            models.Index(fields=["created_at", "id"], name="task_created_id"),
        ]

    def __str__(self) -> str:
        return self.title


pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())(Task)


class Campaign(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=30, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    channel = models.CharField(max_length=20, default="email")
    purpose = models.CharField(max_length=50, default="marketing")
    message_template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="campaigns")
    include_lists = models.ManyToManyField(ContactList, blank=True, related_name="+")
    include_segments = models.ManyToManyField(Segment, blank=True, related_name="+")
    exclude_lists = models.ManyToManyField(ContactList, blank=True, related_name="+")
    exclude_segments = models.ManyToManyField(Segment, blank=True, related_name="+")
    scheduled_at = models.DateTimeField(null=True, blank=True,
                                        help_text="When to send; with send_in_recipient_timezone its UTC wall-clock "
                                                  "time is used in each recipient's own time zone.")
    send_in_recipient_timezone = models.BooleanField(default=False)
    throttle_per_minute = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.CharField(max_length=255, blank=True, default="")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="campaigns")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status", "scheduled_at"], name="campaign_status_due"),
                   models.Index(fields=["created_at", "id"], name="campaign_created_id")]

    def __str__(self) -> str:
        return self.name


pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())(Campaign)


class CampaignRecipient(models.Model):
    """One row per recipient, materialized once when the campaign starts."""

    id = models.BigAutoField(primary_key=True)
    # indexed by the unique (campaign, contact) and the indexes below
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients", db_index=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="campaign_recipients",
                                db_index=False)
    status = models.CharField(max_length=20, choices=RecipientStatus.choices, default=RecipientStatus.PENDING)
    skip_reason = models.CharField(max_length=50, blank=True, default="")
    communication_id = models.UUIDField(null=True, blank=True)
    send_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "contact"], name="campaign_recipient_unique")]
        indexes = [models.Index(fields=["campaign", "status", "id"], name="campaign_recipient_status"),
                   models.Index(fields=["contact"], name="campaign_recipient_contact")]
