from django.contrib import admin

from contacts_project.admin_tools import FastChangeListMixin

from .models import (
    Communication,
    CommunicationStatusEvent,
    ContactPreference,
    DeliveryEvent,
    FrequencyCap,
    MessageTemplate,
    QuietHours,
    Suppression,
)


class StatusEventInline(admin.TabularInline):
    model = CommunicationStatusEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "from_status", "to_status", "reason", "source", "actor")
    fields = readonly_fields


@admin.register(Communication)
class CommunicationAdmin(FastChangeListMixin, admin.ModelAdmin):
    list_display = ("id", "contact", "type", "direction", "purpose", "status", "scheduled_at", "sent_at",
                    "created_at")
    list_select_related = ("contact",)
    list_filter = ("type", "status", "direction", "purpose")
    raw_id_fields = ("contact", "created_by", "template", "in_reply_to")
    search_fields = ("subject", "provider_message_id")
    ordering = ("-created_at",)
    readonly_fields = ("status", "status_reason", "status_changed_at", "attempts", "queued_at", "sending_started_at",
                       "sent_at", "provider_message_id", "to_address")
    inlines = [StatusEventInline]


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "channel", "purpose", "is_active", "updated_at")
    list_filter = ("channel", "purpose", "is_active")
    search_fields = ("name",)


@admin.register(ContactPreference)
class ContactPreferenceAdmin(admin.ModelAdmin):
    list_display = ("contact", "channel", "purpose", "status", "source", "recorded_at")
    list_filter = ("channel", "purpose", "status")
    raw_id_fields = ("contact",)
    list_select_related = ("contact",)


@admin.register(QuietHours)
class QuietHoursAdmin(admin.ModelAdmin):
    list_display = ("contact", "start", "end", "timezone")
    raw_id_fields = ("contact",)


@admin.register(FrequencyCap)
class FrequencyCapAdmin(admin.ModelAdmin):
    list_display = ("channel", "purpose", "max_messages", "period_hours")


@admin.register(Suppression)
class SuppressionAdmin(FastChangeListMixin, admin.ModelAdmin):
    list_display = ("channel", "address", "reason", "source", "created_at")
    list_filter = ("channel", "reason")
    search_fields = ("address",)
    raw_id_fields = ("communication", "created_by")
    readonly_fields = ("address_hash",)

    def save_model(self, request, obj, form, change):
        from .policy import address_hash, normalize_address

        if obj.address:
            obj.address = normalize_address(obj.channel, obj.address)
            obj.address_hash = address_hash(obj.channel, obj.address)
        super().save_model(request, obj, form, change)


@admin.register(DeliveryEvent)
class DeliveryEventAdmin(FastChangeListMixin, admin.ModelAdmin):
    list_display = ("provider", "event_type", "communication", "occurred_at")
    list_filter = ("provider", "event_type")
    raw_id_fields = ("communication",)

from .inbound import admin as inbound_admin  # noqa: E402,F401 - registers the inbound pages
