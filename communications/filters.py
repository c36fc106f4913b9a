"""Communication list filters; unknown query parameters are a 400, not silently ignored."""
from __future__ import annotations

import django_filters as filters

from contacts_project.errors import FieldError, InvalidInput

from .choices import Channel, CommunicationStatus, Direction, Purpose
from .models import Communication

PAGINATION_PARAMS = {"cursor", "page_size", "ordering", "format"}


class StrictFilterSet(filters.FilterSet):
    def __init__(self, data=None, *args, **kwargs):
        if data is not None:
            unknown = sorted(set(data) - set(self.base_filters) - PAGINATION_PARAMS)
            if unknown:
                raise InvalidInput(f"Unknown filter {unknown[0]!r}.", errors=[
                    FieldError(name, "unknown_filter", f"Unknown filter; use one of {sorted(self.base_filters)}.")
                    for name in unknown])
        super().__init__(data, *args, **kwargs)


class CommunicationFilter(StrictFilterSet):
    contact = filters.UUIDFilter(field_name="contact_id")
    type = filters.MultipleChoiceFilter(choices=Channel.choices, help_text="Channel; repeat for several.")
    status = filters.MultipleChoiceFilter(choices=CommunicationStatus.choices, help_text="Repeat for several.")
    direction = filters.ChoiceFilter(choices=Direction.choices)
    purpose = filters.ChoiceFilter(choices=Purpose.choices)
    campaign = filters.UUIDFilter(field_name="campaign_id")
    template = filters.UUIDFilter(field_name="template_id")
    scheduled_after = filters.IsoDateTimeFilter(field_name="scheduled_at", lookup_expr="gte")
    scheduled_before = filters.IsoDateTimeFilter(field_name="scheduled_at", lookup_expr="lt")
    sent_after = filters.IsoDateTimeFilter(field_name="sent_at", lookup_expr="gte")
    sent_before = filters.IsoDateTimeFilter(field_name="sent_at", lookup_expr="lt")
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Communication
        fields: list[str] = []
