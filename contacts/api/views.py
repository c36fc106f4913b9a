"""Contact, group, template and report endpoints: parse, call a service or selector, render."""
from __future__ import annotations

import datetime as dt
import hashlib

from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from contacts_project import cache
from contacts_project.db_router import replica_reads
from contacts_project.errors import InvalidInput, NotFound
from contacts_project.ids import UUID_PATTERN, parse_uuid
from contacts_project.schema import PROBLEM
from contacts_project.views import ServiceViewSet
from organization.models import Organization

from .. import selectors, services
from ..filters import ContactFilter
from .serializers import (
    ContactBulkSerializer,
    ContactSerializer,
    ContactTemplateSerializer,
    ContactUpdateSerializer,
    GroupMembersSerializer,
    GroupSerializer,
    HistoryEntrySerializer,
    ReportQuerySerializer,
    StatusChangeSerializer,
)

CONTACT_ORDERING = {"created_at": "created_at", "updated_at": "updated_at", "last_name": "last_name"}


def _page(serializer_cls, many=True):
    return inline_serializer(
        name=f"Paginated{serializer_cls.__name__.removesuffix('Serializer')}List",
        fields={"next": serializers.URLField(allow_null=True), "previous": serializers.URLField(allow_null=True),
                "results": serializer_cls(many=many)},
    )


