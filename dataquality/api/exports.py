"""The bulk export of the contact list (any list filter) as CSV, vCard or JSContact, streamed."""
from __future__ import annotations

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation

from contacts.filters import ContactFilter
from contacts.selectors import contact_list
from contacts_project.db_router import on_replica
from contacts_project.errors import InvalidInput

from .. import exports, privacy
from .base import PROBLEM, DataView, require


class IgnoreFormatParameter(DefaultContentNegotiation):
    """`?format=csv|vcf|json` picks the export format here, not a DRF renderer (which would 404)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ContactExportView(DataView):
    content_negotiation_class = IgnoreFormatParameter

    @extend_schema(summary="Export contacts (any list filter) as CSV, vCard 4.0 or JSContact JSON, streamed",
                   parameters=[OpenApiParameter("format", str, enum=list(exports.FORMATS)),
                               *(OpenApiParameter(name, str, description=f.extra.get("help_text") or "A list filter.")
                                 for name, f in ContactFilter.base_filters.items())],
                   responses={(200, "text/csv"): OpenApiTypes.STR, (200, "text/vcard"): OpenApiTypes.STR,
                              (200, "application/json"): OpenApiTypes.ANY, 400: PROBLEM, 403: PROBLEM})
    def get(self, request):
        require(request, "contacts.export_contacts")
        fmt = request.query_params.get("format", "csv")
        if fmt not in exports.FORMATS:
            raise InvalidInput.field("format", f"Choose one of {list(exports.FORMATS)}.", "invalid_choice")
        filterset = ContactFilter(request.query_params, queryset=contact_list(request.user))
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        privacy.log_access(action="bulk_export", contact_key=None, actor=request.user,
                           detail={"format": fmt, "filters": {k: v for k, v in request.query_params.items()
                                                              if k != "format"}})
        # streamed after the view returns: the queryset itself is pinned to a replica that may serve this user
        rows = on_replica(filterset.qs, request.user)
        response = StreamingHttpResponse(exports.STREAMS[fmt](rows), content_type=exports.FORMATS[fmt])
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="contacts-{stamp}.{exports.EXTENSIONS[fmt]}"'
        return response
