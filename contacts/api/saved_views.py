"""Saved views: named contact filters, private to their owner or shared with everyone (`?view=<id>`)."""
from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from contacts_project.serializers import StrictSerializer
from contacts_project.views import ServiceViewSet

from .. import saved_views
from ..models import SavedView


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


class SavedViewViewSet(ServiceViewSet):
    """Named contact filters, private to their owner or shared with everyone; use them as `?view=<id>`."""

    serializer_class = SavedViewSerializer
    queryset = SavedView.objects.all()
    ordering_fields_map = {"name": "name", "created_at": "created_at"}
    default_ordering = "name"
    filter_backends = []
    permission_classes = [IsAuthenticated]  # every user may keep views; others' private ones stay invisible

    def get_queryset(self):
        return saved_views.saved_views_visible(user=self.request.user)

    def get_object(self):
        return saved_views.saved_view_get(view_id=self.kwargs.get("pk"), user=self.request.user)

    def create(self, request, *args, **kwargs):
        serializer = SavedViewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        view = saved_views.saved_view_create(data=dict(serializer.validated_data), actor=request.user)
        return Response(SavedViewSerializer(view).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        # a view the caller may not change is a 404 whatever the body
        view = saved_views.saved_view_get_writable(view_id=self.kwargs.get("pk"), user=request.user)
        serializer = SavedViewSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        view = saved_views.saved_view_update(view_id=view.pk, data=dict(serializer.validated_data),
                                             actor=request.user)
        return Response(SavedViewSerializer(view).data)

    def destroy(self, request, *args, **kwargs):
        saved_views.saved_view_delete(view_id=self.kwargs.get("pk"), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
