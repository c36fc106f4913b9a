"""Contact API shapes. Input serializers check types and formats; services check the rest.

Output is built by `selectors.contact_to_dict` (fast, and what the cache holds); `ContactSerializer`
describes the same shape for the OpenAPI schema, and a test keeps the two equal.
"""
from rest_framework import serializers

from contacts_project.serializers import StrictModelSerializer, StrictSerializer

from ..choices import ContactStatus, Priority
from ..models import ContactGroup, ContactTemplate


class ContactSerializer(StrictSerializer):
    id = serializers.UUIDField(read_only=True, help_text="Time-ordered UUID (v7) given by the server.")
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                       help_text="Given name. A contact needs a first or a last name.")
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True, help_text="Family name.")
    full_name = serializers.CharField(read_only=True, help_text="First and last name.")
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True,
                                   help_text="Unique in any letter case; may be empty for phone-only contacts.")
    phone = serializers.CharField(max_length=64, required=False, allow_blank=True,
                                  help_text="Any common notation; stored and returned in E.164 (+14155550123). "
                                            "Numbers without a country code take DEFAULT_PHONE_REGION.")
    organization = serializers.UUIDField(required=False, allow_null=True, help_text="Organization id (optional).")
    type = serializers.CharField(max_length=50, required=False, allow_null=True, allow_blank=True,
                                 help_text="Key of a contact type (see /contact-types/).")
    status = serializers.ChoiceField(choices=ContactStatus.choices, required=False,
                                     help_text="Lifecycle status; changes follow the lifecycle table "
                                               "(see POST /contacts/{id}/status/).")
    job_title = serializers.CharField(max_length=150, required=False, allow_blank=True, help_text="Job title.")
    owner = serializers.IntegerField(required=False, allow_null=True, help_text="User id of the owner.")
    team = serializers.UUIDField(required=False, allow_null=True, help_text="Team id.")
    timezone = serializers.CharField(max_length=64, required=False, allow_blank=True,
                                     help_text="IANA time zone, e.g. Europe/Paris.")
    locale = serializers.CharField(max_length=16, required=False, allow_blank=True, help_text="e.g. fr-FR.")
    priority = serializers.ChoiceField(choices=Priority.choices, required=False,
                                       help_text="0 low, 1 normal, 2 high, 3 urgent.")
    custom_fields = serializers.JSONField(required=False,
                                          help_text="Object of key: value; checked against the template's "
                                                    "definitions when the contact has a template.")
    reports_to = serializers.UUIDField(required=False, allow_null=True,
                                       help_text="Id of the contact this person reports to.")
    categories = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=200,
                                       help_text="Category ids.")
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=200,
                                 help_text="Free tags (stored lower-case).")
    groups = serializers.ListField(child=serializers.UUIDField(), read_only=True, help_text="Ids of its groups.")
    lists = serializers.ListField(child=serializers.UUIDField(), read_only=True, required=False,
                                 help_text="Detail only: ids of the static lists the contact is on.")
    template = serializers.UUIDField(required=False, allow_null=True,
                                     help_text="On create: a contact template whose defaults, required fields and "
                                               "custom-field definitions apply.")
    status_changed_at = serializers.DateTimeField(read_only=True, allow_null=True,
                                                  help_text="When the status last changed.")
    last_contacted_at = serializers.DateTimeField(read_only=True, allow_null=True,
                                                  help_text="When a communication was last sent to the contact.")
    last_engaged_at = serializers.DateTimeField(read_only=True, allow_null=True,
                                                help_text="When the contact last opened, clicked or replied.")
    engagement_score = serializers.FloatField(read_only=True, help_text="Engagement score from delivery events.")
    created_at = serializers.DateTimeField(read_only=True, help_text="When the contact was created.")
    updated_at = serializers.DateTimeField(read_only=True, help_text="When the contact was last changed.")


class ContactUpdateSerializer(ContactSerializer):
    """Like ContactSerializer, without `template` (a template applies at creation)."""

    template = serializers.UUIDField(read_only=True, allow_null=True,
                                     help_text="The template the contact was created from (set at creation only).")


class ContactBulkSerializer(StrictSerializer):
    contacts = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=1000,
                                     help_text="Up to 1,000 contacts in the shape of POST /contacts/.")


class StatusChangeSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=ContactStatus.choices, help_text="The new status.")
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="",
                                   help_text="Why; kept in the history.")


class HistoryEntrySerializer(serializers.Serializer):
    id = serializers.CharField()
    event = serializers.CharField(help_text="created, updated, deleted, added_to_group, removed_from_group")
    at = serializers.DateTimeField()
    actor = serializers.DictField(allow_null=True, help_text="{id, username} of who made the change.")
    action = serializers.CharField(help_text="The service operation, e.g. contact.status.")
    reason = serializers.CharField(allow_blank=True)
    changes = serializers.DictField(help_text="{field: {before, after}}")


class GroupSerializer(StrictModelSerializer):
    organization = serializers.UUIDField(source="organization_id", required=False, allow_null=True,
                                         help_text="Organization the group belongs to (optional).")
    contact_ids = serializers.ListField(child=serializers.UUIDField(), required=False, write_only=True,
                                        max_length=10000,
                                        help_text="On create: initial members. On PUT/PATCH: replaces the members.")
    owner = serializers.IntegerField(source="owner_id", read_only=True)

    class Meta:
        model = ContactGroup
        fields = ["id", "name", "description", "organization", "owner", "contact_ids", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class GroupMembersSerializer(StrictSerializer):
    contact_ids = serializers.ListField(child=serializers.CharField(max_length=64), max_length=10000,
                                        help_text="Up to 10,000 contact ids; one unknown id changes nothing.")


class ContactTemplateSerializer(StrictModelSerializer):
    contact_type = serializers.CharField(source="contact_type_id", required=False, allow_null=True,
                                         help_text="Key of the contact type given to contacts made from it.")
    custom_fields = serializers.JSONField(required=False,
                                          help_text="Definitions: [{key, label, type (string, number, integer, "
                                                    "boolean, date, choice), required, choices}].")
    defaults = serializers.JSONField(required=False, help_text="Default values for contact fields.")

    class Meta:
        model = ContactTemplate
        fields = ["id", "name", "description", "contact_type", "defaults", "required_fields", "custom_fields",
                  "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class ReportQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=["day", "week", "month"], default="day")
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)

