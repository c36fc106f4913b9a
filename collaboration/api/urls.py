from django.urls import path

from . import views as v

urlpatterns = [
    path("notes/", v.NoteListView.as_view(), name="notes"),
    path("notes/<str:note_id>/", v.NoteDetailView.as_view(), name="note-detail"),
    path("notes/<str:note_id>/history/", v.NoteHistoryView.as_view(), name="note-history"),
    path("contacts/<uuid_text:contact_id>/activity/", v.ContactActivityView.as_view(), name="contact-activity"),
    path("attachments/", v.AttachmentListView.as_view(), name="attachments"),
    path("attachments/download/<str:token>/", v.AttachmentDownloadView.as_view(), name="attachment-download"),
    path("attachments/<str:attachment_id>/", v.AttachmentDetailView.as_view(), name="attachment-detail"),
    path("notifications/", v.NotificationListView.as_view(), name="notifications"),
    path("notifications/unread-count/", v.UnreadCountView.as_view(), name="notifications-unread-count"),
    path("notifications/read-all/", v.NotificationReadAllView.as_view(), name="notifications-read-all"),
    path("notifications/preferences/", v.PreferencesView.as_view(), name="notification-preferences"),
    path("notifications/<str:notification_id>/read/", v.NotificationReadView.as_view(), name="notification-read"),
    path("webhooks/", v.WebhookListView.as_view(), name="webhooks"),
    path("webhooks/events/", v.WebhookEventsView.as_view(), name="webhook-events"),
    path("webhooks/<str:webhook_id>/", v.WebhookDetailView.as_view(), name="webhook-detail"),
    path("webhooks/<str:webhook_id>/rotate-secret/", v.WebhookRotateView.as_view(), name="webhook-rotate"),
    path("webhooks/<str:webhook_id>/deliveries/", v.WebhookDeliveriesView.as_view(), name="webhook-deliveries"),
    path("webhooks/<str:webhook_id>/deliveries/<str:delivery_id>/", v.WebhookDeliveryDetailView.as_view(),
         name="webhook-delivery"),
    path("webhooks/<str:webhook_id>/deliveries/<str:delivery_id>/replay/", v.WebhookReplayView.as_view(),
         name="webhook-replay"),
]
