"""Account API shapes. Inputs are strict (unknown fields → 400); services validate the values."""
from rest_framework import serializers

from contacts_project.serializers import StrictSerializer

from ..choices import Role


# --------------------------------------------------------------------------- tokens and users
class TokenCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class TokenSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The first characters of the key.")
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)


class TokenCreatedSerializer(TokenSerializer):
    key = serializers.CharField(help_text="Shown once. Send it as `Authorization: Token <key>`.")


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    email = serializers.CharField(help_text="May be empty.")
    is_active = serializers.BooleanField()
    role = serializers.ChoiceField(choices=Role.choices, allow_null=True)


class UserCreateSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    email = serializers.EmailField(required=False, allow_blank=True)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    password = serializers.CharField(required=False, write_only=True)
    role = serializers.ChoiceField(choices=Role.choices, required=False)


class UserUpdateSerializer(StrictSerializer):
    email = serializers.EmailField(required=False, allow_blank=True)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=Role.choices, required=False, allow_null=True)
    is_active = serializers.BooleanField(required=False)


# --------------------------------------------------------------------------- teams
class TeamSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(max_length=100)
    member_count = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class TeamWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)


class TeamMemberSerializer(serializers.Serializer):
    user = serializers.IntegerField(source="user_id")
    username = serializers.CharField(source="user.username")
    role = serializers.ChoiceField(choices=Role.choices)


class TeamMemberWriteSerializer(StrictSerializer):
    user = serializers.IntegerField()
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)
