from rest_framework import serializers

from ..models import Communication


class CommunicationSerializer(serializers.ModelSerializer):
    contact = serializers.UUIDField(source="contact_id", read_only=True)

    class Meta:
        model = Communication
        fields = ["id", "contact", "type", "direction", "subject", "content", "status", "status_reason", "purpose",
                  "scheduled_at", "sent_at", "provider_message_id", "campaign_id", "metadata", "created_at",
                  "updated_at"]
        read_only_fields = fields
