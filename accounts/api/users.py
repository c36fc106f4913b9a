"""Users and their roles: list and search (for @mentions and assignment), the caller, admin writes."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts_project.pagination import PagedView
from contacts_project.pagination import page_of as _page
from contacts_project.permissions import SIGNED_IN
from contacts_project.schema import PROBLEM

from .. import roles, selectors, services
from . import serializers as s


def _admin_only(user):
    if not roles.is_admin(user):
        raise PermissionDenied("Only admins may do this.")


# --------------------------------------------------------------------------- users
def _user_dict(user) -> dict:
    names = {g.name for g in user.groups.all()}
    role = "admin" if user.is_superuser else next((r for r in roles.Role.values if r in names), None)
    return {"id": user.pk, "username": user.username, "first_name": user.first_name, "last_name": user.last_name,
            "email": user.email, "is_active": user.is_active, "role": role}


class UserListView(PagedView):
    write_permission = SIGNED_IN  # only admins create users (checked below)
    ordering_fields_map = {"username": "username", "date_joined": "date_joined"}
    default_ordering = "username"

    @extend_schema(responses={200: _page(s.UserSerializer)}, summary="Users (for @mentions and assignment)",
                   operation_id="users_list",
                   parameters=[OpenApiParameter("search", str, description="Start of a username or name.")])
    def get(self, request):
        queryset = selectors.user_list()
        term = request.query_params.get("search")
        if term:
            from django.db.models import Q

            queryset = queryset.filter(Q(username__istartswith=term) | Q(first_name__istartswith=term)
                                       | Q(last_name__istartswith=term))
        return self.paginated(request, queryset, lambda rows: [_user_dict(u) for u in rows])

    @extend_schema(request=s.UserCreateSerializer, responses={201: s.UserSerializer, 400: PROBLEM, 403: PROBLEM},
                   summary="Create a user with a role (admins)")
    def post(self, request):
        _admin_only(request.user)
        serializer = s.UserCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_create(data=dict(serializer.validated_data), actor=request.user)
        return Response(_user_dict(user), status=status.HTTP_201_CREATED)


class UserMeView(APIView):
    @extend_schema(responses={200: s.UserSerializer}, summary="The caller")
    def get(self, request):
        return Response(_user_dict(request.user))


class UserDetailView(APIView):
    write_permission = SIGNED_IN  # admins, or the user themself (checked below)
    @extend_schema(responses={200: s.UserSerializer, 404: PROBLEM}, summary="A user")
    def get(self, request, user_id):
        return Response(_user_dict(self._get(user_id)))

    @extend_schema(request=s.UserUpdateSerializer, responses={200: s.UserSerializer, 400: PROBLEM, 403: PROBLEM},
                   summary="Change a user's role, name, email or active flag (admins)")
    def patch(self, request, user_id):
        _admin_only(request.user)
        serializer = s.UserUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.user_update(user_id=self._get(user_id).pk, data=dict(serializer.validated_data),
                                    actor=request.user)
        return Response(_user_dict(self._get(user.pk)))

    def _get(self, user_id):
        from contacts_project.errors import NotFound

        try:
            user = selectors.user_list().filter(pk=int(user_id)).first()
        except (TypeError, ValueError):
            user = None
        if user is None:
            raise NotFound("User not found.")
        return user
