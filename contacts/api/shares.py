"""Contact shares: who a contact is shared with outside its team; share and unshare."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts_project.schema import PROBLEM
from contacts_project.serializers import StrictSerializer

from .. import selectors, sharing


class ShareSerializer(serializers.Serializer):
    user = serializers.IntegerField(source="user_id")
    username = serializers.CharField(source="user.username", read_only=True)
    can_edit = serializers.BooleanField()
    created_at = serializers.DateTimeField(read_only=True)


class ShareWriteSerializer(StrictSerializer):
    user = serializers.IntegerField()
    can_edit = serializers.BooleanField(default=False)


class ContactSharesView(APIView):
    write_permission = "contacts.change_contact"

    @extend_schema(responses={200: ShareSerializer(many=True), 404: PROBLEM},
                   summary="Who the contact is shared with outside its team")
    def get(self, request, contact_id):
        shares = sharing.contact_shares(contact_id=contact_id, user=request.user)
        return Response(ShareSerializer(shares, many=True).data)

    @extend_schema(request=ShareWriteSerializer, responses={200: ShareSerializer, 400: PROBLEM, 403: PROBLEM,
                                                           404: PROBLEM},
                   summary="Share the contact with a user (read, or read and change)")
    def post(self, request, contact_id):
        selectors.check_contact_access(request.user, contact_id, write=True)  # 404/403 before any body check
        serializer = ShareWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        share = sharing.contact_share(contact_id=contact_id, actor=request.user, **serializer.validated_data)
        return Response(ShareSerializer(share).data)


class ContactShareDetailView(APIView):
    write_permission = "contacts.change_contact"

    @extend_schema(responses={204: None, 403: PROBLEM, 404: PROBLEM}, summary="Stop sharing with a user")
    def delete(self, request, contact_id, user_id):
        sharing.contact_unshare(contact_id=contact_id, user_id=user_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
