"""Collaboration endpoints: parse, call a service or selector, render."""
from __future__ import annotations

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts_project.errors import InvalidInput
from contacts_project.pagination import PagedView
from contacts_project.pagination import page_of as _page
from contacts_project.permissions import SIGNED_IN
from contacts_project.schema import PROBLEM

from .. import selectors, services
from ..choices import WebhookEvent
from ..models import Attachment, Note, WebhookSubscription
from . import serializers as s


# --------------------------------------------------------------------------- notes
class NoteListView(PagedView):
    queryset = Note.objects.none()  # names the model whose permissions writes need
    default_ordering = "created_at"

    @extend_schema(responses={200: _page(s.NoteSerializer), 400: PROBLEM, 404: PROBLEM}, operation_id="notes_list",
                   parameters=[OpenApiParameter(n, str) for n in ("contact", "organization", "campaign", "parent")],
                   summary="Notes and comments of one contact, organization or campaign (or replies to a note)")
    def get(self, request):
        params = request.query_params
        queryset = selectors.note_list(user=request.user, **{k: params.get(k) for k in (
            "contact", "organization", "campaign", "parent")})
        return self.paginated(request, queryset, lambda rows: s.NoteSerializer(rows, many=True).data)

    @extend_schema(request=s.NoteCreateSerializer, responses={201: s.NoteSerializer, 400: PROBLEM},
                   summary="Write a note (or reply to one with `parent`); @username mentions notify the user")
    def post(self, request):
        serializer = s.NoteCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = services.note_create(data=dict(serializer.validated_data), actor=request.user)
        return Response(s.NoteSerializer(selectors.note_get(note_id=note.pk, user=request.user)).data,
                        status=status.HTTP_201_CREATED)


