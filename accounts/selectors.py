"""Account reads: active users, teams with their member counts, a team's members."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Count, QuerySet

from contacts_project.errors import NotFound
from contacts_project.ids import parse_uuid

from .models import Team, TeamMembership

User = get_user_model()


# --------------------------------------------------------------------------- users and teams
def user_list() -> QuerySet:
    return User.objects.filter(is_active=True).prefetch_related("groups")


def team_list() -> QuerySet[Team]:
    return Team.objects.annotate(member_count=Count("teammembership"))


def team_get(*, team_id) -> Team:
    key = parse_uuid(team_id)
    team = team_list().filter(pk=key).first() if key else None
    if team is None:
        raise NotFound("Team not found.")
    return team


def team_members(*, team_id) -> QuerySet[TeamMembership]:
    team = team_get(team_id=team_id)
    return TeamMembership.objects.filter(team=team).select_related("user")
