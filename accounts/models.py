"""Teams, team memberships and named API tokens (users and roles are Django's users and groups).

The tables keep the names they had in the apps these models came from (organization, collaboration), so an
installation upgrades in place: the move was a state-only migration.
"""
from django.conf import settings
from django.db import models

from contacts_project.ids import uuid7

from .choices import TeamRole


class Team(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="TeamMembership", related_name="teams")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "organization_team"

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships")
    role = models.CharField(max_length=20, choices=TeamRole.choices, default=TeamRole.MEMBER)

    class Meta:
        db_table = "organization_teammembership"
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="team_membership_unique")]


class ApiToken(models.Model):
    """A named API token of a user; only a SHA-256 digest is stored (the key is shown once, at creation)."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens",
                             db_index=False)
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="First characters of the key, to recognise it.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "collaboration_apitoken"
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="api_token_unique_name_per_user")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
