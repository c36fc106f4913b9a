"""Admin for received mail and SMS; the "unmatched" list is its own page."""
from django.contrib import admin

from contacts_project.admin_tools import FastChangeListMixin

from .models import InboundMessage, SoftBounce, UnmatchedInbound

READONLY = ("id", "source", "message_id", "content_hash", "size", "envelope_from", "envelope_to", "received_at",
            "state", "kind", "subject", "from_address", "communication", "contact", "logged_as", "detail", "error",
            "processed_at", "raw_purged_at", "reply_sent_at")


@admin.register(InboundMessage)
class InboundMessageAdmin(FastChangeListMixin, admin.ModelAdmin):
    list_display = ("received_at", "source", "kind", "state", "from_address", "subject", "communication")
    list_filter = ("source", "kind", "state")
    search_fields = ("message_id", "from_address")
    ordering = ("-received_at",)
    readonly_fields = READONLY
    exclude = ("raw",)

    def has_add_permission(self, request):
        return False


@admin.register(UnmatchedInbound)
class UnmatchedInboundAdmin(InboundMessageAdmin):
    list_display = ("received_at", "source", "from_address", "subject", "envelope_to")
    list_filter = ("source",)


@admin.register(SoftBounce)
class SoftBounceAdmin(FastChangeListMixin, admin.ModelAdmin):
    list_display = ("at", "channel", "status", "communication")
    raw_id_fields = ("inbound", "communication")
    ordering = ("-at",)
