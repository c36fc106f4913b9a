from django.contrib import admin
from django.db.models import Count, Q

from contacts_project.admin_tools import FastChangeListMixin

from . import campaigns, services
from .models import Campaign, ContactList, PriorityRule, Segment, Task


@admin.register(ContactList)
class ContactListAdmin(FastChangeListMixin, admin.ModelAdmin):
    list_display = ("name", "member_count", "owner", "created_at")
    list_select_related = ("owner",)
    search_fields = ("name",)
    exclude = ("contacts",)
    readonly_fields = ("owner",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_members=Count("memberships"))

    @admin.display(description="members", ordering="n_members")
    def member_count(self, obj):
        return obj.n_members


@admin.register(Segment)
class SegmentAdmin(FastChangeListMixin, admin.ModelAdmin):
    list_display = ("name", "materialized", "member_count", "refreshed_at", "updated_at")
    search_fields = ("name",)
    list_filter = ("materialized",)
    readonly_fields = ("member_count", "refreshed_at", "owner")
    actions = ["refresh_now"]

    @admin.action(description="Refresh membership now")
    def refresh_now(self, request, queryset):
        for segment in queryset.filter(materialized=True):
            services.segment_refresh(segment_id=segment.pk)


@admin.register(PriorityRule)
class PriorityRuleAdmin(admin.ModelAdmin):
    list_display = ("segment", "priority", "order", "is_active")
    list_select_related = ("segment",)
    autocomplete_fields = ("segment",)


@admin.register(Task)
class TaskAdmin(FastChangeListMixin, admin.ModelAdmin):
    list_display = ("title", "kind", "contact", "assignee", "due_at", "status")
    list_select_related = ("contact", "assignee")
    list_filter = ("status", "kind")
    search_fields = ("title",)
    raw_id_fields = ("contact",)
    autocomplete_fields = ("assignee",)
    readonly_fields = ("completed_at", "reminded_at", "created_by")


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "channel", "purpose", "scheduled_at", "progress", "started_at", "finished_at")
    list_filter = ("status", "channel", "purpose")
    search_fields = ("name",)
    autocomplete_fields = ("include_lists", "include_segments", "exclude_lists", "exclude_segments")
    raw_id_fields = ("message_template",)
    readonly_fields = ("status", "status_reason", "started_at", "finished_at", "owner", "stats")
    actions = ["pause", "resume", "cancel"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            n_recipients=Count("recipients"),
            n_done=Count("recipients", filter=~Q(recipients__status="pending")))

    @admin.display(description="progress")
    def progress(self, obj):
        return f"{obj.n_done} / {obj.n_recipients}" if obj.n_recipients else "—"

    @admin.display(description="stats")
    def stats(self, obj):
        if obj.pk is None:
            return "—"
        data = campaigns.campaign_stats(campaign_id=obj.pk)
        keys = ("recipients", "skipped", "pending", "sent", "delivered", "opened", "clicked", "replied", "bounced",
                "unsubscribed", "failed")
        return ", ".join(f"{key}: {data[key]}" for key in keys)

    @admin.action(description="Pause")
    def pause(self, request, queryset):
        self._each(request, queryset, campaigns.campaign_pause)

    @admin.action(description="Resume")
    def resume(self, request, queryset):
        self._each(request, queryset, campaigns.campaign_resume)

    @admin.action(description="Cancel")
    def cancel(self, request, queryset):
        self._each(request, queryset, campaigns.campaign_cancel)

    def _each(self, request, queryset, service):
        from contacts_project.errors import ApplicationError

        for campaign in queryset:
            try:
                service(campaign_id=campaign.pk, actor=request.user)
            except ApplicationError as exc:
                self.message_user(request, f"{campaign}: {exc.detail}", level="warning")
