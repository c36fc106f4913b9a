from django.contrib import admin

from .models import Attachment, Note, Notification, WebhookDelivery, WebhookSubscription


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ("__str__", "author", "contact", "organization", "campaign", "created_at")
    list_select_related = ("author", "contact", "organization", "campaign")
    raw_id_fields = ("contact", "organization", "campaign", "parent", "author")


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ("filename", "content_type", "size", "contact", "organization", "note", "created_at")
    raw_id_fields = ("contact", "organization", "note", "uploaded_by")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("title", "user", "kind", "created_at", "read_at")
    list_filter = ("kind",)
    raw_id_fields = ("user",)


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("url", "owner", "is_active", "consecutive_failures", "disabled_at", "created_at")
    list_filter = ("is_active",)
    readonly_fields = ("secret",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "subscription", "event", "status", "attempts", "response_code", "created_at")
    list_filter = ("status", "event")
    raw_id_fields = ("subscription",)
