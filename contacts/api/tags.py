"""Tags: their contact counts, renaming and merging them on every contact."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts_project.schema import PROBLEM
from contacts_project.serializers import StrictSerializer

from ..tags import tag_counts, tag_merge
from .query_params import int_param, reject_unknown_params


class TagListView(APIView):
    @extend_schema(parameters=[OpenApiParameter("prefix", str), OpenApiParameter("limit", int)],
                   responses={200: inline_serializer("TagCounts", {"results": inline_serializer("TagCount", {
                       "tag": serializers.CharField(), "count": serializers.IntegerField()}, many=True)})},
                   summary="Tags with their contact counts, most used first")
    def get(self, request):
        reject_unknown_params(request, {"prefix", "limit"})
        limit = int_param(request, "limit", 1000, 1, 10000)
        return Response({"results": tag_counts(user=request.user, prefix=request.query_params.get("prefix", ""),
                                               limit=limit)})


class TagMergeSerializer(StrictSerializer):
    sources = serializers.ListField(child=serializers.CharField(max_length=50), min_length=1, max_length=100,
                                    help_text="Tags to rename (one) or merge (several).")
    target = serializers.CharField(max_length=50, help_text="The tag they become.")


class TagMergeView(APIView):
    write_permission = "contacts.change_contact"

    @extend_schema(request=TagMergeSerializer, summary="Rename or merge tags on every contact",
                   responses={200: OpenApiTypes.OBJECT, 400: PROBLEM})
    def post(self, request):
        serializer = TagMergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(tag_merge(actor=request.user, **serializer.validated_data))
