"""Lists, segments, tasks and call plans: parse, call a service or selector, render."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from contacts.models import scoped_by_contact
from contacts.selectors import check_contact_access, contact_to_dict
from contacts_project.db_router import replica_reads
from contacts_project.errors import InvalidInput, NotFound
from contacts_project.ids import parse_uuid
from contacts_project.schema import PROBLEM
from contacts_project.timefmt import iso_z
from contacts_project.views import ServiceViewSet

from .. import campaigns, segments, selectors, services
from ..models import Campaign, CampaignRecipient, ListJob
from .serializers import (
    CallPlanEntrySerializer,
    CampaignRecipientSerializer,
    CampaignScheduleSerializer,
    CampaignSerializer,
    ContactListSerializer,
    MembershipChangeSerializer,
    RankedContactSerializer,
    SegmentChangeSerializer,
    SegmentPreviewSerializer,
    SegmentSerializer,
    TaskCompleteSerializer,
    TaskSerializer,
)

RANKED_ORDERING = {"priority_score": "priority_score", "created_at": "created_at", "last_name": "last_name"}


def _ranked(contact) -> dict:
    return {**contact_to_dict(contact), "priority_score": round(contact.priority_score, 3)}


def _call_plan_entry(contact) -> dict:
    task = None
    if contact.next_task_id:
        task = {"id": str(contact.next_task_id), "title": contact.next_task_title,
                "due_at": iso_z(contact.next_task_due_at)}
    return {**_ranked(contact), "next_task": task}


class RankedMembersMixin:
    """GET members ordered by `?ordering=` (default: highest priority score first)."""

    @replica_reads  # heavy reads: a replica may serve them (contacts_project.db_router)
    def _members_page(self, queryset):
        self.ordering_fields_map = RANKED_ORDERING
        self.default_ordering = "-priority_score"
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response([_ranked(c) for c in page])

    @replica_reads
    def _call_plan_page(self, queryset):
        page = list(selectors.call_plan(queryset)[: min(int(self.request.query_params.get("limit", 100)), 500)])
        return Response({"results": [_call_plan_entry(c) for c in page]})


class ContactListViewSet(RankedMembersMixin, ServiceViewSet):
    """Static lists of contacts."""

    serializer_class = ContactListSerializer
    queryset = selectors.list_list()
    ordering_fields_map = {"name": "name", "created_at": "created_at"}
    default_ordering = "name"
    lookup_kwarg = "list_id"
    create_service = services.list_create
    update_service = services.list_update
    delete_service = services.list_delete
    action_permissions = {"members": "planning.change_contactlist"}

    @extend_schema(methods=["GET"], responses={200: RankedContactSerializer(many=True), 404: PROBLEM},
                   summary="The list's contacts (default order: priority score)", filters=False)
    @extend_schema(methods=["POST", "DELETE"], request=MembershipChangeSerializer,
                   responses={200: OpenApiTypes.OBJECT, 202: OpenApiTypes.OBJECT, 400: PROBLEM, 404: PROBLEM},
                   summary="Add (POST) or remove (DELETE) contacts by ids or by a filter",
                   description="Up to 10,000 ids are applied at once (200). A filter, or more ids (up to "
                               "100,000), runs as a job (202 with its URL).")
    @action(detail=True, methods=["get", "post", "delete"], url_path="contacts", filter_backends=[])
    def members(self, request, pk=None):
        if request.method == "GET":
            return self._members_page(selectors.list_contacts(list_id=pk, user=request.user))
        serializer = MembershipChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids, filter_params = serializer.validated_data.get("contact_ids"), serializer.validated_data.get("filter")
        add = request.method == "POST"
        if ids is not None and len(ids) <= services.LIST_SYNC_MAX:
            return Response(services.list_change_members(list_id=pk, add=add, contact_ids=ids, actor=request.user))
        job = services.list_job_create(list_id=pk, add=add, contact_ids=ids, filter_params=filter_params,
                                       actor=request.user)
        return Response({"job": str(job.pk), "status": job.status,
                         "url": request.build_absolute_uri(f"/api/v1/lists/{job.contact_list_id}/jobs/{job.pk}/")},
                        status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 404: PROBLEM}, summary="A membership job's progress",
                   parameters=[OpenApiParameter("job_id", str, OpenApiParameter.PATH, description="The job's id.")])
    @action(detail=True, methods=["get"], url_path=r"jobs/(?P<job_id>[^/.]+)", filter_backends=[],
            pagination_class=None)
    def job(self, request, pk=None, job_id=None):
        key, list_key = parse_uuid(job_id), parse_uuid(pk)
        job = ListJob.objects.filter(pk=key, contact_list_id=list_key).first() if key and list_key else None
        if job is None:
            raise NotFound("Job not found.")
        return Response({"id": str(job.pk), "list": str(job.contact_list_id), "add": job.add, "status": job.status,
                         "result": job.result, "error": job.error or None,
                         "created_at": job.created_at, "finished_at": job.finished_at})

    @extend_schema(responses={200: CallPlanEntrySerializer(many=True), 404: PROBLEM},
                   parameters=[OpenApiParameter("limit", int, description="At most 500 (default 100).")],
                   summary="Call plan: the list's contacts by priority with their next task")
    @action(detail=True, methods=["get"], url_path="call-plan", filter_backends=[], pagination_class=None)
    def call_plan(self, request, pk=None):
        return self._call_plan_page(selectors.list_contacts(list_id=pk, user=request.user))


class SegmentViewSet(RankedMembersMixin, ServiceViewSet):
    """Dynamic segments: rules compiled to one SQL query; optionally materialized with a join/leave history."""

    serializer_class = SegmentSerializer
    queryset = selectors.segment_list()
    ordering_fields_map = {"name": "name", "created_at": "created_at"}
    default_ordering = "name"
    lookup_kwarg = "segment_id"
    create_service = services.segment_create
    update_service = services.segment_update
    delete_service = services.segment_delete
    action_permissions = {"preview": "planning.view_segment", "refresh": "planning.change_segment"}

    @extend_schema(responses={200: RankedContactSerializer(many=True), 404: PROBLEM}, filters=False,
                   parameters=[OpenApiParameter("live", bool, description="Evaluate the rules now even if the "
                                                                           "segment is materialized.")],
                   summary="The segment's contacts")
    @action(detail=True, methods=["get"], url_path="contacts", filter_backends=[])
    def members(self, request, pk=None):
        live = request.query_params.get("live", "").lower() in ("1", "true", "yes")
        return self._members_page(selectors.segment_contacts(segment_id=pk, live=live, user=request.user))

    @extend_schema(request=SegmentPreviewSerializer,
                   responses={200: inline_serializer("SegmentPreview", {
                       "count": serializers.IntegerField(), "sample": RankedContactSerializer(many=True)}),
                       400: PROBLEM},
                   summary="Count and a sample for unsaved rules")
    @action(detail=False, methods=["post"], url_path="preview", filter_backends=[])
    @replica_reads
    def preview(self, request):
        serializer = SegmentPreviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.segment_preview(rules=serializer.validated_data["rules"], user=request.user)
        return Response({"count": result["count"], "sample": [contact_to_dict(c) for c in result["sample"]]})

    @extend_schema(parameters=[OpenApiParameter("contact", OpenApiTypes.UUID, required=True)],
                   responses={200: OpenApiTypes.OBJECT, 400: PROBLEM, 404: PROBLEM},
                   summary="Which rules a contact meets or misses")
    @action(detail=True, methods=["get"], url_path="explain", filter_backends=[], pagination_class=None)
    def explain(self, request, pk=None):
        segment = selectors.segment_get(segment_id=pk)
        contact = parse_uuid(request.query_params.get("contact"))
        if contact is None:
            raise InvalidInput.field("contact", "Give ?contact=<id>.", "required")
        check_contact_access(request.user, contact)
        result = segments.explain(segment.rules, contact, segment_id=segment.pk)
        if not result:
            raise NotFound("Contact not found.")
        return Response({"segment": str(segment.pk), "contact": str(contact), **result})

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT, 404: PROBLEM},
                   summary="Re-materialize now (joined, left, members)")
    @action(detail=True, methods=["post"], url_path="refresh", filter_backends=[])
    def refresh(self, request, pk=None):
        return Response(services.segment_refresh(segment_id=pk))

    @extend_schema(responses={200: SegmentChangeSerializer(many=True), 404: PROBLEM}, filters=False,
                   summary="Who joined and left the materialized segment, and when")
    @action(detail=True, methods=["get"], url_path="changes", filter_backends=[])
    def changes(self, request, pk=None):
        self.ordering_fields_map = {"at": "at"}
        self.default_ordering = "-at"
        page = self.paginate_queryset(selectors.segment_changes(segment_id=pk, user=request.user))
        return self.get_paginated_response(SegmentChangeSerializer(page, many=True).data)

    @extend_schema(responses={200: CallPlanEntrySerializer(many=True), 404: PROBLEM},
                   parameters=[OpenApiParameter("limit", int, description="At most 500 (default 100).")],
                   summary="Call plan: the segment's contacts by priority with their next task")
    @action(detail=True, methods=["get"], url_path="call-plan", filter_backends=[], pagination_class=None)
    def call_plan(self, request, pk=None):
        return self._call_plan_page(selectors.segment_contacts(segment_id=pk, user=request.user))


class TaskViewSet(ServiceViewSet):
    """Planning tasks: follow-ups, calls, meetings, emails, with assignee and due time."""

    serializer_class = TaskSerializer
    queryset = selectors.task_list()
    ordering_fields_map = {"due_at": "due_at", "created_at": "created_at"}
    default_ordering = "due_at"
    lookup_kwarg = "task_id"
    create_service = services.task_create
    update_service = services.task_update
    delete_service = services.task_delete
    filterset_fields = {"contact": ["exact"], "assignee": ["exact"], "status": ["exact"], "kind": ["exact"]}
    action_permissions = {"complete": "planning.change_task"}

    def get_queryset(self):
        return selectors.task_list(self.request.user)  # an unseen task is 404

    def check_write(self, instance) -> None:
        services.task_check_editable(instance, self.request.user)

    @extend_schema(parameters=[
        OpenApiParameter("mine", bool, description="Only tasks assigned to me."),
        OpenApiParameter("due", str, enum=["today", "overdue"], description="Open tasks due today, or overdue.")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        params = self.request.query_params
        if params.get("mine", "").lower() in ("1", "true", "yes"):
            queryset = queryset.filter(assignee=self.request.user)
        due = params.get("due")
        if due == "today":
            queryset = selectors.tasks_due_today(queryset)
        elif due == "overdue":
            queryset = selectors.tasks_overdue(queryset)
        elif due:
            raise InvalidInput.field("due", "due is 'today' or 'overdue'.", "invalid_choice")
        return queryset

    @extend_schema(request=TaskCompleteSerializer, responses={200: TaskSerializer, 404: PROBLEM, 409: PROBLEM},
                   summary="Close a task (done or cancelled) with its outcome")
    @action(detail=True, methods=["post"], url_path="complete", filter_backends=[])
    def complete(self, request, pk=None):
        self.get_object()  # 404 for a task the caller may not see
        serializer = TaskCompleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = services.task_complete(task_id=pk, actor=request.user, **serializer.validated_data)
        return Response(TaskSerializer(task).data)


class CampaignViewSet(ServiceViewSet):
    """Campaigns: an audience of lists and segments minus exclusions, a message template and a channel."""

    serializer_class = CampaignSerializer
    queryset = Campaign.objects.select_related("message_template")
    ordering_fields_map = {"created_at": "created_at", "name": "name"}
    default_ordering = "-created_at"
    lookup_kwarg = "campaign_id"
    create_service = campaigns.campaign_create
    update_service = campaigns.campaign_update
    delete_service = campaigns.campaign_delete
    filterset_fields = {"status": ["exact"], "channel": ["exact"]}
    action_permissions = {name: "planning.change_campaign" for name in ("schedule", "pause", "resume", "cancel")}

    @extend_schema(request=CampaignScheduleSerializer, responses={200: CampaignSerializer, 404: PROBLEM,
                                                                   409: PROBLEM},
                   summary="Schedule (draft → scheduled); a running campaign is 409")
    @action(detail=True, methods=["post"], filter_backends=[])
    def schedule(self, request, pk=None):
        serializer = CampaignScheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = campaigns.campaign_schedule(campaign_id=pk, actor=request.user,
                                               scheduled_at=serializer.validated_data.get("scheduled_at"))
        return Response(CampaignSerializer(campaign).data)

    def _transition(self, request, pk, service):
        return Response(CampaignSerializer(service(campaign_id=pk, actor=request.user)).data)

    @extend_schema(request=None, responses={200: CampaignSerializer, 404: PROBLEM, 409: PROBLEM},
                   summary="Pause between batches")
    @action(detail=True, methods=["post"], filter_backends=[])
    def pause(self, request, pk=None):
        return self._transition(request, pk, campaigns.campaign_pause)

    @extend_schema(request=None, responses={200: CampaignSerializer, 404: PROBLEM, 409: PROBLEM},
                   summary="Resume a paused campaign (a cancelled one is 409)")
    @action(detail=True, methods=["post"], filter_backends=[])
    def resume(self, request, pk=None):
        return self._transition(request, pk, campaigns.campaign_resume)

    @extend_schema(request=None, responses={200: CampaignSerializer, 404: PROBLEM, 409: PROBLEM},
                   summary="Cancel: pending recipients and unsent messages are cancelled")
    @action(detail=True, methods=["post"], filter_backends=[])
    def cancel(self, request, pk=None):
        return self._transition(request, pk, campaigns.campaign_cancel)

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 404: PROBLEM}, summary="Recipients, skipped (with "
                   "reasons), sent, delivered, opened, clicked, replied, bounced, unsubscribed, failed, rates")
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def stats(self, request, pk=None):
        return Response(campaigns.campaign_stats(campaign_id=pk))

    @extend_schema(responses={200: CampaignRecipientSerializer(many=True), 404: PROBLEM}, filters=False,
                   parameters=[OpenApiParameter("status", str)], summary="The per-recipient rows")
    @action(detail=True, methods=["get"], filter_backends=[])
    def recipients(self, request, pk=None):
        campaign = self.get_object()
        rows = scoped_by_contact(CampaignRecipient.objects.filter(campaign=campaign), request.user)
        if request.query_params.get("status"):
            rows = rows.filter(status=request.query_params["status"])
        self.ordering_fields_map = {"id": "id"}
        self.default_ordering = "id"
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(CampaignRecipientSerializer(page, many=True).data)
