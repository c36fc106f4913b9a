from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets

from .. import selectors
from .serializers import CommunicationSerializer


class CommunicationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Communication history across contacts (newest first)."""

    serializer_class = CommunicationSerializer
    queryset = selectors.communication_list()
    ordering_fields_map = {"created_at": "created_at", "scheduled_at": "scheduled_at"}
    default_ordering = "-created_at"
    filterset_fields = {"contact": ["exact"], "type": ["exact"], "status": ["exact"], "direction": ["exact"]}


class ContactCommunicationsView(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = CommunicationSerializer
    ordering_fields_map = {"created_at": "created_at"}
    default_ordering = "-created_at"
    filter_backends: list = []

    def get_queryset(self):
        return selectors.get_contact_communications(contact_id=self.kwargs["contact_id"])

    @extend_schema(summary="A contact's communication history, newest first")
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)
