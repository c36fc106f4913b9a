from rest_framework import serializers

from contacts.api.serializers import ContactSerializer
from contacts_project.serializers import StrictModelSerializer, StrictSerializer

from ..choices import TaskKind, TaskStatus
from ..models import Campaign, CampaignRecipient, ContactList, Segment, SegmentChange, Task


class ContactListSerializer(StrictModelSerializer):
    owner = serializers.IntegerField(source="owner_id", read_only=True)

    class Meta:
        model = ContactList
        fields = ["id", "name", "description", "owner", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class MembershipChangeSerializer(StrictSerializer):
    contact_ids = serializers.ListField(child=serializers.CharField(max_length=64), required=False,
                                        max_length=100000, help_text="Up to 100,000 contact ids.")
    filter = serializers.DictField(required=False, help_text="Contact-list filters, e.g. {\"status\": \"active\"}.")

    def validate(self, attrs):
        if ("contact_ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError({"contact_ids": ["Give either contact_ids or filter."]})
        return attrs


class SegmentSerializer(StrictModelSerializer):
    rules = serializers.JSONField(help_text="Rule tree (and/or/not groups and leaves); see docs/planning.md.")
    owner = serializers.IntegerField(source="owner_id", read_only=True)

    class Meta:
        model = Segment
        fields = ["id", "name", "description", "rules", "materialized", "refresh_interval_minutes", "refreshed_at",
                  "member_count", "owner", "created_at", "updated_at"]
        read_only_fields = ["id", "refreshed_at", "member_count", "created_at", "updated_at"]


class SegmentPreviewSerializer(StrictSerializer):
    rules = serializers.JSONField(help_text="Rules to try without saving.")


class SegmentChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = SegmentChange
        fields = ["contact_id", "joined", "at"]


class RankedContactSerializer(ContactSerializer):
    priority_score = serializers.FloatField(read_only=True, help_text="25×priority + engagement (≤50) + recency "
                                                                      "(≤25, decaying over ~30 days).")


class CallPlanEntrySerializer(RankedContactSerializer):
    next_task = serializers.DictField(allow_null=True, read_only=True, help_text="{id, title, due_at} or null.")


class TaskSerializer(StrictModelSerializer):
    contact = serializers.UUIDField(source="contact_id", help_text="The contact the task is about.")
    assignee = serializers.IntegerField(source="assignee_id", required=False, allow_null=True,
                                        help_text="User id; defaults to the caller.")
    kind = serializers.ChoiceField(choices=TaskKind.choices, required=False)
    status = serializers.ChoiceField(choices=TaskStatus.choices, read_only=True)
    created_by = serializers.IntegerField(source="created_by_id", read_only=True)

    class Meta:
        model = Task
        fields = ["id", "contact", "kind", "title", "notes", "assignee", "due_at", "status", "outcome",
                  "completed_at", "repeat_every_days", "reminded_at", "created_by", "created_at", "updated_at"]
        read_only_fields = ["id", "status", "outcome", "completed_at", "reminded_at", "created_at", "updated_at"]


class TaskCompleteSerializer(StrictSerializer):
    outcome = serializers.CharField(required=False, allow_blank=True, default="", max_length=20000)
    status = serializers.ChoiceField(choices=[TaskStatus.DONE, TaskStatus.CANCELLED], default=TaskStatus.DONE)


class IdListField(serializers.ListField):
    """Ids in, ids out (a related manager is rendered as its primary keys)."""

    child = serializers.UUIDField()

    def to_representation(self, data):
        if hasattr(data, "values_list"):
            return [str(pk) for pk in data.values_list("pk", flat=True)]
        return super().to_representation(data)


class CampaignSerializer(StrictModelSerializer):
    message_template = serializers.UUIDField(source="message_template_id",
                                             help_text="Id of an active message template of the same channel "
                                                       "and purpose.")
    include_lists = IdListField(required=False, help_text="Ids of lists to send to.")
    include_segments = IdListField(required=False, help_text="Ids of segments to send to.")
    exclude_lists = IdListField(required=False, help_text="Ids of lists whose members are left out.")
    exclude_segments = IdListField(required=False, help_text="Ids of segments whose members are left out.")
    owner = serializers.IntegerField(source="owner_id", read_only=True)

    class Meta:
        model = Campaign
        fields = ["id", "name", "status", "status_reason", "channel", "purpose", "message_template",
                  "include_lists", "include_segments", "exclude_lists", "exclude_segments", "scheduled_at",
                  "send_in_recipient_timezone", "throttle_per_minute", "started_at", "finished_at", "owner",
                  "created_at", "updated_at"]
        read_only_fields = ["id", "status", "status_reason", "started_at", "finished_at", "created_at",
                            "updated_at"]


class CampaignScheduleSerializer(StrictSerializer):
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True,
                                             help_text="When to start; empty: at once (or the campaign's time).")


class CampaignRecipientSerializer(serializers.ModelSerializer):
    contact = serializers.UUIDField(source="contact_id")

    class Meta:
        model = CampaignRecipient
        fields = ["id", "contact", "status", "skip_reason", "communication_id", "send_at", "updated_at"]
