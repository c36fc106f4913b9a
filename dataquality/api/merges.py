"""Merge endpoints: merge another contact into one, a merge record, undo."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from contacts.selectors import check_contact_access, contact_get, contact_to_dict
from contacts_project.ids import parse_uuid
from contacts_project.serializers import StrictSerializer

from .. import merges, selectors
from .base import ANY, PROBLEM, DataView


class MergeSerializer(StrictSerializer):
    other = serializers.CharField(help_text="Id of the contact merged into this one (it is deleted).")
    fields = serializers.DictField(child=serializers.CharField(), required=False,
                                   help_text='field → "survivor" | "other"; unnamed fields keep the survivor\'s '
                                             "value unless it is empty.")


class MergeView(DataView):
    write_permission = "contacts.merge_contacts"

    @extend_schema(request=MergeSerializer, responses={200: ANY, 400: PROBLEM, 404: PROBLEM},
                   summary="Merge another contact into this one (undoable for MERGE_UNDO_DAYS)")
    def post(self, request, contact_id):
        check_contact_access(request.user, contact_id, write=True)  # 404/403 before any body check
        serializer = MergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if parse_uuid(serializer.validated_data["other"]) is not None:  # a malformed id is the service's 400
            check_contact_access(request.user, serializer.validated_data["other"], write=True)
        record = merges.contact_merge(survivor_id=contact_id, other_id=serializer.validated_data["other"],
                                      fields=serializer.validated_data.get("fields"), actor=request.user)
        return Response({"merge": merges.merge_to_dict(record),
                         "contact": contact_to_dict(contact_get(contact_id=record.survivor_key))})


class MergeDetailView(DataView):
    @extend_schema(responses={200: ANY, 404: PROBLEM}, summary="A merge record")
    def get(self, request, merge_id):
        record = selectors.merge_record_get(merge_id=merge_id, user=request.user)
        return Response(merges.merge_to_dict(record))


class MergeUndoView(DataView):
    write_permission = "contacts.merge_contacts"

    @extend_schema(request=None, responses={200: ANY, 404: PROBLEM, 409: PROBLEM},
                   summary="Undo a merge (within MERGE_UNDO_DAYS; later is 409)")
    def post(self, request, merge_id):
        selectors.merge_record_get(merge_id=merge_id, user=request.user, write=True)
        record = merges.merge_undo(merge_id=merge_id, actor=request.user)
        return Response(merges.merge_to_dict(record))
