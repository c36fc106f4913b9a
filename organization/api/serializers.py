from rest_framework import serializers

from contacts_project.serializers import StrictModelSerializer

from ..models import Category, ContactType, Organization


class OrganizationSerializer(StrictModelSerializer):
    parent = serializers.UUIDField(source="parent_id", allow_null=True, required=False,
                                   help_text="Id of the parent organization.")
    category = serializers.UUIDField(source="category_id", allow_null=True, required=False,
                                     help_text="Id of the organization's category.")

    class Meta:
        model = Organization
        fields = ["id", "name", "domain", "parent", "category", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"name": {"help_text": "Legal or display name."}}


class ContactTypeSerializer(StrictModelSerializer):
    key = serializers.SlugField(max_length=50, help_text="Stable key stored on contacts; cannot change.")

    class Meta:
        model = ContactType
        fields = ["key", "label", "description", "is_active", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class CategorySerializer(StrictModelSerializer):
    parent = serializers.UUIDField(source="parent_id", allow_null=True, required=False,
                                   help_text="Id of the parent category; empty for a root.")

    class Meta:
        model = Category
        fields = ["id", "name", "parent", "description", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]

