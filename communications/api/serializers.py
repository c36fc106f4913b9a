"""Communication API shapes. Input serializers check types and formats; services check the rest."""
from rest_framework import serializers

from contacts_project.serializers import StrictSerializer

from ..choices import Channel, CommunicationStatus, ConsentStatus, Direction, Purpose, SuppressionReason
from ..models import (
    Communication,
    CommunicationStatusEvent,
    ContactPreference,
    DeliveryEvent,
    Suppression,
)


class CommunicationSerializer(serializers.ModelSerializer):
    contact = serializers.UUIDField(source="contact_id", read_only=True)
    template = serializers.UUIDField(source="template_id", read_only=True, allow_null=True)
    in_reply_to = serializers.UUIDField(source="in_reply_to_id", read_only=True, allow_null=True)

    class Meta:
        model = Communication
        fields = ["id", "contact", "type", "direction", "purpose", "subject", "content", "html_content", "template",
                  "status", "status_reason", "status_changed_at", "scheduled_at", "sent_at", "to_address",
                  "provider_message_id", "attempts", "campaign_id", "in_reply_to", "metadata", "created_at",
                  "updated_at"]
        read_only_fields = fields


class CommunicationCreateSerializer(StrictSerializer):
    contact = serializers.UUIDField(help_text="Contact id.")
    type = serializers.ChoiceField(choices=Channel.choices, help_text="Channel: email, sms, call, meeting, note.")
    direction = serializers.ChoiceField(choices=Direction.choices, required=False, default=Direction.OUTBOUND)
    purpose = serializers.ChoiceField(choices=Purpose.choices, required=False, default=Purpose.TRANSACTIONAL,
                                      help_text="Consent purpose; marketing and newsletter need an opt-in.")
    subject = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    content = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False,
                                    help_text="Text body (SMS: the message).")
    html_content = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    template = serializers.UUIDField(required=False, allow_null=True,
                                     help_text="Message template rendered for the contact at send time.")
    status = serializers.ChoiceField(choices=CommunicationStatus.choices, required=False,
                                     help_text="Outbound email/SMS: draft or scheduled (default). Logged: sent "
                                               "(outbound, default), delivered (inbound, default), replied, cancelled.")
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True,
                                             help_text="When to send; empty or up to an hour ago means now; "
                                                       "further in the past is a 400.")
    occurred_at = serializers.DateTimeField(required=False, allow_null=True,
                                            help_text="For logged calls, meetings, notes and inbound messages.")
    in_reply_to = serializers.UUIDField(required=False, allow_null=True,
                                        help_text="Inbound only: the message this replies to (becomes `replied`).")
    campaign_id = serializers.UUIDField(required=False, allow_null=True)
    metadata = serializers.DictField(required=False, default=dict)


class CommunicationUpdateSerializer(StrictSerializer):
    purpose = serializers.ChoiceField(choices=Purpose.choices, required=False)
    subject = serializers.CharField(max_length=255, required=False, allow_blank=True)
    content = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    html_content = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    template = serializers.UUIDField(required=False, allow_null=True)
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Reschedule.")
    campaign_id = serializers.UUIDField(required=False, allow_null=True)
    metadata = serializers.DictField(required=False)


class CommunicationStatusSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=CommunicationStatus.choices)
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True,
                                             help_text="With status `scheduled`: the new time (default now).")


class StatusEventSerializer(serializers.ModelSerializer):
    actor = serializers.IntegerField(source="actor_id", read_only=True, allow_null=True)

    class Meta:
        model = CommunicationStatusEvent
        fields = ["at", "from_status", "to_status", "reason", "source", "actor"]


class DeliveryEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryEvent
        fields = ["id", "provider", "provider_event_id", "event_type", "occurred_at", "description", "url"]


class MessageTemplateSerializer(StrictSerializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(max_length=150)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    channel = serializers.ChoiceField(choices=[(Channel.EMAIL, "Email"), (Channel.SMS, "SMS")],
                                      required=False, default=Channel.EMAIL)
    purpose = serializers.ChoiceField(choices=Purpose.choices, required=False, default=Purpose.TRANSACTIONAL)
    subject = serializers.CharField(max_length=998, required=False, allow_blank=True, default="",
                                    help_text="Merge fields: {{ contact.first_name }}, {{ custom.<key> }}, "
                                              "{{ organization.name }}, {{ unsubscribe_url }}.")
    text_body = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    html_body = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    is_active = serializers.BooleanField(required=False, default=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class MessageTemplatePartialSerializer(MessageTemplateSerializer):
    """PATCH: no defaults, only what is given changes."""

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            if not field.read_only:
                field.required = False
                field.default = serializers.empty
        return fields


class PreviewRequestSerializer(StrictSerializer):
    contact = serializers.UUIDField(help_text="Contact whose fields fill the merge fields.")


class PreviewSerializer(serializers.Serializer):
    subject = serializers.CharField()
    text = serializers.CharField()
    html = serializers.CharField()
    to = serializers.CharField()
    segments = serializers.IntegerField(required=False, help_text="SMS only.")
    encoding = serializers.CharField(required=False, help_text="SMS only: gsm7 or ucs2.")


class PreferenceEntrySerializer(StrictSerializer):
    channel = serializers.ChoiceField(choices=[(Channel.EMAIL, "Email"), (Channel.SMS, "SMS")])
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    status = serializers.ChoiceField(choices=ConsentStatus.choices)
    source = serializers.CharField(max_length=100, help_text="Where it was given, e.g. signup_form, phone_call.")
    wording = serializers.CharField(required=False, allow_blank=True, default="",
                                    help_text="The consent text the contact was shown.")


class QuietHoursSerializer(StrictSerializer):
    start = serializers.CharField(max_length=8, help_text="HH:MM in the recipient's time zone, e.g. 21:00.")
    end = serializers.CharField(max_length=8, help_text="HH:MM, e.g. 08:00 (may wrap past midnight).")
    timezone = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                     help_text="IANA zone; empty: the contact's time zone.")


class PreferencesUpdateSerializer(StrictSerializer):
    preferences = PreferenceEntrySerializer(many=True, required=False)
    quiet_hours = QuietHoursSerializer(required=False, allow_null=True,
                                       help_text="Null removes them; absent leaves them unchanged.")


class ConsentPreferenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactPreference
        fields = ["channel", "purpose", "status", "source", "wording", "ip_address", "api_client", "recorded_at"]


class SuppressionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Suppression
        fields = ["id", "channel", "address", "reason", "source", "note", "created_at"]
        read_only_fields = fields


class SuppressionCreateSerializer(StrictSerializer):
    channel = serializers.ChoiceField(choices=[(Channel.EMAIL, "Email"), (Channel.SMS, "SMS")])
    address = serializers.CharField(max_length=320)
    reason = serializers.ChoiceField(choices=SuppressionReason.choices, required=False,
                                     default=SuppressionReason.MANUAL)
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
