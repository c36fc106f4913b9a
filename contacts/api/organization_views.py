"""Organization tools (issue 4): trees, reports, tags, bulk actions, organization merge and saved views."""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts_project.audit import audited
from contacts_project.errors import InvalidInput, NotFound
from contacts_project.ids import parse_uuid
from contacts_project.pagination import KeysetCursorPagination
from contacts_project.serializers import StrictSerializer
from contacts_project.views import ServiceViewSet

from .. import bulk, hierarchy, tags
from ..models import SavedView
from ..organization_services import organization_merge

PROBLEM = OpenApiResponse(description="Problem details (RFC 9457) naming each bad field.")


def _int_param(request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput.field(name, f"{name} must be a whole number.")
    if not low <= value <= high:
        raise InvalidInput.field(name, f"{name} must be between {low} and {high}.")
    return value


def _reject_unknown_params(request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise InvalidInput.field(unknown[0], f"Unknown query parameter {unknown[0]!r}.", "unknown_filter")


# --------------------------------------------------------------------------- hierarchy
class OrganizationTreeView(APIView):
    """Ancestors (root first) and the subtree of an organization, each node with its contact count."""

    @extend_schema(parameters=[OpenApiParameter("depth", int, description="Levels below the organization "
                                                                             "(default: all).")],
                   responses={200: OpenApiTypes.OBJECT, 404: PROBLEM}, summary="An organization's tree")
    def get(self, request, organization_id):
        _reject_unknown_params(request, {"depth"})
        depth = _int_param(request, "depth", None, 0, hierarchy.MAX_DEPTH)
        return Response(hierarchy.organization_tree(organization_id=organization_id, max_depth=depth))


class OrganizationMergeSerializer(StrictSerializer):
    other = serializers.UUIDField(help_text="The organization merged into this one (and then deleted).")


class OrganizationMergeView(APIView):
    write_permission = "organization.delete_organization"

    @extend_schema(request=OrganizationMergeSerializer, summary="Merge another organization into this one",
                   responses={200: inline_serializer("OrganizationMerged", {
                       "organization": serializers.UUIDField(), "merged": serializers.UUIDField(),
                       "contacts": serializers.IntegerField(), "groups": serializers.IntegerField(),
                       "children": serializers.IntegerField()}), 400: PROBLEM, 404: PROBLEM, 409: PROBLEM})
    def post(self, request, organization_id):
        serializer = OrganizationMergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(organization_merge(organization_id=organization_id,
                                           other_id=serializer.validated_data["other"], actor=request.user))


class ContactReportsView(APIView):
    """Direct (depth 1) and indirect reports of a contact, through `reports_to`."""

    @extend_schema(parameters=[OpenApiParameter("max_depth", int, description="1 for direct reports only.")],
                   responses={200: OpenApiTypes.OBJECT, 404: PROBLEM}, summary="A contact's reports")
    def get(self, request, contact_id):
        _reject_unknown_params(request, {"max_depth"})
        depth = _int_param(request, "max_depth", None, 1, hierarchy.MAX_DEPTH)
        return Response(hierarchy.contact_reports(contact_id=contact_id, max_depth=depth))


# --------------------------------------------------------------------------- tags
class TagListView(APIView):
    @extend_schema(parameters=[OpenApiParameter("prefix", str), OpenApiParameter("limit", int)],
                   responses={200: inline_serializer("TagCounts", {"results": inline_serializer("TagCount", {
                       "tag": serializers.CharField(), "count": serializers.IntegerField()}, many=True)})},
                   summary="Tags with their contact counts, most used first")
    def get(self, request):
        _reject_unknown_params(request, {"prefix", "limit"})
        limit = _int_param(request, "limit", 1000, 1, 10000)
        return Response({"results": tags.tag_counts(prefix=request.query_params.get("prefix", ""), limit=limit)})


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
        return Response(tags.tag_merge(actor=request.user, **serializer.validated_data))


# --------------------------------------------------------------------------- bulk actions
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


# --------------------------------------------------------------------------- saved views
class SavedViewSerializer(StrictSerializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(max_length=100)
    shared = serializers.BooleanField(required=False, default=False)
    params = serializers.DictField(required=False, default=dict,
                                   help_text="Contact list filters as query parameters.")
    q = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
    owner = serializers.IntegerField(source="owner_id", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


def _check_view_filters(params: dict, q: str, user) -> None:
    """A saved view must be a valid filter now: the same checks as the contact list (400 on `params.<name>`)."""
    if "view" in params:
        raise InvalidInput.field("params.view", "A saved view cannot use another saved view.", "invalid")
    data = {**params, **({"q": q} if q else {})}
    queryset = bulk.filter_queryset(data, user=user)
    str(queryset.query)  # compiles every condition, so `q` errors surface now


class SavedViewViewSet(ServiceViewSet):
    """Named contact filters, private to their owner or shared with everyone; use them as `?view=<id>`."""

    serializer_class = SavedViewSerializer
    queryset = SavedView.objects.all()
    ordering_fields_map = {"name": "name", "created_at": "created_at"}
    default_ordering = "name"
    filter_backends = []
    permission_classes = [IsAuthenticated]  # every user may keep views; others' private ones stay invisible

    def get_queryset(self):
        user = self.request.user
        return SavedView.objects.filter(Q(shared=True) | Q(owner_id=user.pk))

    def get_object(self):
        key = parse_uuid(self.kwargs.get("pk"))
        view = self.get_queryset().filter(pk=key).first() if key else None
        if view is None:
            raise NotFound("Saved view not found.")
        return view

    def _writable(self, view: SavedView) -> SavedView:
        user = self.request.user
        if view.owner_id != user.pk and not user.is_superuser:
            raise NotFound("Saved view not found.")  # shared views are read-only for others
        return view

    def _save(self, view: SavedView, data: dict, action: str) -> SavedView:
        data = {**data}
        if "params" in data or "q" in data:
            _check_view_filters(data.get("params", view.params or {}), data.get("q", view.q), self.request.user)
        for key, value in data.items():
            setattr(view, key, value)
        try:
            with transaction.atomic(), audited(self.request.user, action):
                view.save()
        except IntegrityError:
            raise InvalidInput.field("name", "You already have a saved view with this name.", "unique")
        return view

    def create(self, request, *args, **kwargs):
        serializer = SavedViewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        view = self._save(SavedView(owner=request.user), dict(serializer.validated_data), "saved_view.create")
        return Response(SavedViewSerializer(view).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        view = self._writable(self.get_object())
        serializer = SavedViewSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        view = self._save(view, dict(serializer.validated_data), "saved_view.update")
        return Response(SavedViewSerializer(view).data)

    def destroy(self, request, *args, **kwargs):
        view = self._writable(self.get_object())
        with transaction.atomic(), audited(request.user, "saved_view.delete"):
            view.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

