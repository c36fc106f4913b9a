"""Query parameter checks shared by the contact tool endpoints: unknown parameters and bounded integers are a
400 naming the parameter."""
from __future__ import annotations

from contacts_project.errors import InvalidInput


def int_param(request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput.field(name, f"{name} must be a whole number.")
    if not low <= value <= high:
        raise InvalidInput.field(name, f"{name} must be between {low} and {high}.")
    return value


def reject_unknown_params(request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise InvalidInput.field(unknown[0], f"Unknown query parameter {unknown[0]!r}.", "unknown_filter")