@extend_schema_view(
    list=extend_schema(summary="List contacts", description="Cursor-paginated; filters combine with AND."),
    create=extend_schema(summary="Create a contact", responses={201: ContactSerializer, 400: PROBLEM}),
    retrieve=extend_schema(summary="A contact (served from the cache when warm)", responses={200: ContactSerializer,
                                                                                         404: PROBLEM}),
    update=extend_schema(summary="Replace a contact", request=ContactUpdateSerializer,
                         responses={200: ContactSerializer, 400: PROBLEM, 409: PROBLEM}),
    partial_update=extend_schema(summary="Update some fields", request=ContactUpdateSerializer,
                                 responses={200: ContactSerializer, 400: PROBLEM, 409: PROBLEM}),
    destroy=extend_schema(summary="Delete a contact", responses={204: None, 404: PROBLEM}),
)
class ContactViewSet(ServiceViewSet):
    serializer_class = ContactSerializer
    lookup_value_regex = UUID_PATTERN  # `contacts/imports/`, `contacts/actions/`… are never read as ids
    queryset = selectors.contact_list()
    filter_backends = [DjangoFilterBackend]
    filterset_class = ContactFilter
    ordering_fields_map = CONTACT_ORDERING
    default_ordering = "-created_at"
    action_permissions = {"status_change": "contacts.change_contact", "bulk": "contacts.add_contact"}

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return ContactUpdateSerializer
        return ContactSerializer

    @replica_reads  # lists and search: a replica may serve them (contacts_project.db_router)
    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(selectors.contact_list(request.user))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response([selectors.contact_to_dict(c) for c in page])

    def retrieve(self, request, pk=None):
        return Response(selectors.contact_get_details(contact_id=pk, user=request.user))

    def create(self, request, *args, **kwargs):
        # on_duplicate (query parameter or body field): create|skip|update|reject, see dataquality.duplicates
        body = request.data.copy() if hasattr(request.data, "copy") else request.data
        policy = body.pop("on_duplicate", None) if isinstance(body, dict) else None
        policy = services.parse_create_policy(policy or request.query_params.get("on_duplicate"))
        serializer = ContactSerializer(data=body)
        serializer.is_valid(raise_exception=True)
        contact, created = services.contact_create_with_policy(data=dict(serializer.validated_data), policy=policy,
                                                               actor=request.user)
        if not created:  # an existing contact (duplicate policy): read back with its categories and groups
            contact = selectors.contact_get(contact_id=contact.pk)
        # a new one is rendered as written: the service set its category ids, it has no groups yet
        return Response(selectors.contact_to_dict(contact),
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def update(self, request, pk=None, partial=False):
        selectors.check_contact_access(request.user, pk, write=True)
        serializer = ContactUpdateSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        if not partial:
            missing = {"first_name", "last_name"} - set(serializer.validated_data)
            if missing == {"first_name", "last_name"}:
                raise InvalidInput.field("first_name", "PUT replaces the contact: give at least a first or last name.",
                                         "required")
        contact = services.contact_update(contact_id=pk, data=dict(serializer.validated_data), actor=request.user,
                                          replace=not partial)
        return Response(selectors.contact_to_dict(contact))  # locked with its ids, written: no read-back

    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    def destroy(self, request, pk=None):
        selectors.check_contact_access(request.user, pk, write=True)
        services.contact_delete(contact_id=pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=StatusChangeSerializer, responses={200: ContactSerializer, 400: PROBLEM, 404: PROBLEM,
                                                               409: PROBLEM},
                   summary="Move a contact along its lifecycle",
                   description="Allowed: new→active|inactive|archived, active→inactive|archived, "
                               "inactive→active|archived, archived→active. Anything else is 409.")
    @action(detail=True, methods=["post"], url_path="status", url_name="status")
    def status_change(self, request, pk=None):
        selectors.check_contact_access(request.user, pk, write=True)
        serializer = StatusChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contact = services.contact_update_status(contact_id=pk, actor=request.user, **serializer.validated_data)
        return Response(selectors.contact_to_dict(contact))  # locked with its ids, written: no read-back

    @extend_schema(responses={200: _page(HistoryEntrySerializer), 404: PROBLEM}, filters=False,
                   parameters=[OpenApiParameter("cursor", str), OpenApiParameter("page_size", int)],
                   summary="Audit trail: who, when, which fields, before and after")
    @action(detail=True, methods=["get"], url_path="history", pagination_class=None, filter_backends=[])
    def history(self, request, pk=None):
        selectors.check_contact_access(request.user, pk)
        before = request.query_params.get("cursor")
        try:
            before = int(before) if before else None
            size = min(max(int(request.query_params.get("page_size", 50)), 1), 500)
        except ValueError:
            raise InvalidInput.field("cursor", "Invalid cursor or page_size.")
        rows, cursor = selectors.contact_history(contact_id=pk, before=before, limit=size)
        next_url = None
        if cursor:
            next_url = replace_query_param(request.build_absolute_uri(), "cursor", cursor)
        return Response({"next": next_url, "previous": None, "results": rows})

    @extend_schema(request=ContactBulkSerializer, summary="Create up to 1,000 contacts, all or nothing",
                   responses={201: inline_serializer("BulkCreated", {"created": serializers.IntegerField(),
                                                                     "results": ContactSerializer(many=True)}),
                              400: PROBLEM, 413: PROBLEM})
    @action(detail=False, methods=["post"], url_path="bulk", filter_backends=[])
    def bulk(self, request):
        serializer = ContactBulkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contacts = services.contact_bulk_create(rows=serializer.validated_data["contacts"], actor=request.user)
        # one query reads them back with their categories, in the order they were given
        by_id = {c.pk: c for c in selectors.contact_base().filter(pk__in=[c.pk for c in contacts])}
        return Response({"created": len(contacts),
                         "results": [selectors.contact_to_dict(by_id[c.pk]) for c in contacts]},
                        status=status.HTTP_201_CREATED)


@extend_schema_view(
    create=extend_schema(responses={201: GroupSerializer, 400: PROBLEM}),
    destroy=extend_schema(responses={204: None, 404: PROBLEM}),
)
class GroupViewSet(ServiceViewSet):
    serializer_class = GroupSerializer
    queryset = selectors.group_list()
    ordering_fields_map = {"created_at": "created_at", "name": "name"}
    default_ordering = "name"
    lookup_kwarg = "group_id"
    create_service = services.group_create
    update_service = services.group_update
    delete_service = services.group_delete
    filterset_fields = {"organization": ["exact"]}
    action_permissions = {"members": "contacts.change_contactgroup"}

    @extend_schema(methods=["GET"], responses={200: ContactSerializer(many=True), 404: PROBLEM},
                   summary="The group's contacts", filters=False)
    @extend_schema(methods=["POST", "DELETE"], request=GroupMembersSerializer,
                   responses={200: inline_serializer("MembershipChange", {"added": serializers.IntegerField(),
                                                                           "removed": serializers.IntegerField(),
                                                                           "group": serializers.UUIDField()}),
                              400: PROBLEM, 404: PROBLEM},
                   summary="Add (POST) or remove (DELETE) up to 10,000 contacts; one unknown id changes nothing")
    @action(detail=True, methods=["get", "post", "delete"], url_path="contacts", filter_backends=[])
    def members(self, request, pk=None):
        if request.method == "GET":
            queryset = selectors.group_contacts(group_id=pk, user=request.user)
            self.ordering_fields_map = CONTACT_ORDERING
            self.default_ordering = "-created_at"
            page = self.paginate_queryset(queryset)
            return self.get_paginated_response([selectors.contact_to_dict(c) for c in page])
        serializer = GroupMembersSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = serializer.validated_data["contact_ids"]
        if request.method == "POST":
            result = services.group_update_contacts(group_id=pk, add=ids, actor=request.user)
        else:
            result = services.group_update_contacts(group_id=pk, remove=ids, actor=request.user)
        return Response(result)


class OrganizationGroupsView(generics.ListAPIView):
    """The groups of an organization: those that belong to it or hold its contacts."""

    serializer_class = GroupSerializer
    filter_backends: list = []
    ordering_fields_map = {"name": "name", "created_at": "created_at"}
    default_ordering = "name"

    def get_queryset(self):
        key = parse_uuid(self.kwargs["organization_id"])
        if key is None or not Organization.objects.filter(pk=key).exists():
            raise NotFound("Organization not found.")
        return selectors.organization_groups(organization_id=key)

    @extend_schema(responses={200: GroupSerializer(many=True), 404: PROBLEM}, summary="An organization's groups")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class TemplateViewSet(ServiceViewSet):
    """Contact templates: default values, required fields and custom-field definitions for a type."""

    serializer_class = ContactTemplateSerializer
    queryset = selectors.template_list()
    ordering_fields_map = {"created_at": "created_at", "name": "name"}
    default_ordering = "name"
    lookup_kwarg = "template_id"
    create_service = services.template_create
    update_service = services.template_update
    delete_service = services.template_delete


class ContactReportView(APIView):
    """Counts by status, type, organization and owner, and new contacts per day, week or month."""

    filter_backends = [DjangoFilterBackend]
    filterset_class = ContactFilter

    @extend_schema(
        parameters=[ReportQuerySerializer],
        responses={200: OpenApiTypes.OBJECT, 400: PROBLEM},
        summary="Contact report (same filters as the contact list)",
    )
    @replica_reads
    def get(self, request):
        query = ReportQuerySerializer(data={k: v for k, v in request.query_params.items()
                                            if k in ("period", "start", "end")})
        query.is_valid(raise_exception=True)
        end = query.validated_data.get("end") or timezone.now()
        start = query.validated_data.get("start") or end - dt.timedelta(days=30)
        if start >= end:
            raise InvalidInput.field("start", "start must be before end.")
        filter_params = request.query_params.copy()
        for name in ("period", "start", "end"):
            filter_params.pop(name, None)
        filterset = ContactFilter(filter_params, queryset=selectors.contact_list(request.user), request=request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        # the counts depend on what the caller may see: the key carries their scope (visibility)
        scope = "all" if selectors.sees_all(request.user) else f"user:{request.user.pk}"
        digest = hashlib.sha1(f"{scope} {request.get_full_path()}".encode()).hexdigest()

        def build():
            return selectors.contact_report(contacts=filterset.qs, period=query.validated_data["period"],
                                            start=start, end=end)

        # reports tolerate a minute of staleness; the key carries the query, so filters never mix
        return Response(cache.get_or_build(cache.key("report", "contacts", digest), build, 60))