class NoteDetailView(APIView):
    queryset = Note.objects.none()

    @extend_schema(responses={200: s.NoteSerializer, 404: PROBLEM}, summary="A note")
    def get(self, request, note_id):
        return Response(s.NoteSerializer(selectors.note_get(note_id=note_id, user=request.user)).data)

    @extend_schema(request=s.NoteUpdateSerializer, responses={200: s.NoteSerializer, 400: PROBLEM, 403: PROBLEM},
                   summary="Edit a note (its author or an admin); every version is kept")
    def patch(self, request, note_id):
        serializer = s.NoteUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.note_update(note_id=note_id, data=dict(serializer.validated_data), actor=request.user)
        return Response(s.NoteSerializer(selectors.note_get(note_id=note_id, user=request.user)).data)

    @extend_schema(responses={204: None, 403: PROBLEM, 404: PROBLEM}, summary="Delete a note and its replies")
    def delete(self, request, note_id):
        services.note_delete(note_id=note_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class NoteHistoryView(APIView):
    @extend_schema(responses={200: s.NoteVersionSerializer(many=True), 404: PROBLEM},
                   summary="Edit history: every version of the note, newest first")
    def get(self, request, note_id):
        return Response(selectors.note_history(note_id=note_id, user=request.user))


class ContactActivityView(APIView):
    @extend_schema(responses={200: _page(s.ActivitySerializer), 400: PROBLEM, 404: PROBLEM},
                   parameters=[OpenApiParameter("cursor", str), OpenApiParameter("page_size", int),
                               OpenApiParameter("kind", str, description="Comma-separated kinds to keep: "
                                                + ", ".join(selectors.FEED_KINDS))],
                   summary="The contact's activity: communications, notes, files, tasks, status changes, imports")
    def get(self, request, contact_id):
        params = request.query_params
        try:
            size = min(max(int(params.get("page_size", 50)), 1), 500)
        except ValueError:
            raise InvalidInput.field("page_size", "page_size must be a whole number.")
        kinds = [k for k in params.get("kind", "").split(",") if k]
        bad = [k for k in kinds if k not in selectors.FEED_KINDS]
        if bad:
            raise InvalidInput.field("kind", f"Unknown kinds {bad}; choose from {list(selectors.FEED_KINDS)}.",
                                     "invalid_choice")
        items, cursor = selectors.contact_activity(contact_id=contact_id, user=request.user,
                                                   cursor=params.get("cursor"), limit=size, kinds=kinds or None)
        next_url = None
        if cursor:
            from rest_framework.utils.urls import replace_query_param

            next_url = replace_query_param(request.build_absolute_uri(), "cursor", cursor)
        return Response({"next": next_url, "previous": None, "results": items})


# --------------------------------------------------------------------------- attachments
def _attachment_context(request):
    def download_url(attachment):
        token = selectors.download_token(attachment, request.user)
        return request.build_absolute_uri(reverse("attachment-download", args=[token]))
    return {"download_url": download_url}


class AttachmentListView(PagedView):
    queryset = Attachment.objects.none()

    @extend_schema(responses={200: _page(s.AttachmentSerializer), 400: PROBLEM, 404: PROBLEM},
                   operation_id="attachments_list",
                   parameters=[OpenApiParameter(n, str) for n in ("contact", "organization", "note")],
                   summary="Files of one contact, organization or note, each with a signed download link")
    def get(self, request):
        params = request.query_params
        queryset = selectors.attachment_list(user=request.user, **{k: params.get(k) for k in (
            "contact", "organization", "note")})
        context = _attachment_context(request)
        return self.paginated(request, queryset,
                              lambda rows: s.AttachmentSerializer(rows, many=True, context=context).data)

    @extend_schema(request={"multipart/form-data": s.AttachmentUploadSerializer},
                   responses={201: s.AttachmentSerializer, 400: PROBLEM, 413: PROBLEM},
                   summary="Upload a file (multipart `file`) to a contact, organization or note")
    def post(self, request):
        serializer = s.AttachmentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        upload = data.pop("file", None)
        attachment = services.attachment_create(upload=upload, data=data, actor=request.user)
        return Response(s.AttachmentSerializer(attachment, context=_attachment_context(request)).data,
                        status=status.HTTP_201_CREATED)


class AttachmentDetailView(APIView):
    queryset = Attachment.objects.none()

    @extend_schema(responses={200: s.AttachmentSerializer, 404: PROBLEM}, summary="A file's details and link")
    def get(self, request, attachment_id):
        attachment = selectors.attachment_get(attachment_id=attachment_id, user=request.user)
        return Response(s.AttachmentSerializer(attachment, context=_attachment_context(request)).data)

    @extend_schema(responses={204: None, 403: PROBLEM, 404: PROBLEM}, summary="Delete a file")
    def delete(self, request, attachment_id):
        services.attachment_delete(attachment_id=attachment_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AttachmentDownloadView(APIView):
    """The signed link is the credential (so it works from a browser or an email); it names the user whose
    right to see the file is checked again on every download, and it expires."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={(200, "application/octet-stream"): bytes, 404: PROBLEM}, auth=[],
                   summary="Download a file through a signed, expiring link")
    def get(self, request, token):
        attachment = selectors.attachment_for_download(token=token)
        response = FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.filename,
                                content_type=attachment.content_type)
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response


# --------------------------------------------------------------------------- notifications
class NotificationListView(PagedView):
    @extend_schema(responses={200: _page(s.NotificationSerializer)},
                   parameters=[OpenApiParameter("unread", bool), OpenApiParameter("kind", str)],
                   summary="Your notifications, newest first")
    def get(self, request):
        raw = request.query_params.get("unread")
        unread = {"true": True, "1": True, "false": False, "0": False}.get(raw) if raw else None
        if raw and unread is None:
            raise InvalidInput.field("unread", "Expected true or false.")
        queryset = selectors.notification_list(user=request.user, unread=unread,
                                               kind=request.query_params.get("kind"))
        return self.paginated(request, queryset, lambda rows: s.NotificationSerializer(rows, many=True).data)


class UnreadCountView(APIView):
    @extend_schema(responses={200: inline_serializer("UnreadCount", {"unread": serializers.IntegerField()})},
                   summary="How many notifications are unread")
    def get(self, request):
        return Response({"unread": selectors.unread_count(user=request.user)})


class NotificationReadView(APIView):
    write_permission = SIGNED_IN  # one's own notifications
    @extend_schema(request=None, responses={200: s.NotificationSerializer, 404: PROBLEM}, summary="Mark read")
    def post(self, request, notification_id):
        note = services.notification_mark_read(user=request.user, notification_id=notification_id)
        return Response(s.NotificationSerializer(note).data)


class NotificationReadAllView(APIView):
    write_permission = SIGNED_IN  # one's own notifications
    @extend_schema(request=None, summary="Mark every notification read",
                   responses={200: inline_serializer("MarkedRead", {"marked": serializers.IntegerField()})})
    def post(self, request):
        return Response({"marked": services.notification_mark_all_read(user=request.user)})


class PreferencesView(APIView):
    write_permission = SIGNED_IN  # one's own preferences
    @extend_schema(responses={200: s.PreferenceSerializer}, summary="Your notification preferences")
    def get(self, request):
        pref = services.preferences_get(user=request.user)
        return Response({"muted_kinds": pref.muted_kinds, "email_digest": pref.email_digest})

    @extend_schema(request=s.PreferenceSerializer, responses={200: s.PreferenceSerializer, 400: PROBLEM},
                   summary="Mute kinds of notification; ask for a daily email digest")
    def put(self, request):
        serializer = s.PreferenceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pref = services.preferences_update(user=request.user, data=dict(serializer.validated_data))
        return Response({"muted_kinds": pref.muted_kinds, "email_digest": pref.email_digest})

    patch = put


# --------------------------------------------------------------------------- webhooks
class WebhookListView(PagedView):
    queryset = WebhookSubscription.objects.none()

    @extend_schema(responses={200: _page(s.WebhookSerializer)}, summary="Webhook subscriptions",
                   operation_id="webhooks_list")
    def get(self, request):
        return self.paginated(request, selectors.webhook_list(user=request.user),
                              lambda rows: s.WebhookSerializer(rows, many=True).data)

    @extend_schema(request=s.WebhookWriteSerializer, responses={201: s.WebhookWithSecretSerializer, 400: PROBLEM},
                   summary="Subscribe a URL to events (the response holds the signing secret)")
    def post(self, request):
        serializer = s.WebhookWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription = services.webhook_create(data=dict(serializer.validated_data), actor=request.user)
        return Response(s.WebhookWithSecretSerializer(subscription).data, status=status.HTTP_201_CREATED)


class WebhookEventsView(APIView):
    @extend_schema(responses={200: inline_serializer("WebhookEvents", {"events": serializers.ListField()})},
                   summary="The event types a subscription can name")
    def get(self, request):
        return Response({"events": [{"type": value, "label": label} for value, label in WebhookEvent.choices]})


class WebhookDetailView(APIView):
    queryset = WebhookSubscription.objects.none()

    @extend_schema(responses={200: s.WebhookWithSecretSerializer, 404: PROBLEM}, summary="A subscription")
    def get(self, request, webhook_id):
        return Response(s.WebhookWithSecretSerializer(selectors.webhook_get(webhook_id=webhook_id,
                                                                           user=request.user)).data)

    @extend_schema(request=s.WebhookWriteSerializer, responses={200: s.WebhookSerializer, 400: PROBLEM},
                   summary="Change a subscription; `is_active: true` re-enables a disabled one")
    def patch(self, request, webhook_id):
        serializer = s.WebhookWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        subscription = services.webhook_update(webhook_id=webhook_id, data=dict(serializer.validated_data),
                                               actor=request.user)
        return Response(s.WebhookSerializer(subscription).data)

    @extend_schema(responses={204: None, 404: PROBLEM}, summary="Delete a subscription and its log")
    def delete(self, request, webhook_id):
        services.webhook_delete(webhook_id=webhook_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateView(APIView):
    write_permission = "collaboration.change_webhooksubscription"

    @extend_schema(request=None, responses={200: s.WebhookWithSecretSerializer, 404: PROBLEM},
                   summary="Replace the signing secret")
    def post(self, request, webhook_id):
        subscription = services.webhook_rotate_secret(webhook_id=webhook_id, actor=request.user)
        return Response(s.WebhookWithSecretSerializer(subscription).data)


class WebhookDeliveriesView(PagedView):
    @extend_schema(responses={200: _page(s.DeliverySerializer), 404: PROBLEM},
                   operation_id="webhooks_deliveries_list",
                   parameters=[OpenApiParameter("status", str)], summary="The delivery log, newest first")
    def get(self, request, webhook_id):
        queryset = selectors.webhook_deliveries(webhook_id=webhook_id, user=request.user,
                                                status=request.query_params.get("status"))
        return self.paginated(request, queryset, lambda rows: s.DeliverySerializer(rows, many=True).data)


class WebhookDeliveryDetailView(APIView):
    @extend_schema(responses={200: s.DeliveryDetailSerializer, 404: PROBLEM},
                   summary="A delivery with its payload and every attempt's response code")
    def get(self, request, webhook_id, delivery_id):
        delivery, attempts = selectors.webhook_delivery_get(webhook_id=webhook_id, delivery_id=delivery_id,
                                                            user=request.user)
        data = s.DeliverySerializer(delivery).data
        data["payload"] = delivery.payload
        data["attempt_log"] = s.AttemptSerializer(attempts, many=True).data
        return Response(data)


class WebhookReplayView(APIView):
    write_permission = "collaboration.change_webhooksubscription"

    @extend_schema(request=None, responses={202: s.DeliverySerializer, 404: PROBLEM, 409: PROBLEM},
                   summary="Send a delivery again now (same webhook-id)")
    def post(self, request, webhook_id, delivery_id):
        delivery = services.webhook_delivery_replay(webhook_id=webhook_id, delivery_id=delivery_id,
                                                    actor=request.user)
        return Response(s.DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
