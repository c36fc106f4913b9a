"""Keyset (cursor) pagination on an indexed ordering: constant cost at any depth, no COUNT(*).

The ordering is one of the view's `ordering_fields` (ascending or descending) with the primary key as
tie-breaker, so every position is unique. The cursor is an opaque token holding the last row's values.
The filter keeps a plain `field >= value` bound beside the OR so PostgreSQL starts the index scan at the
cursor instead of filtering from the first row.
"""
from __future__ import annotations

import base64
from collections import OrderedDict

import orjson
from django.db.models import Q
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from contacts_project.errors import InvalidInput

MAX_PAGE_SIZE = 500


def _encode(payload: list) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def _decode(token: str) -> list:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise InvalidInput.field("cursor", "Invalid cursor.", "invalid_cursor")
    if not (isinstance(data, list) and len(data) == 4 and data[3] in ("n", "p")):
        raise InvalidInput.field("cursor", "Invalid cursor.", "invalid_cursor")
    return data


class KeysetCursorPagination(BasePagination):
    page_size = 50
    max_page_size = MAX_PAGE_SIZE
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    ordering_query_param = "ordering"

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            raise InvalidInput.field("page_size", "page_size must be a whole number.")
        if size < 1:
            raise InvalidInput.field("page_size", "page_size must be at least 1.")
        return min(size, self.max_page_size)  # above the maximum: clamped, as documented

    def get_ordering(self, request, view) -> tuple[str, bool]:
        fields: dict = getattr(view, "ordering_fields_map", {"created_at": "created_at"})
        raw = request.query_params.get(self.ordering_query_param) or getattr(view, "default_ordering", "-created_at")
        descending = raw.startswith("-")
        name = raw.lstrip("-")
        if name not in fields:
            raise InvalidInput.field("ordering", f"Cannot order by {name!r}; choose one of: {', '.join(sorted(fields))}"
                                     " (prefix '-' for descending).", "invalid_choice")
        return fields[name], descending

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size_value = self.get_page_size(request)
        field, descending = self.get_ordering(request, view)
        self.field, self.descending = field, descending
        token = request.query_params.get(self.cursor_query_param)
        model = queryset.model
        pk = model._meta.pk.name
        # annotations (e.g. a computed score) have no model field: their cursor value is used as given
        model_field = next((f for f in model._meta.concrete_fields if f.name == field), None)

        direction = "n"
        if token:
            value, pk_value, ordering_name, direction = _decode(token)
            if ordering_name != ("-" if descending else "") + field:
                raise InvalidInput.field("cursor", "The cursor belongs to another ordering.", "invalid_cursor")
            try:
                value = model_field.to_python(value) if model_field is not None else value
                pk_value = model._meta.pk.to_python(pk_value)
            except Exception:  # noqa: BLE001 - any malformed value in a hand-edited cursor is a 400
                raise InvalidInput.field("cursor", "Invalid cursor.", "invalid_cursor")
            forward = direction == "n"
            greater = forward != descending  # moving towards larger values?
            op = "gt" if greater else "lt"
            bound = Q(**{f"{field}__{op}e": value}) & (Q(**{f"{field}__{op}": value}) | Q(**{f"{pk}__{op}": pk_value}))
            queryset = queryset.filter(bound)
        reverse = direction == "p"
        scan_descending = descending != reverse
        order = [f"-{field}", f"-{pk}"] if scan_descending else [field, pk]
        rows = list(queryset.order_by(*order)[: self.page_size_value + 1])
        has_more = len(rows) > self.page_size_value
        rows = rows[: self.page_size_value]
        if reverse:
            rows.reverse()
        self.rows, self.pk = rows, pk
        if reverse:
            self.has_next, self.has_previous = bool(rows), has_more
        else:
            self.has_next, self.has_previous = has_more, bool(token) and bool(rows)
        return rows

    def _cursor_url(self, row, direction: str) -> str:
        value = getattr(row, self.field)
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        elif value is not None and not isinstance(value, (int, float, str, bool)):
            value = str(value)
        ordering_name = ("-" if self.descending else "") + self.field
        token = _encode([value, str(getattr(row, self.pk)), ordering_name, direction])
        return replace_query_param(self.request.build_absolute_uri(), self.cursor_query_param, token)

    def get_next_link(self) -> str | None:
        if not (self.has_next and self.rows):
            return None
        return self._cursor_url(self.rows[-1], "n")

    def get_previous_link(self) -> str | None:
        if not (self.has_previous and self.rows):
            return None
        return self._cursor_url(self.rows[0], "p")

    def get_paginated_response(self, data):
        return Response(OrderedDict([("next", self.get_next_link()), ("previous", self.get_previous_link()),
                                     ("results", data)]))

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        fields = sorted(getattr(view, "ordering_fields_map", {"created_at": None}))
        return [
            {"name": self.cursor_query_param, "required": False, "in": "query",
             "description": "Opaque cursor from a `next` or `previous` link.", "schema": {"type": "string"}},
            {"name": self.page_size_query_param, "required": False, "in": "query",
             "description": f"Rows per page (default {self.page_size}, values above {self.max_page_size} are clamped).",
             "schema": {"type": "integer", "minimum": 1}},
            {"name": self.ordering_query_param, "required": False, "in": "query",
             "description": f"One of {', '.join(fields)}; prefix '-' for descending.",
             "schema": {"type": "string"}},
        ]



def page_of(serializer_cls):
    """The OpenAPI shape of one keyset page of `serializer_cls` rows."""
    from drf_spectacular.utils import inline_serializer
    from rest_framework import serializers

    return inline_serializer(
        name=f"Paginated{serializer_cls.__name__.removesuffix('Serializer')}List",
        fields={"next": serializers.URLField(allow_null=True), "previous": serializers.URLField(allow_null=True),
                "results": serializer_cls(many=True)})


class PagedView(APIView):
    """An APIView whose list answers are keyset pages (`ordering` among `ordering_fields_map`)."""
    ordering_fields_map = {"created_at": "created_at"}
    default_ordering = "-created_at"

    def paginated(self, request, queryset, render):
        paginator = KeysetCursorPagination()
        rows = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(render(rows))
