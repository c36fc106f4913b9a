"""Admin for received mail and SMS; the "unmatched" list is its own page."""
from django.contrib import admin
from django.db import transaction
from django.db.models import Q

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

    actions = ["process_again"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Process again (failed or unmatched messages)")
    def process_again(self, request, queryset):
        """After a fix or a new contact: the row goes back to pending and is processed by the worker."""
        from .pipeline import enqueue

        # only rows that changed nothing: failed ones were rolled back, unmatched and malformed had no effect
        ids = list(queryset.filter(Q(state="failed") | Q(state="processed", kind__in=["unmatched", "malformed"]))
                   .values_list("id", flat=True))
        InboundMessage.objects.filter(pk__in=ids).update(state="pending", error="", processed_at=None)
        transaction.on_commit(lambda: enqueue(ids))
        self.message_user(request, f"{len(ids)} message(s) queued to be processed again.")


@admin.register(UnmatchedInbound)
class UnmatchedInboundAdmin(InboundMessageAdmin):
    list_display = ("received_at", "source", "from_address", "subject", "envelope_to")
    list_filter = ("source",)


@admin.register(SoftBounce)
class SoftBounceAdmin(FastChangeListMixin, admin.ModelAdmin):
    list_display = ("at", "channel", "status", "communication")
    raw_id_fields = ("inbound", "communication")
    ordering = ("-at",)
