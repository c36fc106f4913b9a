"""Shared django-filter pieces."""
from __future__ import annotations

import datetime as dt

from django import forms
from django_filters import filters as django_filters
from django_filters.fields import IsoDateTimeField


class UTCIsoDateTimeField(IsoDateTimeField):
    """ISO 8601 date-times converted to UTC before they reach PostgreSQL, which refuses offsets beyond
    ±15:59 (a DataError that would abort the transaction); a value that leaves the calendar once converted
    is a 400 like any other malformed date."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError:
            raise forms.ValidationError("The date-time is out of range.", code="invalid")


# every IsoDateTimeFilter of every app (contacts, communications, planning, …) parses with it
django_filters.IsoDateTimeFilter.field_class = UTCIsoDateTimeField


class OnlyGivenFiltersMixin:
    """Build only the filters a request names.

    django-filter deep-copies every declared filter and builds a form field for each on every request;
    with dozens of filters (contact fields, custom fields, ranges, `q`) that was most of a list request's
    Python time. Filters that are not in the query string do nothing anyway. The class-level
    `base_filters` stay complete (the OpenAPI schema and unknown-parameter checks read them).
    """

    def __init__(self, data=None, *args, **kwargs):
        if data is not None:
            self.base_filters = {name: f for name, f in type(self).base_filters.items() if name in data}
        super().__init__(data, *args, **kwargs)
