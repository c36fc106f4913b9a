"""Communication endpoints: parse, call a service or selector, render."""
from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts import selectors as contact_selectors
from contacts.models import Contact
from contacts_project.schema import PROBLEM
from contacts_project.views import ScopedViewMixin, scoped

from .. import selectors, services
from ..filters import CommunicationFilter
from ..models import Communication
from .serializers import (
    CommunicationCreateSerializer,
    CommunicationSerializer,
    CommunicationStatusSerializer,
    CommunicationUpdateSerializer,
    ConsentPreferenceSerializer,
    DeliveryEventSerializer,
    MessageTemplatePartialSerializer,
    MessageTemplateSerializer,
    PreferencesUpdateSerializer,
    PreviewRequestSerializer,
    PreviewSerializer,
    StatusEventSerializer,
    SuppressionCreateSerializer,
    SuppressionSerializer,
)


@extend_schema_view(
    list=extend_schema(summary="Communications across contacts, newest first",
                       description="Filters combine with AND; `type` and `status` may repeat."),
    retrieve=extend_schema(summary="A communication", responses={200: CommunicationSerializer, 404: PROBLEM}),
    create=extend_schema(summary="Create (schedule) a message or log a call, meeting, note or inbound message",
                         description="Outbound email/SMS are written as `scheduled` (or `draft`) and sent by the "
                                     "dispatcher; nothing is sent during the request.",
                         request=CommunicationCreateSerializer,
                         responses={201: CommunicationSerializer, 400: PROBLEM}),
    partial_update=extend_schema(summary="Edit a draft or scheduled message (or reschedule it)",
                                 request=CommunicationUpdateSerializer,
                                 responses={200: CommunicationSerializer, 400: PROBLEM, 409: PROBLEM}),
    destroy=extend_schema(summary="Delete a draft, a cancelled message or a logged communication",
                          responses={204: None, 409: PROBLEM}),
)
class CommunicationViewSet(ScopedViewMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = CommunicationSerializer
    queryset = selectors.communication_list()
    filter_backends = [DjangoFilterBackend]
    filterset_class = CommunicationFilter
    ordering_fields_map = {"created_at": "created_at"}
    default_ordering = "-created_at"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    action_permissions = {"status_change": "communications.change_communication"}

    def retrieve(self, request, pk=None):
        comm = selectors.communication_get(communication_id=pk, user=request.user)
        return Response(CommunicationSerializer(comm).data)

    def create(self, request):
        serializer = CommunicationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        comm = services.communication_create(data=dict(serializer.validated_data), actor=request.user)
        return Response(CommunicationSerializer(comm).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        serializer = CommunicationUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        comm = services.communication_update(communication_id=pk, data=dict(serializer.validated_data),
                                             actor=request.user)
        return Response(CommunicationSerializer(comm).data)

    def destroy(self, request, pk=None):
        services.communication_delete(communication_id=pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=CommunicationStatusSerializer,
                   responses={200: CommunicationSerializer, 400: PROBLEM, 404: PROBLEM, 409: PROBLEM},
                   summary="Change a communication's status (cancel, reschedule, mark replied, ...)",
                   description="Follows the transition table in docs/communications.md; anything else is 409. "
                               "`queued`, `sending` and `sent` are set by the dispatcher only.")
    @action(detail=True, methods=["post"], url_path="status", url_name="status", filter_backends=[])
    def status_change(self, request, pk=None):
        comm = selectors.communication_get(communication_id=pk, user=request.user)  # 404/403 before the body
        contact_selectors.check_contact_access(request.user, comm.contact_id, write=True)
        serializer = CommunicationStatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        comm = services.communication_update_status(communication_id=pk, actor=request.user,
                                                    **serializer.validated_data)
        return Response(CommunicationSerializer(comm).data)

    @extend_schema(summary="Status timeline and delivery events of a communication", filters=False,
                   responses={200: inline_serializer("CommunicationTimeline", {
                       "status_events": StatusEventSerializer(many=True),
                       "delivery_events": DeliveryEventSerializer(many=True)}), 404: PROBLEM})
    @action(detail=True, methods=["get"], url_path="events", filter_backends=[], pagination_class=None)
    def events(self, request, pk=None):
        timeline = selectors.communication_timeline(communication_id=pk, user=request.user)
        return Response({"status_events": StatusEventSerializer(timeline["status_events"], many=True).data,
                         "delivery_events": DeliveryEventSerializer(timeline["delivery_events"], many=True).data})


class ContactCommunicationsView(ScopedViewMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = CommunicationSerializer
    contact_queryset = Contact.objects.all()
    ordering_fields_map = {"created_at": "created_at"}
    default_ordering = "-created_at"
    filter_backends: list = []

    @scoped
    def get_queryset(self):
        return Communication.objects.filter(contact_id=self.scoped_contact().pk)

    @extend_schema(summary="A contact's communication history, newest first")
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


PREFERENCES_RESPONSE = inline_serializer("ContactPreferences", {
    "contact": serializers.UUIDField(),
    "preferences": ConsentPreferenceSerializer(many=True),
    "quiet_hours": inline_serializer("QuietHoursOut", {"start": serializers.CharField(),
                                                       "end": serializers.CharField(),
                                                       "timezone": serializers.CharField()}, allow_null=True),
    "suppressions": inline_serializer("SuppressionBrief", {"channel": serializers.CharField(),
                                                           "reason": serializers.CharField(),
                                                           "created_at": serializers.DateTimeField()}, many=True),
    "engagement_score_now": serializers.FloatField(help_text="The stored score decayed to now."),
})


def _preferences_body(contact_id) -> dict:
    data = selectors.contact_preferences(contact_id=contact_id)
    data["preferences"] = ConsentPreferenceSerializer(data["preferences"], many=True).data
    return data


class ContactPreferencesView(APIView):
    """Consent per channel and purpose with its proof, quiet hours and suppression state."""

    write_permission = "communications.change_contactpreference"

    @extend_schema(summary="A contact's communication preferences and consent", responses={200: PREFERENCES_RESPONSE,
                                                                                           404: PROBLEM})
    def get(self, request, contact_id):
        contact_selectors.check_contact_access(request.user, contact_id)
        return Response(_preferences_body(contact_id))

    @extend_schema(summary="Record consent (with its proof) and quiet hours",
                   description="Each entry sets one channel/purpose pair; pairs not given keep their state. "
                               "The request's IP address and the authenticated client are stored as proof.",
                   request=PreferencesUpdateSerializer, responses={200: PREFERENCES_RESPONSE, 400: PROBLEM,
                                                                   404: PROBLEM})
    def put(self, request, contact_id):
        contact_selectors.check_contact_access(request.user, contact_id, write=True)
        serializer = PreferencesUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "quiet_hours" in request.data and request.data["quiet_hours"] is None:
            data["quiet_hours"] = None
        elif "quiet_hours" not in request.data:
            data.pop("quiet_hours", None)
        auth = type(request.successful_authenticator).__name__.removesuffix("Authentication").lower() \
            if request.successful_authenticator else "session"
        services.preferences_update(contact_id=contact_id, data=data, actor=request.user,
                                    ip_address=request.META.get("REMOTE_ADDR"),
                                    api_client=f"{request.user.get_username()} ({auth})")
        return Response(_preferences_body(contact_id))


@extend_schema_view(
    list=extend_schema(summary="Message templates"),
    retrieve=extend_schema(summary="A message template", responses={200: MessageTemplateSerializer, 404: PROBLEM}),
    create=extend_schema(summary="Create a message template", description="Merge fields are checked now: an "
                         "unknown one is a 400 naming the field (subject, text_body or html_body).",
                         request=MessageTemplateSerializer, responses={201: MessageTemplateSerializer, 400: PROBLEM}),
    update=extend_schema(request=MessageTemplateSerializer, responses={200: MessageTemplateSerializer, 400: PROBLEM}),
    partial_update=extend_schema(request=MessageTemplatePartialSerializer,
                                 responses={200: MessageTemplateSerializer, 400: PROBLEM}),
    destroy=extend_schema(responses={204: None, 409: PROBLEM}),
)
class MessageTemplateViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = MessageTemplateSerializer
    queryset = selectors.message_template_list()
    ordering_fields_map = {"created_at": "created_at"}
    default_ordering = "-created_at"
    filter_backends: list = []
    action_permissions = {"preview": "communications.view_messagetemplate"}

    def retrieve(self, request, pk=None):
        return Response(MessageTemplateSerializer(selectors.message_template_get(template_id=pk)).data)

    def create(self, request):
        serializer = MessageTemplateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = services.message_template_create(data=dict(serializer.validated_data), actor=request.user)
        return Response(MessageTemplateSerializer(template).data, status=status.HTTP_201_CREATED)

    def update(self, request, pk=None, partial=False):
        serializer = (MessageTemplatePartialSerializer if partial else MessageTemplateSerializer)(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = services.message_template_update(template_id=pk, data=dict(serializer.validated_data),
                                                    actor=request.user)
        return Response(MessageTemplateSerializer(template).data)

    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    def destroy(self, request, pk=None):
        services.message_template_delete(template_id=pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=PreviewRequestSerializer, responses={200: PreviewSerializer, 400: PROBLEM, 404: PROBLEM},
                   summary="Render the template for a contact (nothing is sent)")
    @action(detail=True, methods=["post"], url_path="preview")
    def preview(self, request, pk=None):
        serializer = PreviewRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(services.message_template_preview(template_id=pk, actor=request.user,
                                                          contact_id=serializer.validated_data["contact"]))


@extend_schema_view(
    list=extend_schema(summary="The suppression list (bounces, complaints, unsubscribes, manual)"),
    create=extend_schema(summary="Suppress an address", request=SuppressionCreateSerializer,
                         responses={201: SuppressionSerializer, 200: SuppressionSerializer, 400: PROBLEM}),
    destroy=extend_schema(summary="Lift a suppression", responses={204: None, 404: PROBLEM}),
)
class SuppressionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = SuppressionSerializer
    queryset = selectors.suppression_list()
    ordering_fields_map = {"created_at": "created_at"}
    default_ordering = "-created_at"
    filter_backends = [DjangoFilterBackend]
    filterset_fields = {"channel": ["exact"], "reason": ["exact"]}
    http_method_names = ["get", "post", "delete", "head", "options"]

    def create(self, request):
        serializer = SuppressionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        suppression, created = services.suppression_add(source="api", actor=request.user,
                                                        **serializer.validated_data)
        return Response(SuppressionSerializer(suppression).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def destroy(self, request, pk=None):
        services.suppression_remove(suppression_id=pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
