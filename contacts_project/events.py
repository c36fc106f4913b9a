"""Domain events: services of any app `emit(event, payload)`; higher apps subscribe (webhooks, notifications).

The vocabulary is fixed: `EventType` lists every event the platform emits, and `emit` refuses any other name, so
a subscriber (and a webhook consumer) can rely on the list below. A new event is added here first.

Lives in the lowest layer so contacts, communications and planning can announce what happened without
importing the collaboration app that reacts to it. Subscribers run after the surrounding transaction
commits (nothing is announced for a write that rolled back) and one failing subscriber never blocks the
others nor the write that emitted the event.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)



class EventType(StrEnum):
    CONTACT_CREATED = "contact.created"
    CONTACT_UPDATED = "contact.updated"
    CONTACT_DELETED = "contact.deleted"
    CONTACT_MERGED = "contact.merged"
    COMMUNICATION_CREATED = "communication.created"
    COMMUNICATION_STATUS_CHANGED = "communication.status_changed"
    COMMUNICATION_REPLIED = "communication.replied"  # payload: id, reply, contact, owner, campaign, subject
    CAMPAIGN_STARTED = "campaign.started"
    CAMPAIGN_FINISHED = "campaign.finished"
    CAMPAIGN_FAILED = "campaign.failed"
    CAMPAIGN_CANCELLED = "campaign.cancelled"
    IMPORT_FINISHED = "import.finished"
    TASK_ASSIGNED = "task.assigned"  # payload: task_id, actor_id
    TASK_DUE = "task.due"  # payload: task_id


Subscriber = Callable[[str, dict[str, Any]], None]
SUBSCRIBERS: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> None:
    if subscriber not in SUBSCRIBERS:
        SUBSCRIBERS.append(subscriber)


def deliver(event: str, payload: dict[str, Any]) -> None:
    for subscriber in list(SUBSCRIBERS):
        try:
            subscriber(event, payload)
        except Exception:  # noqa: BLE001 - a subscriber's failure must not undo or block the write
            logger.exception("event subscriber failed", extra={"event": event})


def emit(event: EventType | str, payload: dict[str, Any]) -> None:
    """Announce `event` once the current transaction commits (immediately when there is none)."""
    event = EventType(event)  # ValueError for a name outside the vocabulary
    if not SUBSCRIBERS:
        return
    transaction.on_commit(lambda: deliver(str(event), payload))
