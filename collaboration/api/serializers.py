"""Collaboration API shapes. Inputs are strict (unknown fields → 400); services validate the values."""
from rest_framework import serializers

from contacts_project.serializers import StrictSerializer

from ..choices import NotificationKind, WebhookEvent


# --------------------------------------------------------------------------- notes
class NoteSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    contact = serializers.UUIDField(source="contact_id", allow_null=True)
    organization = serializers.UUIDField(source="organization_id", allow_null=True)
    campaign = serializers.UUIDField(source="campaign_id", allow_null=True)
    parent = serializers.UUIDField(source="parent_id", allow_null=True)
    author = serializers.IntegerField(source="author_id", allow_null=True)
    author_username = serializers.SerializerMethodField()
    body = serializers.CharField()
    mentions = serializers.SerializerMethodField()
    reply_count = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)

    def get_author_username(self, note) -> str | None:
        return note.author.username if note.author_id else None

    def get_mentions(self, note) -> list[int]:
        ids = getattr(note, "mention_ids", None)
        if ids is None:
            ids = list(note.mention_rows.values_list("user_id", flat=True))
        return sorted(i for i in ids if i is not None)

    def get_reply_count(self, note) -> int:
        return getattr(note, "reply_count", 0)


class NoteCreateSerializer(StrictSerializer):
    contact = serializers.CharField(required=False, allow_null=True)
    organization = serializers.CharField(required=False, allow_null=True)
    campaign = serializers.CharField(required=False, allow_null=True)
    parent = serializers.CharField(required=False, allow_null=True,
                                   help_text="Reply to this note (a threaded comment); takes its target.")
    body = serializers.CharField(help_text="Text; `@username` mentions a user (an unknown one is a 400).",
                                 trim_whitespace=False)


class NoteUpdateSerializer(StrictSerializer):
    body = serializers.CharField(trim_whitespace=False)


class NoteVersionSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    event = serializers.CharField()
    body = serializers.CharField()
    editor = serializers.DictField(allow_null=True)


# --------------------------------------------------------------------------- attachments
class AttachmentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    contact = serializers.UUIDField(source="contact_id", allow_null=True)
    organization = serializers.UUIDField(source="organization_id", allow_null=True)
    note = serializers.UUIDField(source="note_id", allow_null=True)
    filename = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    uploaded_by = serializers.IntegerField(source="uploaded_by_id", allow_null=True)
    created_at = serializers.DateTimeField()
    download_url = serializers.SerializerMethodField(help_text="Signed link, valid ATTACHMENT_URL_MAX_AGE seconds.")

    def get_download_url(self, attachment) -> str:
        return self.context["download_url"](attachment)


class AttachmentUploadSerializer(StrictSerializer):
    file = serializers.FileField(required=False)
    contact = serializers.CharField(required=False)
    organization = serializers.CharField(required=False)
    note = serializers.CharField(required=False)


# --------------------------------------------------------------------------- notifications
class NotificationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=NotificationKind.choices)
    title = serializers.CharField()
    body = serializers.CharField()
    data = serializers.DictField()
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)


class PreferenceSerializer(StrictSerializer):
    muted_kinds = serializers.ListField(child=serializers.CharField(), required=False,
                                        help_text=f"Kinds to mute: {', '.join(NotificationKind.values)}.")
    email_digest = serializers.BooleanField(required=False)


# --------------------------------------------------------------------------- webhooks
class WebhookSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.URLField()
    description = serializers.CharField()
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.choices))
    filters = serializers.DictField()
    is_active = serializers.BooleanField()
    consecutive_failures = serializers.IntegerField()
    disabled_at = serializers.DateTimeField(allow_null=True)
    disabled_reason = serializers.CharField()
    owner = serializers.IntegerField(source="owner_id")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WebhookWithSecretSerializer(WebhookSerializer):
    secret = serializers.CharField(help_text="whsec_…: verify `webhook-signature` with it (Standard Webhooks).")


class WebhookWriteSerializer(StrictSerializer):
    url = serializers.CharField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    event_types = serializers.ListField(child=serializers.CharField(), required=False)
    filters = serializers.DictField(required=False)
    is_active = serializers.BooleanField(required=False)


class DeliverySerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The webhook-id header.")
    event = serializers.CharField()
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    response_code = serializers.IntegerField(allow_null=True)
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)


class AttemptSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    response_code = serializers.IntegerField(allow_null=True)
    response_body = serializers.CharField()
    error = serializers.CharField()
    duration_ms = serializers.IntegerField()


class DeliveryDetailSerializer(DeliverySerializer):
    payload = serializers.DictField()
    attempt_log = AttemptSerializer(many=True)


class ActivitySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    id = serializers.CharField()
    data = serializers.DictField()
