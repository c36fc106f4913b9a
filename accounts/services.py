"""Account writes: named API tokens, users and their roles, teams and their members.

Keyword-only functions that validate first (one 400 naming the fields) and write in one transaction inside an
audit context.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts_project.audit import audited
from contacts_project.errors import Errors, InvalidInput, NotFound
from contacts_project.ids import parse_uuid

from . import auth, roles
from .choices import Role
from .models import ApiToken, Team, TeamMembership

User = get_user_model()




# --------------------------------------------------------------------------- API tokens
def token_create(*, user, name: Any, expires_at: dt.datetime | None = None, actor=None) -> tuple[ApiToken, str]:
    """A new named token for `user`; returns it and its key (shown once: only a digest is kept)."""
    errors = Errors()
    name = errors.text({"name": name}, "name", 100, required=True)
    if expires_at is not None and expires_at <= timezone.now():
        errors.add("expires_at", "The expiry must be in the future.", "invalid")
    errors.raise_if_any()
    key = auth.new_key()
    try:
        with transaction.atomic(), audited(actor, "token.create"):
            token = ApiToken.objects.create(user=user, name=name, prefix=key[:12], digest=auth.digest(key),
                                            expires_at=expires_at)
    except IntegrityError:
        raise InvalidInput.field("name", f"You already have a token named {name!r}.", "unique")
    return token, key


def token_revoke(*, user, token_id, actor=None) -> None:
    with transaction.atomic(), audited(actor, "token.revoke"):
        if str(token_id) == "login":  # the login token of POST /auth/token/
            from rest_framework.authtoken.models import Token

            deleted, _ = Token.objects.filter(user=user).delete()
        else:
            try:
                pk = int(token_id)
            except (TypeError, ValueError):
                pk = None
            deleted, _ = ApiToken.objects.filter(user=user, pk=pk).delete() if pk else (0, {})
    if not deleted:
        raise NotFound("Token not found.")


# --------------------------------------------------------------------------- users and roles
def _role(errors: Errors, value: Any, field: str = "role") -> str | None:
    if value in (None, ""):
        return None
    if value not in Role.values:
        errors.add(field, f"{value!r} is not a role; choose one of {Role.values}.", "invalid_choice")
    return value


def user_create(*, data: dict[str, Any], actor=None):
    errors = Errors()
    errors.unknown(data, {"username", "email", "first_name", "last_name", "password", "role"})
    username = errors.text(data, "username", 150, required=True)
    email = errors.text(data, "email", 254) or ""
    first_name = errors.text(data, "first_name", 150) or ""
    last_name = errors.text(data, "last_name", 150) or ""
    role = _role(errors, data.get("role", Role.MEMBER))
    password = data.get("password")
    if password is not None and (not isinstance(password, str) or len(password) < 10):
        errors.add("password", "At least 10 characters.", "too_short")
    if username and User.objects.filter(username__iexact=username).exists():
        errors.add("username", f"The username {username!r} is taken.", "unique")
    errors.raise_if_any()
    with transaction.atomic(), audited(actor, "user.create"):
        user = User.objects.create_user(username=username, email=email, password=password, first_name=first_name,
                                        last_name=last_name)
        roles.set_role(user, role)
    return user


def user_update(*, user_id, data: dict[str, Any], actor=None):
    errors = Errors()
    errors.unknown(data, {"email", "first_name", "last_name", "role", "is_active"})
    values = {}
    for key, size in (("email", 254), ("first_name", 150), ("last_name", 150)):
        value = errors.text(data, key, size)
        if value is not None:
            values[key] = value
    if "is_active" in data:
        if not isinstance(data["is_active"], bool):
            errors.add("is_active", "Expected true or false.")
        else:
            values["is_active"] = data["is_active"]
    role = _role(errors, data.get("role")) if "role" in data else False
    errors.raise_if_any()
    with transaction.atomic(), audited(actor, "user.update"):
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            raise NotFound("User not found.")
        for key, value in values.items():
            setattr(user, key, value)
        if values:
            user.save(update_fields=list(values))
        if role is not False:
            roles.set_role(user, role)
    return user


# --------------------------------------------------------------------------- teams
def can_manage_team(user, team_id) -> bool:
    """Admins manage every team; a team's managers (membership role manager or admin) manage theirs."""
    if roles.is_admin(user):
        return True
    return TeamMembership.objects.filter(team_id=team_id, user_id=user.pk,
                                         role__in=[Role.ADMIN, Role.MANAGER]).exists()


