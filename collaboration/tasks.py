"""Celery tasks of the collaboration app: webhook delivery with retries, the retry sweep, the email digest."""
from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from . import services

logger = logging.getLogger(__name__)


@shared_task(name="collaboration.deliver_webhook", acks_late=True)
def deliver_webhook(delivery_id: str) -> str | None:
    """One attempt; the claim (conditional UPDATE) makes a duplicate task a no-op. A failure schedules the
    next attempt itself (exponential backoff) and the sweep picks up any retry whose task was lost."""
    return services.webhook_attempt(delivery_id=delivery_id)


@shared_task(name="collaboration.sweep_webhooks", expires=60)
def sweep_webhooks() -> int:
    return services.webhook_sweep()


@shared_task(name="collaboration.send_digests")
def send_digests() -> int:
    """Daily: one email per user who asked for it, listing the unread notifications since the last digest,
    sent through the communications email channel. The digest time is claimed first (conditional UPDATE)
    so two beats never send the same digest twice."""
    from communications.channels import OutboundMessage, get_backend

    from .models import Notification, NotificationPreference

    now = timezone.now()
    due_before = now - dt.timedelta(hours=settings.NOTIFICATION_DIGEST_HOURS) + dt.timedelta(minutes=5)
    sent = 0
    candidates = NotificationPreference.objects.filter(email_digest=True).filter(
        Q(last_digest_at__isnull=True) | Q(last_digest_at__lt=due_before)).select_related("user")
    backend = None
    for pref in candidates[:1000]:
        since = pref.last_digest_at
        if not NotificationPreference.objects.filter(pk=pref.pk, last_digest_at=since).update(last_digest_at=now):
            continue  # another beat took this one
        unread = Notification.objects.filter(user_id=pref.user_id, read_at__isnull=True)
        if since is not None:
            unread = unread.filter(created_at__gt=since)
        items = list(unread.order_by("-created_at")[:50])
        if not items or not pref.user.email:
            continue
        lines = [f"- {n.title}" + (f": {n.body[:200]}" if n.body else "") for n in items]
        text = (f"You have {len(items)} unread notification(s):\n\n" + "\n".join(lines)
                + f"\n\nSee them all: {settings.PUBLIC_BASE_URL}/api/v1/notifications/?unread=true\n")
        backend = backend or get_backend("email")
        try:
            backend.send(OutboundMessage(channel="email", to=pref.user.email, subject="Your notifications",
                                         text=text, from_address=settings.DEFAULT_FROM_EMAIL,
                                         reference=f"digest-{pref.user_id}-{int(now.timestamp())}"))
            sent += 1
        except Exception:  # noqa: BLE001 - one bad address must not stop the other digests
            logger.exception("notification digest failed", extra={"user": pref.user_id})
    return sent
