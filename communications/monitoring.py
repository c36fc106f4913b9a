"""What communications adds to `/metrics` and `/health/ready/` (registered in `CommunicationsConfig.ready`)."""
from __future__ import annotations

from django.conf import settings
from django.db.models import Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from contacts_project.metrics import send_queue_tasks

from .choices import CommunicationStatus
from .models import Communication


def dispatcher_lag_seconds() -> float:
    """Age of the oldest communication that is due but still `scheduled` (0 when none is waiting)."""
    now = timezone.now()
    oldest = Communication.objects.filter(status=CommunicationStatus.SCHEDULED, scheduled_at__lte=now) \
        .aggregate(oldest=Min("scheduled_at"))["oldest"]
    return max(0.0, (now - oldest).total_seconds()) if oldest else 0.0


def dispatcher_lag_gauges():
    lag = GaugeMetricFamily("contacts_dispatcher_lag_seconds",
                            "Age of the oldest due communication still waiting to be queued")
    lag.add_metric([], dispatcher_lag_seconds())
    yield lag


def check_dispatcher() -> dict:
    lag = dispatcher_lag_seconds()
    limit = settings.HEALTH_DISPATCH_LAG_MAX
    result = {"ok": lag <= limit, "lag_seconds": round(lag, 1), "max_lag_seconds": limit}
    # a backlog waits as `scheduled` while the send queue holds the in-flight cap: late messages with sends
    # waiting in the queue mean busy workers (see `worker` for dead ones), not a stalled dispatcher
    if lag > limit and send_queue_tasks():
        result.update(ok=True, sending_backlog=True)
    return result
