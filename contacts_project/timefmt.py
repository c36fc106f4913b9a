"""How the API writes times: ISO 8601 with `Z` for UTC, the form every response uses."""
from __future__ import annotations

import datetime as dt


def iso_z(value: dt.datetime | dt.date | None) -> str | None:
    """`2026-01-02T03:04:05.678Z`, or None for no value."""
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")
