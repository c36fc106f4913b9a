"""Hierarchies: an organization's tree (ancestors and subtree with contact counts), merging organizations, a
contact's reports through `reports_to`."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts_project.schema import PROBLEM
from contacts_project.serializers import StrictSerializer

from ..hierarchy import MAX_DEPTH, contact_reports, organization_tree
from ..organization_services import organization_merge
from .query_params import int_param, reject_unknown_params


class OrganizationTreeView(APIView):
    """Ancestors (root first) and the subtree of an organization, each node with its contact count."""

    @extend_schema(parameters=[OpenApiParameter("depth", int, description="Levels below the organization "
                                                                             "(default: all).")],
                   responses={200: OpenApiTypes.OBJECT, 404: PROBLEM}, summary="An organization's tree")
    def get(self, request, organization_id):
        reject_unknown_params(request, {"depth"})
        depth = int_param(request, "depth", None, 0, MAX_DEPTH)
        return Response(organization_tree(organization_id=organization_id, max_depth=depth))


class OrganizationMergeSerializer(StrictSerializer):
    other = serializers.UUIDField(help_text="The organization merged into this one (and then deleted).")


class OrganizationMergeView(APIView):
    write_permission = "organization.delete_organization"

    @extend_schema(request=OrganizationMergeSerializer, summary="Merge another organization into this one",
                   responses={200: inline_serializer("OrganizationMerged", {
                       "organization": serializers.UUIDField(), "merged": serializers.UUIDField(),
                       "contacts": serializers.IntegerField(), "groups": serializers.IntegerField(),
                       "children": serializers.IntegerField()}), 400: PROBLEM, 404: PROBLEM, 409: PROBLEM})
    def post(self, request, organization_id):
        serializer = OrganizationMergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(organization_merge(organization_id=organization_id,
                                           other_id=serializer.validated_data["other"], actor=request.user))


class ContactReportsView(APIView):
    """Direct (depth 1) and indirect reports of a contact, through `reports_to`."""

    @extend_schema(parameters=[OpenApiParameter("max_depth", int, description="1 for direct reports only.")],
                   responses={200: OpenApiTypes.OBJECT, 404: PROBLEM}, summary="A contact's reports")
    def get(self, request, contact_id):
        reject_unknown_params(request, {"max_depth"})
        depth = int_param(request, "max_depth", None, 1, MAX_DEPTH)
        return Response(contact_reports(contact_id=contact_id, user=request.user, max_depth=depth))
