"""Shared django-filter pieces."""
from __future__ import annotations


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
