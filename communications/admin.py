from django.contrib import admin

from contacts_project.admin_tools import FastChangeListMixin

from .models import Communication


@admin.register(Communication)
class CommunicationAdmin(FastChangeListMixin, admin.ModelAdmin):
    list_display = ("id", "contact", "type", "direction", "status", "scheduled_at", "sent_at", "created_at")
    list_select_related = ("contact",)
    list_filter = ("type", "status", "direction")
    raw_id_fields = ("contact", "created_by")
    search_fields = ("subject", "provider_message_id")
    ordering = ("-created_at",)
