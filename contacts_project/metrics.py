"""Prometheus metrics shared by the apps (exposed on /metrics)."""
from prometheus_client import Counter

CACHE_EVENTS = Counter("contacts_cache_events_total", "Cache-aside lookups by outcome", ["outcome"])
