"""Roles as Django groups with model permissions, and the questions every view asks about a user.

- viewer: reads everything they may see, writes nothing (view_* permissions only).
- member: also creates, changes and deletes the data of their teams: contacts, groups, communications,
  planning, notes and attachments.
- manager: also the settings of the teams they manage (team name, members and their roles), categories,
  contact types and tags.
- admin: every permission, and sees every contact whatever its team (superusers too).

Groups are created (and their permissions reset to these) by `manage.py setup_roles`, which also runs after
every `migrate` (post_migrate), so a fresh database and the test database have them.
"""
from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from .choices import Role

DATA_APPS = ("accounts", "organization", "contacts", "dataquality", "communications", "planning", "collaboration")
MEMBER_WRITE_APPS = ("contacts", "dataquality", "communications", "planning")
MEMBER_WRITE_MODELS = {
    "organization": {"organization"},
    "collaboration": {"note", "notemention", "attachment", "notification", "notificationpreference"},
}
MANAGER_WRITE_MODELS = {
    "accounts": {"team", "teammembership"},
    "organization": {"category", "contacttype", "tag"},
}


def _permissions(role: str):
    if role == Role.ADMIN:
        return Permission.objects.all()
    query = Q(content_type__app_label__in=DATA_APPS, codename__startswith="view_")
    if role in (Role.MEMBER, Role.MANAGER):
        query |= Q(content_type__app_label__in=MEMBER_WRITE_APPS)
        models = dict(MEMBER_WRITE_MODELS)
        if role == Role.MANAGER:
            models = {app: models.get(app, set()) | MANAGER_WRITE_MODELS.get(app, set())
                      for app in {*models, *MANAGER_WRITE_MODELS}}
        for app, names in models.items():
            query |= Q(content_type__app_label=app, content_type__model__in=names)
    return Permission.objects.filter(query)


def setup_roles(verbosity: int = 0) -> dict[str, int]:
    """Create the four groups and set their permissions (idempotent)."""
    counts = {}
    for role in Role.values:
        group, _ = Group.objects.get_or_create(name=role)
        permissions = list(_permissions(role))
        group.permissions.set(permissions)
        counts[role] = len(permissions)
    return counts


def user_role(user) -> str | None:
    """The user's role: admin for superusers, else the highest role group they are in."""
    if not (user and user.is_authenticated):
        return None
    if user.is_superuser:
        return Role.ADMIN
    cached = getattr(user, "_account_role", False)
    if cached is not False:
        return cached
    names = set(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
    role = next((r for r in Role.values if r in names), None)  # Role.values is ordered admin → viewer
    user._account_role = role
    return role


def is_admin(user) -> bool:
    return user_role(user) == Role.ADMIN


def set_role(user, role: str | None) -> None:
    """Put the user in exactly one role group (or none)."""
    user.groups.remove(*Group.objects.filter(name__in=Role.values).exclude(name=role or ""))
    if role:
        user.groups.add(Group.objects.get(name=role))
    user.__dict__.pop("_account_role", None)
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cache, None)