def _team(team_id, *, lock: bool = False) -> Team:
    key = parse_uuid(team_id)
    queryset = Team.objects.select_for_update() if lock else Team.objects
    team = queryset.filter(pk=key).first() if key else None
    if team is None:
        raise NotFound("Team not found.")
    return team


def team_create(*, data: dict[str, Any], actor=None) -> Team:
    if not roles.is_admin(actor):
        raise PermissionDenied("Only admins create teams.")
    errors = Errors()
    errors.unknown(data, {"name"})
    name = errors.text(data, "name", 100, required=True)
    if name and Team.objects.filter(name__iexact=name).exists():
        errors.add("name", f"A team named {name!r} exists.", "unique")
    errors.raise_if_any()
    with transaction.atomic(), audited(actor, "team.create"):
        return Team.objects.create(name=name)


def team_update(*, team_id, data: dict[str, Any], actor=None) -> Team:
    errors = Errors()
    errors.unknown(data, {"name"})
    name = errors.text(data, "name", 100, required="name" in data)
    if name and Team.objects.filter(name__iexact=name).exclude(pk=parse_uuid(team_id)).exists():
        errors.add("name", f"A team named {name!r} exists.", "unique")
    errors.raise_if_any()
    with transaction.atomic(), audited(actor, "team.update"):
        team = _team(team_id, lock=True)
        if not can_manage_team(actor, team.pk):
            raise PermissionDenied("Only the team's managers and admins change its settings.")
        if name:
            team.name = name
            team.save(update_fields=["name"])
    return team


def team_delete(*, team_id, actor=None) -> None:
    if not roles.is_admin(actor):
        raise PermissionDenied("Only admins delete teams.")
    with transaction.atomic(), audited(actor, "team.delete"):
        _team(team_id, lock=True).delete()


def team_member_set(*, team_id, user: Any, role: Any = Role.MEMBER, actor=None) -> TeamMembership:
    """Add a user to a team with a role, or change their role there."""
    errors = Errors()
    role = _role(errors, role) or Role.MEMBER
    try:
        user_id = int(user)
    except (TypeError, ValueError):
        user_id = None
    if user_id is None or not User.objects.filter(pk=user_id, is_active=True).exists():
        errors.add("user", f"No active user with id {user!r}.", "does_not_exist")
    errors.raise_if_any()
    with transaction.atomic(), audited(actor, "team.member_set", role=role):
        team = _team(team_id, lock=True)
        if not can_manage_team(actor, team.pk):
            raise PermissionDenied("Only the team's managers and admins manage its members.")
        if role == Role.ADMIN and not roles.is_admin(actor):
            raise PermissionDenied("Only admins make team admins.")
        membership, _ = TeamMembership.objects.update_or_create(team=team, user_id=user_id,
                                                                defaults={"role": role})
    return membership


def team_member_remove(*, team_id, user_id, actor=None) -> None:
    with transaction.atomic(), audited(actor, "team.member_remove"):
        team = _team(team_id, lock=True)
        if not can_manage_team(actor, team.pk):
            raise PermissionDenied("Only the team's managers and admins manage its members.")
        try:
            user_id = int(user_id)
        except (TypeError, ValueError):
            raise NotFound("Member not found.")
        deleted, _ = TeamMembership.objects.filter(team=team, user_id=user_id).delete()
    if not deleted:
        raise NotFound("Member not found.")
