from django.db import models


class ContactStatus(models.TextChoices):
    NEW = "new", "New"
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    ARCHIVED = "archived", "Archived"


# The lifecycle: anything not listed (and any move back to `new`) is a 409.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    ContactStatus.NEW: frozenset({ContactStatus.ACTIVE, ContactStatus.INACTIVE, ContactStatus.ARCHIVED}),
    ContactStatus.ACTIVE: frozenset({ContactStatus.INACTIVE, ContactStatus.ARCHIVED}),
    ContactStatus.INACTIVE: frozenset({ContactStatus.ACTIVE, ContactStatus.ARCHIVED}),
    ContactStatus.ARCHIVED: frozenset({ContactStatus.ACTIVE}),
}


class Priority(models.IntegerChoices):
    LOW = 0, "Low"
    NORMAL = 1, "Normal"
    HIGH = 2, "High"
    URGENT = 3, "Urgent"


class CustomFieldType(models.TextChoices):
    STRING = "string", "Text"
    NUMBER = "number", "Number"
    INTEGER = "integer", "Whole number"
    BOOLEAN = "boolean", "Yes/no"
    DATE = "date", "Date"
    CHOICE = "choice", "One of a list"
