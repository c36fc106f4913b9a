"""Privacy endpoints: everything held about a person (GDPR access), erasure, legal holds."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from contacts.selectors import check_contact_access
from contacts_project.serializers import StrictSerializer

from .. import privacy
from .base import ANY, PROBLEM, DataView, require


class EraseSerializer(StrictSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class HoldSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500)


class PrivacyExportView(DataView):
    @extend_schema(summary="Everything held about this person (GDPR access), as JSON",
                   responses={200: ANY, 403: PROBLEM, 404: PROBLEM})
    def get(self, request, contact_id):
        require(request, "contacts.export_personal_data")
        check_contact_access(request.user, contact_id)
        data = privacy.personal_data_export(contact_id=contact_id, actor=request.user)
        response = Response(data)
        response["Content-Disposition"] = f'attachment; filename="personal-data-{contact_id}.json"'
        return response


class PrivacyEraseView(DataView):
    write_permission = "contacts.erase_personal_data"

    @extend_schema(request=EraseSerializer, responses={200: ANY, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM},
                   summary="Erase this person's personal data (409 under legal hold)")
    def post(self, request, contact_id):
        require(request, "contacts.erase_personal_data")
        check_contact_access(request.user, contact_id, write=True)
        serializer = EraseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(privacy.contact_erase(contact_id=contact_id, actor=request.user,
                                              reason=serializer.validated_data.get("reason", "")))


class LegalHoldView(DataView):
    write_permission = "contacts.place_legal_hold"

    @extend_schema(request=HoldSerializer, responses={200: ANY, 404: PROBLEM},
                   summary="Place (POST) or lift (DELETE) a legal hold: no erasure, no retention purge")
    def post(self, request, contact_id):
        check_contact_access(request.user, contact_id, write=True)
        serializer = HoldSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        hold = privacy.legal_hold_place(contact_id=contact_id, reason=serializer.validated_data["reason"],
                                        actor=request.user)
        return Response({"contact": str(hold.contact_id), "reason": hold.reason,
                         "placed_at": hold.placed_at.isoformat()})

    @extend_schema(request=None, responses={204: None, 404: PROBLEM})
    def delete(self, request, contact_id):
        check_contact_access(request.user, contact_id, write=True)
        privacy.legal_hold_lift(contact_id=contact_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
