"""Teams and their members."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts_project.pagination import PagedView
from contacts_project.pagination import page_of as _page
from contacts_project.permissions import SIGNED_IN
from contacts_project.schema import PROBLEM

from .. import selectors, services
from . import serializers as s


# --------------------------------------------------------------------------- teams
class TeamListView(PagedView):
    write_permission = SIGNED_IN  # the services check the role
    ordering_fields_map = {"name": "name", "created_at": "created_at"}
    default_ordering = "name"

    @extend_schema(responses={200: _page(s.TeamSerializer)}, summary="Teams", operation_id="teams_list")
    def get(self, request):
        return self.paginated(request, selectors.team_list(), lambda rows: s.TeamSerializer(rows, many=True).data)

    @extend_schema(request=s.TeamWriteSerializer, responses={201: s.TeamSerializer, 400: PROBLEM, 403: PROBLEM},
                   summary="Create a team (admins)")
    def post(self, request):
        serializer = s.TeamWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        team = services.team_create(data=dict(serializer.validated_data), actor=request.user)
        return Response(s.TeamSerializer(selectors.team_get(team_id=team.pk)).data, status=status.HTTP_201_CREATED)


class TeamDetailView(APIView):
    write_permission = SIGNED_IN  # the services check the role
    @extend_schema(responses={200: s.TeamSerializer, 404: PROBLEM}, summary="A team")
    def get(self, request, team_id):
        return Response(s.TeamSerializer(selectors.team_get(team_id=team_id)).data)

    @extend_schema(request=s.TeamWriteSerializer, responses={200: s.TeamSerializer, 400: PROBLEM, 403: PROBLEM},
                   summary="Rename a team (its managers and admins)")
    def patch(self, request, team_id):
        serializer = s.TeamWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.team_update(team_id=team_id, data=dict(serializer.validated_data), actor=request.user)
        return Response(s.TeamSerializer(selectors.team_get(team_id=team_id)).data)

    @extend_schema(responses={204: None, 403: PROBLEM, 404: PROBLEM}, summary="Delete a team (admins)")
    def delete(self, request, team_id):
        services.team_delete(team_id=team_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamMembersView(APIView):
    write_permission = SIGNED_IN  # the services check the role
    @extend_schema(responses={200: s.TeamMemberSerializer(many=True), 404: PROBLEM}, summary="A team's members")
    def get(self, request, team_id):
        members = selectors.team_members(team_id=team_id).order_by("user__username")
        return Response(s.TeamMemberSerializer(members, many=True).data)

    @extend_schema(request=s.TeamMemberWriteSerializer,
                   responses={200: s.TeamMemberSerializer, 400: PROBLEM, 403: PROBLEM, 404: PROBLEM},
                   summary="Add a member or change their role (the team's managers and admins)")
    def post(self, request, team_id):
        serializer = s.TeamMemberWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.team_member_set(team_id=team_id, actor=request.user, **serializer.validated_data)
        return Response(s.TeamMemberSerializer(membership).data)


class TeamMemberDetailView(APIView):
    write_permission = SIGNED_IN  # the services check the role
    @extend_schema(responses={204: None, 403: PROBLEM, 404: PROBLEM}, summary="Remove a member")
    def delete(self, request, team_id, user_id):
        services.team_member_remove(team_id=team_id, user_id=user_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
