"""What the account endpoints share: the problem response, keyset-paginated lists and their schema."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers
from rest_framework.views import APIView

from contacts_project.pagination import KeysetCursorPagination

PROBLEM = OpenApiResponse(description="Problem details (RFC 9457) naming each bad field.")


def page_of(serializer_cls):
    return inline_serializer(
        name=f"Paginated{serializer_cls.__name__.removesuffix('Serializer')}List",
        fields={"next": serializers.URLField(allow_null=True), "previous": serializers.URLField(allow_null=True),
                "results": serializer_cls(many=True)})


class PagedView(APIView):
    ordering_fields_map = {"created_at": "created_at"}
    default_ordering = "-created_at"

    def paginated(self, request, queryset, render):
        paginator = KeysetCursorPagination()
        rows = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(render(rows))
