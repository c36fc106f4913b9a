"""Domain events: services of any app `emit(event, payload)`; higher apps subscribe (webhooks, notifications).

Lives in the lowest layer so contacts, communications and planning can announce what happened without
importing the collaboration app that reacts to it. Subscribers run after the surrounding transaction
commits (nothing is announced for a write that rolled back) and one failing subscriber never blocks the
others nor the write that emitted the event.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

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


def emit(event: str, payload: dict[str, Any]) -> None:
    """Announce `event` once the current transaction commits (immediately when there is none)."""
    if not SUBSCRIBERS:
        return
    transaction.on_commit(lambda: deliver(event, payload))
