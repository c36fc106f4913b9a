"""Bulk actions over a contact filter or an id list: start one (a background job), list yours, follow one."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts_project.pagination import KeysetCursorPagination
from contacts_project.schema import PROBLEM
from contacts_project.serializers import StrictSerializer

from .. import bulk


class BulkActionSerializer(StrictSerializer):
    action = serializers.ChoiceField(choices=bulk.ACTIONS)
    params = serializers.DictField(required=False, default=dict, help_text="The action's parameters.")
    filter = serializers.DictField(required=False, help_text="Contact list filters (query parameters, `q`, "
                                                             "`view`), e.g. {\"status\": \"active\"}.")
    ids = serializers.ListField(child=serializers.CharField(), required=False, help_text="Contact ids.")
    confirm = serializers.BooleanField(required=False, default=False,
                                       help_text="Needed when the action targets more than the threshold.")


class BulkActionListView(APIView):
    write_permission = "contacts.change_contact"

    @extend_schema(request=BulkActionSerializer, responses={202: OpenApiTypes.OBJECT, 400: PROBLEM},
                   summary="Start a bulk action over a filter or an id list (a background job)")
    def post(self, request):
        serializer = BulkActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        job = bulk.bulk_action_start(action=data["action"], params=data["params"], filter=data.get("filter"),
                                     ids=data.get("ids"), confirm=data["confirm"], actor=request.user)
        body = bulk.bulk_action_to_dict(job)
        return Response(body, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": f"/api/v1/contacts/actions/{job.pk}/"})

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="Your bulk actions, newest first")
    def get(self, request):
        self.ordering_fields_map = {"created_at": "created_at"}
        self.default_ordering = "-created_at"
        queryset = bulk.BulkAction.objects.defer("contact_ids")
        if not request.user.is_superuser:
            queryset = queryset.filter(created_by=request.user)
        paginator = KeysetCursorPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response([bulk.bulk_action_to_dict(job) for job in page])


class BulkActionDetailView(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT, 404: PROBLEM},
                   summary="Progress and result report of a bulk action")
    def get(self, request, job_id):
        return Response(bulk.bulk_action_to_dict(bulk.bulk_action_get(job_id=job_id, user=request.user)))
