"""Field rules shared by every way a contact is written (API, admin, bulk, import)."""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

import orjson
import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from contacts_project.errors import Errors, InvalidInput

from .choices import CustomFieldType

_LOCALE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
CUSTOM_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
MAX_CUSTOM_FIELDS_BYTES = 16 * 1024




def normalize_phone(raw: str, region: str | None = None) -> str:
    """E.164, or ValueError with the reason. Numbers without a country code take DEFAULT_PHONE_REGION."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    try:
        number = phonenumbers.parse(raw, region or settings.DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"Not a phone number: {exc}") from exc
    if not phonenumbers.is_possible_number(number):
        raise ValueError("Not a possible phone number (check the digits and the country code).")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    value = (raw or "").strip()
    if not value:
        return ""
    validate_email(value)  # raises ValidationError
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def check_timezone(value: str) -> str:
    if not value:
        return ""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, IsADirectoryError):
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Paris).")
    return value


def check_locale(value: str) -> str:
    if value and not _LOCALE.match(value):
        raise ValueError(f"{value!r} is not a locale tag (e.g. fr-FR).")
    return value


def normalize_tags(values: Any) -> list[str]:
    if not isinstance(values, (list, tuple)):
        raise ValueError("Tags are a list of strings.")
    out: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise ValueError("Tags are a list of strings.")
        tag = value.strip().lower()
        if not tag:
            continue
        if len(tag) > 50:
            raise ValueError("A tag has at most 50 characters.")
        if tag not in out:
            out.append(tag)
    return out


def _coerce_custom(definition: dict, value: Any) -> Any:
    kind = definition.get("type", CustomFieldType.STRING)
    if value is None:
        return None
    if kind == CustomFieldType.STRING:
        if not isinstance(value, str):
            raise ValueError("Expected text.")
        return value
    if kind == CustomFieldType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("Expected a number.")
        return value
    if kind == CustomFieldType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("Expected a whole number.")
        return value
    if kind == CustomFieldType.BOOLEAN:
        if not isinstance(value, bool):
            raise ValueError("Expected true or false.")
        return value
    if kind == CustomFieldType.DATE:
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise ValueError("Expected a date as YYYY-MM-DD.")
    if kind == CustomFieldType.CHOICE:
        choices = definition.get("choices") or []
        if value not in choices:
            raise ValueError(f"Expected one of {choices}.")
        return value
    raise ValueError(f"Unknown custom field type {kind!r}.")  # pragma: no cover - definitions are validated


def validate_custom_fields(values: Any, definitions: list[dict] | None, errors: Errors,
                           *, require: bool = True) -> dict:
    """Custom fields checked against a template's definitions (or, without one, any flat JSON object)."""
    if values in (None, ""):
        values = {}
    if not isinstance(values, dict):
        errors.add("custom_fields", "Custom fields are a JSON object of key: value.", "invalid")
        return {}
    if len(orjson.dumps(values)) > MAX_CUSTOM_FIELDS_BYTES:
        errors.add("custom_fields", f"Custom fields take at most {MAX_CUSTOM_FIELDS_BYTES} bytes.", "too_large")
        return {}
    out: dict = {}
    if definitions is None:
        for key, value in values.items():
            if not CUSTOM_KEY.match(str(key)):
                errors.add(f"custom_fields.{key}", "Keys are lower-case letters, digits and _ (start with a letter).",
                           "invalid_key")
            elif isinstance(value, (dict, list)):
                errors.add(f"custom_fields.{key}", "Values are text, numbers, booleans or null.", "invalid")
            else:
                out[key] = value
        return out
    by_key = {d["key"]: d for d in definitions}
    for key, value in values.items():
        definition = by_key.get(key)
        if definition is None:
            errors.add(f"custom_fields.{key}", f"Not a custom field of this template; known: {sorted(by_key)}.",
                       "unknown_field")
            continue
        try:
            out[key] = _coerce_custom(definition, value)
        except ValueError as exc:
            errors.add(f"custom_fields.{key}", str(exc), "invalid")
    if require:
        for key, definition in by_key.items():
            if definition.get("required") and out.get(key) in (None, ""):
                if f"custom_fields.{key}" not in {e.field.removeprefix(errors.prefix) for e in errors.items}:
                    errors.add(f"custom_fields.{key}", "This custom field is required.", "required")
    return out


def validate_custom_field_definitions(definitions: Any) -> list[dict]:
    """A template's custom-field definitions: [{key, label, type, required, choices}]."""
    errors = Errors()
    if not isinstance(definitions, list):
        raise InvalidInput.field("custom_fields", "Custom-field definitions are a list of objects.")
    out, seen = [], set()
    types = set(CustomFieldType.values)
    for index, item in enumerate(definitions):
        where = f"custom_fields[{index}]"
        if not isinstance(item, dict):
            errors.add(where, "Each definition is an object with key, type and optional label, required, choices.")
            continue
        unknown = set(item) - {"key", "label", "type", "required", "choices", "help_text"}
        if unknown:
            errors.add(where, f"Unknown keys {sorted(unknown)}.", "unknown_field")
        key = item.get("key")
        if not isinstance(key, str) or not CUSTOM_KEY.match(key):
            errors.add(f"{where}.key", "Keys are lower-case letters, digits and _ (start with a letter).",
                       "invalid_key")
            continue
        if key in seen:
            errors.add(f"{where}.key", f"Duplicate key {key!r}.", "unique")
        seen.add(key)
        kind = item.get("type", "string")
        if kind not in types:
            errors.add(f"{where}.type", f"Type must be one of {sorted(types)}.", "invalid_choice")
        choices = item.get("choices")
        if kind == CustomFieldType.CHOICE and (not isinstance(choices, list) or not choices):
            errors.add(f"{where}.choices", "A choice field needs a non-empty list of choices.", "required")
        if not isinstance(item.get("required", False), bool):
            errors.add(f"{where}.required", "Expected true or false.")
        out.append({"key": key, "label": str(item.get("label") or key), "type": kind,
                    "required": bool(item.get("required", False)), **({"choices": choices} if choices else {}),
                    **({"help_text": str(item["help_text"])} if item.get("help_text") else {})})
    errors.raise_if_any()
    return out


def contains_nul(value: Any) -> bool:
    """True if a text anywhere in the value holds U+0000, which PostgreSQL text and jsonb cannot store."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(contains_nul(v) for v in value)
    return False


def reject_nul(key: str, value: Any, errors: Errors) -> bool:
    """Add a 400 for a value holding U+0000 (instead of a database error); True if it did."""
    if contains_nul(value):
        errors.add(key, "Null characters are not allowed.", "null_characters_not_allowed")
        return True
    return False


def email_error(exc: ValidationError) -> str:
    return " ".join(exc.messages) or "Enter a valid email address."
